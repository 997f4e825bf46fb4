//! A small BER/DER reader that keeps the original bytes of every element.
//!
//! Signatures are computed over encodings exactly as the signer produced them (the signed
//! attributes, each certificate's TBSCertificate), so the CMS envelope is walked here rather
//! than decoded into typed structures and encoded again: a decoder that normalizes (sorts a
//! SET OF, drops an explicit default) would change the bytes and break valid signatures.
//! BER indefinite lengths are accepted because CryptoPro tools emit them for the envelope.

use std::borrow::Cow;

use const_oid::ObjectIdentifier;

/// Nesting deeper than this is refused (no legitimate CMS comes close).
const MAX_DEPTH: u8 = 32;

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// Context-specific tag `[n]`, constructed.
pub(crate) const fn context(n: u8) -> u8 {
    0xA0 | n
}

/// Context-specific tag `[n]`, primitive.
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// The input is not well-formed BER (or not the expected structure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

pub(crate) type Result<T> = std::result::Result<T, Malformed>;

/// One element: its identifier octet, contents and whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    /// Contents octets (for an indefinite length: up to, not including, the end marker).
    pub content: &'a [u8],
    /// The element as encoded, header and end marker included.
    pub raw: &'a [u8],
    pub indefinite: bool,
    depth: u8,
}

impl<'a> Tlv<'a> {
    /// A reader over the children of a constructed element.
    pub fn children(&self) -> Reader<'a> {
        Reader { rest: self.content, depth: self.depth + 1 }
    }

    pub fn is_constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// The value of an OBJECT IDENTIFIER.
    pub fn oid(&self) -> Result<ObjectIdentifier> {
        if self.tag != OID {
            return Err(Malformed);
        }
        ObjectIdentifier::from_bytes(self.content).map_err(|_| Malformed)
    }

    /// The value of an OCTET STRING, reassembled if it was sent in constructed (BER) form;
    /// the tag may be any primitive/constructed pair (for IMPLICIT tagging).
    pub fn octets(&self) -> Result<Cow<'a, [u8]>> {
        if !self.is_constructed() {
            return Ok(Cow::Borrowed(self.content));
        }
        let mut out = Vec::new();
        let mut children = self.children();
        while let Some(child) = children.next()? {
            if child.tag & 0x1F != OCTET_STRING {
                return Err(Malformed);
            }
            out.extend_from_slice(&child.octets()?);
        }
        Ok(Cow::Owned(out))
    }
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    depth: u8,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data, depth: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, or `None` at the end.
    pub fn next(&mut self) -> Result<Option<Tlv<'a>>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (tlv, len) = parse(self.rest, self.depth)?;
        self.rest = &self.rest[len..];
        Ok(Some(tlv))
    }

    /// The next element, which must carry `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>> {
        match self.next()? {
            Some(tlv) if tlv.tag == tag => Ok(tlv),
            _ => Err(Malformed),
        }
    }

    /// The next element if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) { self.next() } else { Ok(None) }
    }

    /// Fails unless every element has been read.
    pub fn finish(&self) -> Result<()> {
        if self.rest.is_empty() { Ok(()) } else { Err(Malformed) }
    }
}

/// Parses one element at the start of `data`; returns it and its encoded length.
fn parse(data: &[u8], depth: u8) -> Result<(Tlv<'_>, usize)> {
    if depth > MAX_DEPTH {
        return Err(Malformed);
    }
    let tag = *data.first().ok_or(Malformed)?;
    if tag & 0x1F == 0x1F {
        // High tag numbers do not occur in CMS or X.509.
        return Err(Malformed);
    }
    let first = *data.get(1).ok_or(Malformed)?;
    let constructed = tag & 0x20 != 0;
    if first == 0x80 {
        if !constructed {
            return Err(Malformed);
        }
        // Indefinite length: children up to the end-of-contents marker 00 00.
        let start = 2;
        let mut pos = start;
        loop {
            let rest = data.get(pos..).ok_or(Malformed)?;
            if rest.starts_with(&[0, 0]) {
                let tlv = Tlv {
                    tag,
                    content: &data[start..pos],
                    raw: &data[..pos + 2],
                    indefinite: true,
                    depth,
                };
                return Ok((tlv, pos + 2));
            }
            let (_, len) = parse(rest, depth + 1)?;
            pos += len;
        }
    }
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n > 4 {
            return Err(Malformed);
        }
        let bytes = data.get(2..2 + n).ok_or(Malformed)?;
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len).ok_or(Malformed)?;
    let content = data.get(header..end).ok_or(Malformed)?;
    let tlv = Tlv { tag, content, raw: &data[..end], indefinite: false, depth };
    Ok((tlv, end))
}

/// Parses `data` as exactly one element.
pub(crate) fn single(data: &[u8]) -> Result<Tlv<'_>> {
    let mut reader = Reader::new(data);
    let tlv = reader.next()?.ok_or(Malformed)?;
    reader.finish()?;
    Ok(tlv)
}

/// The contents of an INTEGER without redundant leading zero octets, for comparing serial
/// numbers that different encoders padded differently.
pub(crate) fn strip_integer(content: &[u8]) -> &[u8] {
    let mut c = content;
    while c.len() > 1 && c[0] == 0 {
        c = &c[1..];
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_and_indefinite_lengths() {
        // SEQUENCE (indefinite) { INTEGER 5, OCTET STRING (constructed, indefinite) {"ab", "c"} }
        let ber = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c',
            0x00, 0x00, 0x00, 0x00,
        ];
        let seq = single(&ber).unwrap();
        assert!(seq.indefinite);
        let mut r = seq.children();
        assert_eq!(r.expect(INTEGER).unwrap().content, &[5]);
        let s = r.next().unwrap().unwrap();
        assert_eq!(s.octets().unwrap().as_ref(), b"abc");
        r.finish().unwrap();

        let der = [0x30, 0x81, 0x03, 0x02, 0x01, 0x07];
        let seq = single(&der).unwrap();
        assert_eq!(seq.children().expect(INTEGER).unwrap().content, &[7]);
    }

    #[test]
    fn truncated_or_trailing_input_is_refused() {
        assert!(single(&[0x30, 0x05, 0x02, 0x01]).is_err());
        assert!(single(&[0x30, 0x00, 0x00]).is_err());
        assert!(single(&[0x30, 0x80, 0x02, 0x01, 0x05]).is_err());
        assert!(single(&[]).is_err());
        assert!(single(&[0x1F, 0x00]).is_err());
        assert!(single(&[0x04, 0x80, 0x00, 0x00]).is_err());
        // Deep nesting is bounded.
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(single(&deep).is_err());
    }
}
