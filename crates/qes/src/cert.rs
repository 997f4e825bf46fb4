//! X.509 certificates: decoding, the fields Uslugi reads, and the signature of each link.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Utc};
use der::{Decode, Tag, Tagged};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::time::Time;

use crate::algorithm::{Algorithm, PublicKey};
use crate::asn1;
use crate::encoding;
use crate::error::QesError;
use crate::oids;

/// The subject of a certificate: the fields a Russian qualified certificate carries
/// (Приказ ФСБ России № 795). Each is the first value of its attribute, if present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// СНИЛС (1.2.643.100.3), 11 digits.
    pub snils: Option<String>,
    /// ИНН of a person (1.2.643.3.131.1.1), 12 digits.
    pub inn: Option<String>,
    /// ИНН of a legal entity (1.2.643.100.4), 10 digits.
    pub inn_le: Option<String>,
    /// ОГРН (1.2.643.100.1).
    pub ogrn: Option<String>,
    /// ОГРНИП (1.2.643.100.5).
    pub ogrnip: Option<String>,
    /// Surname (2.5.4.4).
    pub surname: Option<String>,
    /// Given name (2.5.4.42): GOST certificates put «Имя Отчество» here.
    pub given_name: Option<String>,
    /// Common name (2.5.4.3).
    pub common_name: Option<String>,
    /// Organization (2.5.4.10).
    pub organization: Option<String>,
    /// E-mail address (1.2.840.113549.1.9.1).
    pub email: Option<String>,
}

impl Subject {
    fn from_name(name: &Name) -> Self {
        let mut s = Self::default();
        for atv in name.iter() {
            let slot = match atv.oid {
                oids::SNILS => &mut s.snils,
                oids::INN => &mut s.inn,
                oids::INN_LE => &mut s.inn_le,
                oids::OGRN => &mut s.ogrn,
                oids::OGRNIP => &mut s.ogrnip,
                oids::SURNAME => &mut s.surname,
                oids::GIVEN_NAME => &mut s.given_name,
                oids::COMMON_NAME => &mut s.common_name,
                oids::ORGANIZATION => &mut s.organization,
                oids::EMAIL => &mut s.email,
                _ => continue,
            };
            if slot.is_none() {
                *slot = directory_string(atv.value.tag(), atv.value.value());
            }
        }
        s
    }
}

/// Decodes the string types names use. Invalid text gives `None`, not an error: one odd
/// attribute must not make a certificate unusable.
fn directory_string(tag: Tag, bytes: &[u8]) -> Option<String> {
    let text = match tag {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::NumericString
        | Tag::Ia5String
        | Tag::VisibleString => String::from_utf8(bytes.to_vec()).ok()?,
        // T.61 in practice means Latin-1.
        Tag::TeletexString => bytes.iter().map(|b| char::from(*b)).collect(),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> =
                bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()?
        }
        _ => return None,
    };
    Some(text.trim().to_owned())
}

/// A decoded X.509 certificate that keeps its original encoding.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    /// Where TBSCertificate lies within `der`: the signed bytes, exactly as issued.
    tbs_range: Range<usize>,
    signature_algorithm: const_oid::ObjectIdentifier,
    signature: Vec<u8>,
    tbs: TbsCertificate,
    subject: Subject,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl Certificate {
    /// Decodes one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, QesError> {
        let bad = |_| QesError::MalformedCertificate;
        let outer = asn1::single(der).map_err(bad)?;
        if outer.tag != asn1::SEQUENCE || outer.indefinite {
            return Err(QesError::MalformedCertificate);
        }
        let mut parts = outer.children();
        let tbs_tlv = parts.expect(asn1::SEQUENCE).map_err(bad)?;
        let alg = parts.expect(asn1::SEQUENCE).map_err(bad)?;
        let signature_algorithm =
            alg.children().expect(asn1::OID).and_then(|t| t.oid()).map_err(bad)?;
        let bits = parts.expect(asn1::BIT_STRING).map_err(bad)?;
        parts.finish().map_err(bad)?;
        // A signature is a whole number of octets: no unused bits.
        let signature = match bits.content.split_first() {
            Some((0, rest)) => rest.to_vec(),
            _ => return Err(QesError::MalformedCertificate),
        };
        // Decode leniently (BER accepts, e.g., an explicitly encoded default) because the
        // signature is checked over the original bytes anyway.
        let tbs = TbsCertificate::from_der(tbs_tlv.raw)
            .or_else(|_| TbsCertificate::from_ber(tbs_tlv.raw))
            .map_err(|_| QesError::MalformedCertificate)?;
        // TBSCertificate is the first element inside the outer SEQUENCE.
        let start = der.len() - outer.content.len();
        let subject = Subject::from_name(tbs.subject());
        let validity = tbs.validity();
        let not_before = to_utc(validity.not_before)?;
        let not_after = to_utc(validity.not_after)?;
        Ok(Self {
            der: der.to_vec(),
            tbs_range: start..start + tbs_tlv.raw.len(),
            signature_algorithm,
            signature,
            tbs,
            subject,
            not_before,
            not_after,
        })
    }

    /// Decodes every certificate in `input`: one DER certificate, or PEM with any number.
    pub(crate) fn parse_all(input: &[u8]) -> Result<Vec<Self>, QesError> {
        let blocks = encoding::blocks(input).ok_or(QesError::MalformedCertificate)?;
        blocks.iter().map(|b| Self::from_der(b)).collect()
    }

    /// The certificate as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject's fields.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The subject's name for messages: its common name, organization, or the full name.
    pub fn subject_name(&self) -> String {
        display_name(self.tbs.subject())
    }

    /// The issuer's name for messages: its common name, organization, or the full name.
    pub fn issuer_name(&self) -> String {
        display_name(self.tbs.issuer())
    }

    /// The serial number in upper-case hex, without leading zero octets.
    pub fn serial(&self) -> String {
        asn1::strip_integer(self.tbs.serial_number().as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of the validity period.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Whether `now` lies within the validity period (both ends included, RFC 5280).
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    pub(crate) fn tbs(&self) -> &TbsCertificate {
        &self.tbs
    }

    pub(crate) fn public_key(&self) -> Result<PublicKey, QesError> {
        PublicKey::from_spki(self.tbs.subject_public_key_info())
    }

    pub(crate) fn is_self_issued(&self) -> bool {
        self.tbs.subject() == self.tbs.issuer()
    }

    /// Checks this certificate's signature with the issuer's key.
    pub(crate) fn is_signed_by(&self, issuer_key: &PublicKey) -> Result<bool, QesError> {
        let alg: Algorithm = issuer_key.algorithm_for_certificate(&self.signature_algorithm)?;
        let tbs = self.der.get(self.tbs_range.clone()).unwrap_or_default();
        Ok(issuer_key.verify(alg, tbs, &self.signature))
    }

    /// The subjectKeyIdentifier, if present.
    pub(crate) fn subject_key_id(&self) -> Result<Option<Vec<u8>>, QesError> {
        Ok(self
            .tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|_| QesError::MalformedCertificate)?
            .map(|(_, ski)| ski.0.as_bytes().to_vec()))
    }

    /// The keyIdentifier of the authorityKeyIdentifier, if present.
    pub(crate) fn authority_key_id(&self) -> Result<Option<Vec<u8>>, QesError> {
        Ok(self
            .tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|_| QesError::MalformedCertificate)?
            .and_then(|(_, aki)| aki.key_identifier.map(|k| k.as_bytes().to_vec())))
    }

    pub(crate) fn key_usage(&self) -> Result<Option<KeyUsage>, QesError> {
        Ok(self
            .tbs
            .get_extension::<KeyUsage>()
            .map_err(|_| QesError::MalformedCertificate)?
            .map(|(_, ku)| ku))
    }

    pub(crate) fn basic_constraints(&self) -> Result<Option<BasicConstraints>, QesError> {
        Ok(self
            .tbs
            .get_extension::<BasicConstraints>()
            .map_err(|_| QesError::MalformedCertificate)?
            .map(|(_, bc)| bc))
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject_name())
            .field("issuer", &self.issuer_name())
            .field("serial", &self.serial())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Decodes one certificate, DER or PEM (the first block of a PEM file).
pub fn parse_certificate(der_or_pem: &[u8]) -> Result<Certificate, QesError> {
    let blocks = encoding::blocks(der_or_pem).ok_or(QesError::MalformedCertificate)?;
    let first = blocks.first().ok_or(QesError::MalformedCertificate)?;
    Certificate::from_der(first)
}

fn to_utc(t: Time) -> Result<DateTime<Utc>, QesError> {
    let d = t.to_unix_duration();
    let secs = i64::try_from(d.as_secs()).map_err(|_| QesError::MalformedCertificate)?;
    DateTime::from_timestamp(secs, 0).ok_or(QesError::MalformedCertificate)
}

pub(crate) fn display_name(name: &Name) -> String {
    let find = |oid| {
        name.iter()
            .find(|atv| atv.oid == oid)
            .and_then(|atv| directory_string(atv.value.tag(), atv.value.value()))
    };
    find(oids::COMMON_NAME).or_else(|| find(oids::ORGANIZATION)).unwrap_or_else(|| name.to_string())
}
