//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP).
//!
//! Written here rather than taken from `totp-rs`/`totp-lite`: those pin the previous
//! RustCrypto generation (`hmac` 0.12, `sha1`/`sha2` 0.10), which would put a second copy
//! of the MAC stack into the build for forty lines of arithmetic. The RFC's own test
//! vectors are the tests.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};

/// The hash under the HMAC. Authenticator apps use SHA-1 by default; the others exist
/// for the RFC 6238 vectors and for `otpauth://` URIs that ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// The period of a code, in seconds (the authenticator-app standard).
pub const STEP: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The HOTP value of `counter` with `digits` digits (RFC 4226 §5.3).
pub fn hotp(algorithm: Algorithm, secret: &[u8], counter: u64, digits: u32) -> u32 {
    let msg = counter.to_be_bytes();
    let digest: Vec<u8> = match algorithm {
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, &msg),
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(secret, &msg),
        Algorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(secret, &msg),
    };
    // Dynamic truncation: the low nibble of the last byte picks four bytes.
    let offset = usize::from(digest.last().copied().unwrap_or(0) & 0x0f);
    let word = digest
        .get(offset..offset + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
    word % 10u32.pow(digits)
}

fn mac<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The time step of a Unix time (seconds).
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP)
}

/// The TOTP code of a step, as the six digits a person types.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let value = hotp(Algorithm::Sha1, secret, u64::try_from(step).unwrap_or(0), DIGITS);
    format!("{value:06}")
}

/// Which step in `now_step - 1 ..= now_step + 1` (one step of clock drift either way)
/// the typed `code` belongs to, if any. Steps at or before `last_used` are refused, so a
/// code cannot be used twice.
pub fn verify(secret: &[u8], code: &str, now_step: i64, last_used: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (now_step - 1..=now_step + 1)
        .filter(|step| last_used.is_none_or(|last| *step > last))
        .find(|step| same(&code_at_step(secret, *step), &code))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let bytes: [u8; SECRET_LEN] = rand::random();
    bytes.to_vec()
}

/// The secret as Base32 (what authenticator apps take).
pub fn encode(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The Base32 secret in groups of four for typing by hand: «ABCD EFGH …».
pub fn grouped(secret: &[u8]) -> String {
    let text = encode(secret);
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// Decodes a Base32 secret (spaces and lower case allowed).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let clean: String =
        text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    BASE32_NOPAD.decode(clean.trim_end_matches('=').as_bytes()).ok()
}

/// The `otpauth://` URI an authenticator app scans (Key Uri Format).
pub fn otpauth_uri(issuer: &str, label: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(label),
        encode(secret),
        enc(issuer)
    )
}

/// The URI as an SVG QR code (inline in the page; nothing leaves the server).
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 Appendix B: the seeds are the ASCII digits "1234567890" repeated to the
    // hash's length.
    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let vectors: [(i64, u32, u32, u32); 6] = [
            (59, 94_287_082, 46_119_246, 90_693_936),
            (1_111_111_109, 7_081_804, 68_084_774, 25_091_201),
            (1_111_111_111, 14_050_471, 67_062_674, 99_943_326),
            (1_234_567_890, 89_005_924, 91_819_424, 93_441_116),
            (2_000_000_000, 69_279_037, 90_698_825, 38_618_901),
            (20_000_000_000, 65_353_130, 77_737_706, 47_863_826),
        ];
        for (time, sha1, sha256, sha512) in vectors {
            let counter = u64::try_from(step_of(time)).unwrap();
            assert_eq!(hotp(Algorithm::Sha1, SHA1_SEED, counter, 8), sha1, "SHA1 at {time}");
            assert_eq!(hotp(Algorithm::Sha256, SHA256_SEED, counter, 8), sha256, "SHA256 {time}");
            assert_eq!(hotp(Algorithm::Sha512, SHA512_SEED, counter, 8), sha512, "SHA512 {time}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp(Algorithm::Sha1, SHA1_SEED, counter as u64, 6), want);
        }
    }

    #[test]
    fn one_step_of_drift_is_accepted_and_a_used_step_is_not() {
        let secret = SHA1_SEED;
        let now = step_of(1_234_567_890);
        let previous = code_at_step(secret, now - 1);
        let next = code_at_step(secret, now + 1);
        let too_old = code_at_step(secret, now - 2);
        assert_eq!(verify(secret, &previous, now, None), Some(now - 1));
        assert_eq!(verify(secret, &next, now, None), Some(now + 1));
        assert_eq!(verify(secret, &too_old, now, None), None);
        let current = code_at_step(secret, now);
        assert_eq!(verify(secret, &current, now, Some(now - 1)), Some(now));
        // Replay: the same step, or an earlier one, after it was used.
        assert_eq!(verify(secret, &current, now, Some(now)), None);
        assert_eq!(verify(secret, &previous, now, Some(now)), None);
        assert_eq!(verify(secret, "12345", now, None), None);
        assert_eq!(verify(secret, "abcdef", now, None), None);
    }

    #[test]
    fn secrets_round_trip_through_base32_and_the_uri() {
        let secret = new_secret();
        assert_eq!(decode(&grouped(&secret).to_lowercase()), Some(secret.clone()));
        let uri = otpauth_uri("Uslugi", "+7 916 ***-**-67", &secret);
        assert!(uri.starts_with("otpauth://totp/Uslugi:%2B7%20916"), "{uri}");
        assert!(uri.contains(&format!("secret={}", encode(&secret))));
        assert!(qr_svg(&uri).starts_with("<?xml"));
    }
}
