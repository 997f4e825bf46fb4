//! Turns user input into DER: binary DER/BER as is, PEM (any label, several blocks), or bare
//! base64 as browser signing plug-ins return it.

use base64ct::{Base64, Encoding};

/// The binary blocks in `input`, in order. `None` if it is neither binary ASN.1 nor valid
/// PEM/base64.
pub(crate) fn blocks(input: &[u8]) -> Option<Vec<Vec<u8>>> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let first = *input.iter().find(|b| !b.is_ascii_whitespace())?;
    if first == 0x30 {
        // Binary: a SEQUENCE. Leading whitespace never precedes real DER.
        return (input[0] == 0x30).then(|| vec![input.to_vec()]);
    }
    let text = std::str::from_utf8(input).ok()?;
    if text.contains("-----BEGIN") { pem_blocks(text) } else { Some(vec![base64(text.lines())?]) }
}

fn pem_blocks(text: &str) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if !line.starts_with("-----BEGIN ") {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("-----END "))
            // RFC 1421 headers ("Proc-Type: …") and the blank line after them.
            .filter(|l| !l.contains(':'))
            .collect();
        out.push(base64(body.into_iter())?);
    }
    (!out.is_empty()).then_some(out)
}

fn base64<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Vec<u8>> {
    let joined: String =
        lines.flat_map(|l| l.chars()).filter(|c| !c.is_ascii_whitespace()).collect();
    if joined.is_empty() {
        return None;
    }
    Base64::decode_vec(&joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_pem_and_bare_base64() {
        assert_eq!(blocks(&[0x30, 0x00]).unwrap(), vec![vec![0x30, 0x00]]);
        let pem = "junk\r\n-----BEGIN CMS-----\r\nMAA=\r\n-----END CMS-----\r\n\
                   -----BEGIN CERTIFICATE-----\nMAED\n-----END CERTIFICATE-----\n";
        assert_eq!(blocks(pem.as_bytes()).unwrap(), vec![vec![0x30, 0x00], vec![0x30, 0x01, 0x03]]);
        assert_eq!(blocks(b" MA\nA= \n").unwrap(), vec![vec![0x30, 0x00]]);
        assert!(blocks(b"not base64 at all!").is_none());
        assert!(blocks(b"").is_none());
        assert!(blocks(b"-----BEGIN CMS-----\n-----END CMS-----\n").is_none());
    }
}
