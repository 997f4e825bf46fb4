//! Signing the platform's own documents with GOST R 34.10-2012: a detached CMS
//! SignedData (RFC 5652, with the GOST profile of RFC 9215 / R 1323565.1.024), the form
//! every Russian verifier (CryptoPro, OpenSSL's GOST engine, Госуслуги's own check) reads.
//!
//! The key is a PKCS#8 PrivateKeyInfo as OpenSSL's GOST engine writes it (the scalar as
//! a little-endian OCTET STRING; the older nested OCTET STRING or INTEGER forms are read
//! too); the certificate must carry that key. The CMS carries the signer certificate and
//! any chain given with it, and the signed attributes contentType, signingTime and
//! messageDigest. It is written by hand, like the verifier reads it: a few fixed
//! structures, DER-encoded.

use chrono::{DateTime, Datelike, Timelike, Utc};
use der::Encode;

use crate::algorithm::{Algorithm, PublicKey};
use crate::asn1;
use crate::cert::Certificate;
use crate::encoding;
use crate::error::QesError;
use crate::gost::{GostCurve, GostPrivateKey};
use crate::oids;

/// The platform's GOST document-signing key and its certificate (with its chain).
#[derive(Clone)]
pub struct DocumentSigner {
    key: GostPrivateKey,
    /// The signer's certificate first, then any CA certificates given with it.
    certs: Vec<Certificate>,
}

impl std::fmt::Debug for DocumentSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSigner")
            .field("certificate", &self.certs[0].subject_name())
            .field("curve", &self.key.curve())
            .finish_non_exhaustive()
    }
}

fn refuse(why: &str) -> QesError {
    QesError::SigningKey(why.to_owned())
}

impl DocumentSigner {
    /// A signer from a private key (PKCS#8, PEM or DER) and certificates (PEM or DER; the
    /// signer's first, then its chain). Refused when either cannot be read, the key is not
    /// GOST R 34.10-2012, or the certificate carries another key.
    pub fn from_pem(key: &[u8], certs: &[u8]) -> Result<Self, QesError> {
        let blocks = encoding::blocks(key).ok_or_else(|| refuse("файл ключа не читается"))?;
        let [der] = blocks.as_slice() else {
            return Err(refuse("в файле ключа должен быть один ключ"));
        };
        let key = parse_pkcs8(der)?;
        let certs = Certificate::parse_all(certs)?;
        let Some(cert) = certs.first() else {
            return Err(refuse("не найден сертификат"));
        };
        match cert.public_key()? {
            PublicKey::Gost(public) if Some(&public) == key.public_key().as_ref() => {}
            _ => return Err(refuse("сертификат выдан на другой ключ")),
        }
        Ok(Self { key, certs })
    }

    /// The signer's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certs[0]
    }

    /// The certificates the signature carries (signer first).
    pub fn certificates(&self) -> &[Certificate] {
        &self.certs
    }

    pub fn algorithm(&self) -> Algorithm {
        if self.key.curve().size() == 32 {
            Algorithm::Gost2012_256
        } else {
            Algorithm::Gost2012_512
        }
    }

    /// A detached CMS SignedData (DER) over `content`, signed at `signing_time`.
    /// `entropy` is fresh randomness for the nonce (see [`GostPrivateKey::sign`]).
    pub fn sign_detached(
        &self,
        content: &[u8],
        signing_time: DateTime<Utc>,
        entropy: &[u8],
    ) -> Result<Vec<u8>, QesError> {
        let wide = self.key.curve().size() == 64;
        let (digest_oid, key_oid) = if wide {
            (oids::STREEBOG_512, oids::GOST_2012_512)
        } else {
            (oids::STREEBOG_256, oids::GOST_2012_256)
        };
        let digest = self.algorithm().hash(content);
        let cert = self.certificate();
        let tbs = cert.tbs();
        let issuer = tbs.issuer().to_der().map_err(|_| QesError::MalformedCertificate)?;
        let serial = tbs.serial_number().to_der().map_err(|_| QesError::MalformedCertificate)?;

        let mut attrs = [
            attribute(&oids::CONTENT_TYPE, &oid(&oids::DATA)),
            attribute(&oids::SIGNING_TIME, &utc_time(signing_time)),
            attribute(&oids::MESSAGE_DIGEST, &tlv(asn1::OCTET_STRING, &digest)),
        ];
        // DER orders a SET OF by the encodings.
        attrs.sort();
        let attrs = attrs.concat();
        // The signature covers the attributes as a SET; they travel as [0] IMPLICIT.
        let signature = self.key.sign(&tlv(asn1::SET, &attrs), entropy);

        let digest_alg = tlv(asn1::SEQUENCE, &oid(&digest_oid));
        let signer_info = tlv(
            asn1::SEQUENCE,
            &[
                tlv(asn1::INTEGER, &[1]),
                tlv(asn1::SEQUENCE, &[issuer, serial].concat()),
                digest_alg.clone(),
                tlv(asn1::context(0), &attrs),
                tlv(asn1::SEQUENCE, &oid(&key_oid)),
                tlv(asn1::OCTET_STRING, &signature),
            ]
            .concat(),
        );
        let certificates: Vec<u8> = self.certs.iter().flat_map(|c| c.der().to_vec()).collect();
        let signed_data = tlv(
            asn1::SEQUENCE,
            &[
                tlv(asn1::INTEGER, &[1]),
                tlv(asn1::SET, &digest_alg),
                tlv(asn1::SEQUENCE, &oid(&oids::DATA)),
                tlv(asn1::context(0), &certificates),
                tlv(asn1::SET, &signer_info),
            ]
            .concat(),
        );
        Ok(tlv(
            asn1::SEQUENCE,
            &[oid(&oids::SIGNED_DATA), tlv(asn1::context(0), &signed_data)].concat(),
        ))
    }
}

/// PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier { OID, SEQUENCE { paramSet,
/// … } }, privateKey OCTET STRING }.
fn parse_pkcs8(der: &[u8]) -> Result<GostPrivateKey, QesError> {
    let bad = || refuse("файл ключа не является ключом PKCS#8");
    let outer = asn1::single(der).map_err(|_| bad())?;
    let mut fields = outer.children();
    fields.expect(asn1::INTEGER).map_err(|_| bad())?;
    let alg = fields.expect(asn1::SEQUENCE).map_err(|_| bad())?;
    let mut alg = alg.children();
    let key_oid = alg.expect(asn1::OID).and_then(|t| t.oid()).map_err(|_| bad())?;
    if key_oid != oids::GOST_2012_256 && key_oid != oids::GOST_2012_512 {
        return Err(refuse("нужен ключ ГОСТ Р 34.10-2012"));
    }
    let params = alg.expect(asn1::SEQUENCE).map_err(|_| bad())?;
    let paramset = params.children().expect(asn1::OID).and_then(|t| t.oid()).map_err(|_| bad())?;
    let curve = GostCurve::from_oid(&paramset)
        .ok_or_else(|| refuse(&format!("набор параметров {paramset} не поддерживается")))?;
    let private = fields.expect(asn1::OCTET_STRING).map_err(|_| bad())?;
    let n = curve.size();
    let d_le: Vec<u8> = if private.content.len() == n {
        private.content.to_vec()
    } else {
        let inner = asn1::single(private.content).map_err(|_| bad())?;
        match inner.tag {
            asn1::OCTET_STRING if inner.content.len() == n => inner.content.to_vec(),
            asn1::INTEGER => {
                let be = asn1::strip_integer(inner.content);
                if be.len() > n {
                    return Err(bad());
                }
                let mut le: Vec<u8> = be.iter().rev().copied().collect();
                le.resize(n, 0);
                le
            }
            _ => return Err(bad()),
        }
    };
    GostPrivateKey::from_le_bytes(curve, &d_le)
        .ok_or_else(|| refuse("ключ вне допустимого диапазона"))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn oid(oid: &const_oid::ObjectIdentifier) -> Vec<u8> {
    tlv(asn1::OID, oid.as_bytes())
}

/// Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value } with one value.
fn attribute(kind: &const_oid::ObjectIdentifier, value: &[u8]) -> Vec<u8> {
    tlv(asn1::SEQUENCE, &[oid(kind), tlv(asn1::SET, value)].concat())
}

/// UTCTime (YYMMDDHHMMSSZ), which RFC 5652 requires for dates from 1950 to 2049.
fn utc_time(at: DateTime<Utc>) -> Vec<u8> {
    let text = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        at.year() % 100,
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    tlv(asn1::UTC_TIME, text.as_bytes())
}
