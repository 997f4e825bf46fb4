//! Detached CMS SignedData (RFC 5652): parsing and verification.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::{GeneralizedTime, UtcTime};
use x509_cert::name::Name;

use crate::algorithm::Algorithm;
use crate::asn1::{self, Malformed, Reader, Tlv};
use crate::cert::{Certificate, Subject};
use crate::chain;
use crate::encoding;
use crate::error::QesError;
use crate::oids;
use crate::trust::TrustStore;

/// A verified signature: who signed, with what, and under which certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signature algorithm.
    pub algorithm: Algorithm,
    /// The signer, from the certificate's subject.
    pub subject: Subject,
    /// The issuing CA's name (its common name, organization, or full name).
    pub issuer: String,
    /// The certificate's serial number, upper-case hex.
    pub serial: String,
    /// Start of the certificate's validity.
    pub not_before: DateTime<Utc>,
    /// End of the certificate's validity.
    pub not_after: DateTime<Utc>,
    /// The signingTime attribute, if the signer included one. It is the signer's claim, not
    /// a trusted timestamp.
    pub signing_time: Option<DateTime<Utc>>,
    /// The signer's certificate.
    pub certificate: Certificate,
}

/// Verifies a detached CMS signature over `content`.
///
/// - `cms`: the SignedData as DER, BER, PEM or bare base64.
/// - `content`: the signed bytes (for Uslugi, the challenge).
/// - `extra_certs`: certificates the signature may not carry: the signer's own and
///   intermediate CAs, each DER or PEM (a PEM input may hold several).
/// - `trust`: the roots a chain must end at.
/// - `now`: the time at which every certificate must be valid (never read from the clock
///   here).
///
/// Exactly one signer is expected. Checks, in order: structure, signer certificate, the
/// algorithm, the message digest and signature, the signer's key usage and validity, then
/// the chain. Revocation is not checked.
pub fn verify_detached(
    cms: &[u8],
    content: &[u8],
    extra_certs: &[&[u8]],
    trust: &TrustStore,
    now: DateTime<Utc>,
) -> Result<Verified, QesError> {
    let der = encoding::blocks(cms)
        .and_then(|mut b| (b.len() == 1).then(|| b.remove(0)))
        .ok_or(QesError::MalformedSignature)?;
    let signed = SignedData::parse(&der).map_err(|_| QesError::MalformedSignature)?;
    let signer = match signed.signer_infos.as_slice() {
        [] => return Err(QesError::NoSigner),
        [one] => one,
        _ => return Err(QesError::MultipleSigners),
    };
    if let Some(econtent) = &signed.econtent {
        // Attached content: it must be the expected content.
        if econtent.as_ref() != content {
            return Err(QesError::ContentMismatch);
        }
    }

    let mut pool = Vec::new();
    for raw in &signed.certificates {
        pool.push(Certificate::from_der(raw)?);
    }
    for input in extra_certs {
        pool.extend(Certificate::parse_all(input)?);
    }
    let cert =
        pool.iter().find(|c| signer.sid.matches(c)).ok_or(QesError::SignerCertificateNotFound)?;

    let key = cert.public_key()?;
    let algorithm =
        key.algorithm_for_signer(&signer.signature_algorithm, &signer.digest_algorithm)?;
    let signing_time = match &signer.signed_attrs {
        Some(attrs) => {
            if attrs.content_type != Some(signed.econtent_type) {
                return Err(QesError::MalformedSignature);
            }
            let digest = attrs.message_digest.as_deref().ok_or(QesError::MalformedSignature)?;
            if algorithm.hash(content) != digest {
                return Err(QesError::ContentMismatch);
            }
            if !key.verify(algorithm, &attrs.der, &signer.signature) {
                return Err(QesError::SignatureInvalid);
            }
            attrs.signing_time
        }
        None => {
            // Without signed attributes the signature covers the content itself; a failure
            // means, most likely, that the content is not what was signed.
            if !key.verify(algorithm, content, &signer.signature) {
                return Err(QesError::ContentMismatch);
            }
            None
        }
    };

    let usage = cert.key_usage()?;
    if !usage.is_some_and(|ku| ku.digital_signature() || ku.non_repudiation()) {
        return Err(QesError::WrongKeyUsage);
    }
    if now < cert.not_before() {
        return Err(QesError::CertificateNotYetValid(cert.not_before()));
    }
    if now > cert.not_after() {
        return Err(QesError::CertificateExpired(cert.not_after()));
    }
    chain::build(cert, &pool, trust, now)?;

    Ok(Verified {
        algorithm,
        subject: cert.subject().clone(),
        issuer: cert.issuer_name(),
        serial: cert.serial(),
        not_before: cert.not_before(),
        not_after: cert.not_after(),
        signing_time,
        certificate: cert.clone(),
    })
}

/// The parts of a SignedData that verification needs, borrowing from the input.
struct SignedData<'a> {
    econtent_type: ObjectIdentifier,
    econtent: Option<Cow<'a, [u8]>>,
    certificates: Vec<&'a [u8]>,
    signer_infos: Vec<SignerInfo<'a>>,
}

struct SignerInfo<'a> {
    sid: SignerId<'a>,
    digest_algorithm: ObjectIdentifier,
    signed_attrs: Option<SignedAttrs>,
    signature_algorithm: ObjectIdentifier,
    signature: Cow<'a, [u8]>,
}

enum SignerId<'a> {
    IssuerAndSerial { issuer: Name, serial: &'a [u8] },
    SubjectKeyId(Cow<'a, [u8]>),
}

impl SignerId<'_> {
    fn matches(&self, cert: &Certificate) -> bool {
        match self {
            Self::IssuerAndSerial { issuer, serial } => {
                cert.tbs().issuer() == issuer
                    && asn1::strip_integer(cert.tbs().serial_number().as_bytes())
                        == asn1::strip_integer(serial)
            }
            Self::SubjectKeyId(id) => {
                cert.subject_key_id().ok().flatten().is_some_and(|ski| ski == id.as_ref())
            }
        }
    }
}

struct SignedAttrs {
    /// The attributes as signed: the SET OF, re-tagged from `[0] IMPLICIT` (RFC 5652 5.4).
    der: Vec<u8>,
    content_type: Option<ObjectIdentifier>,
    message_digest: Option<Vec<u8>>,
    signing_time: Option<DateTime<Utc>>,
}

impl<'a> SignedData<'a> {
    fn parse(input: &'a [u8]) -> asn1::Result<Self> {
        // ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }
        let content_info = asn1::single(input)?;
        if content_info.tag != asn1::SEQUENCE {
            return Err(Malformed);
        }
        let mut ci = content_info.children();
        if ci.expect(asn1::OID)?.oid()? != oids::SIGNED_DATA {
            return Err(Malformed);
        }
        let explicit = ci.expect(asn1::context(0))?;
        ci.finish()?;
        let mut outer = explicit.children();
        let signed_data = outer.expect(asn1::SEQUENCE)?;
        outer.finish()?;

        let mut sd = signed_data.children();
        sd.expect(asn1::INTEGER)?;
        sd.expect(asn1::SET)?; // digestAlgorithms: SignerInfo names its own
        let encap = sd.expect(asn1::SEQUENCE)?;
        let mut ec = encap.children();
        let econtent_type = ec.expect(asn1::OID)?.oid()?;
        let econtent = match ec.optional(asn1::context(0))? {
            Some(wrapper) => {
                let mut w = wrapper.children();
                let octets = w.next()?.ok_or(Malformed)?;
                if octets.tag & 0x1F != asn1::OCTET_STRING {
                    return Err(Malformed);
                }
                w.finish()?;
                Some(octets.octets()?)
            }
            None => None,
        };
        ec.finish()?;

        let mut certificates = Vec::new();
        if let Some(set) = sd.optional(asn1::context(0))? {
            let mut certs = set.children();
            while let Some(choice) = certs.next()? {
                // Plain certificates only; attribute and other certificate formats
                // ([1]..[3]) cannot be signers or CAs here.
                if choice.tag == asn1::SEQUENCE {
                    certificates.push(choice.raw);
                }
            }
        }
        sd.optional(asn1::context(1))?; // CRLs: revocation is out of scope
        let infos = sd.expect(asn1::SET)?;
        sd.finish()?;

        let mut signer_infos = Vec::new();
        let mut reader = infos.children();
        while let Some(info) = reader.next()? {
            if info.tag != asn1::SEQUENCE {
                return Err(Malformed);
            }
            signer_infos.push(SignerInfo::parse(&info)?);
        }
        Ok(Self { econtent_type, econtent, certificates, signer_infos })
    }
}

impl<'a> SignerInfo<'a> {
    fn parse(info: &Tlv<'a>) -> asn1::Result<Self> {
        let mut r = info.children();
        r.expect(asn1::INTEGER)?;
        let sid_tlv = r.next()?.ok_or(Malformed)?;
        let sid = match sid_tlv.tag {
            asn1::SEQUENCE => {
                let mut isn = sid_tlv.children();
                let issuer_tlv = isn.expect(asn1::SEQUENCE)?;
                let issuer = Name::from_der(issuer_tlv.raw)
                    .or_else(|_| Name::from_ber(issuer_tlv.raw))
                    .map_err(|_| Malformed)?;
                let serial = isn.expect(asn1::INTEGER)?.content;
                isn.finish()?;
                SignerId::IssuerAndSerial { issuer, serial }
            }
            t if t == asn1::context_primitive(0) || t == asn1::context(0) => {
                SignerId::SubjectKeyId(sid_tlv.octets()?)
            }
            _ => return Err(Malformed),
        };
        let digest_algorithm = algorithm_oid(&mut r)?;
        let signed_attrs = match r.optional(asn1::context(0))? {
            Some(attrs) => Some(SignedAttrs::parse(&attrs)?),
            None => None,
        };
        let signature_algorithm = algorithm_oid(&mut r)?;
        let sig = r.next()?.ok_or(Malformed)?;
        if sig.tag & 0x1F != asn1::OCTET_STRING {
            return Err(Malformed);
        }
        let signature = sig.octets()?;
        r.optional(asn1::context(1))?; // unsigned attributes
        r.finish()?;
        Ok(Self { sid, digest_algorithm, signed_attrs, signature_algorithm, signature })
    }
}

/// The OID of an AlgorithmIdentifier; the parameters are not needed by the supported
/// algorithms (NULL or absent).
fn algorithm_oid(r: &mut Reader<'_>) -> asn1::Result<ObjectIdentifier> {
    r.expect(asn1::SEQUENCE)?.children().expect(asn1::OID)?.oid()
}

impl SignedAttrs {
    fn parse(attrs: &Tlv<'_>) -> asn1::Result<Self> {
        // The signature covers the DER encoding; a BER (indefinite) set would have to be
        // re-encoded first, which no known signer requires.
        if attrs.indefinite {
            return Err(Malformed);
        }
        let mut der = attrs.raw.to_vec();
        if let Some(tag) = der.first_mut() {
            *tag = asn1::SET;
        }
        let mut out = Self { der, content_type: None, message_digest: None, signing_time: None };
        let mut seen = Vec::new();
        let mut r = attrs.children();
        while let Some(attr) = r.next()? {
            let mut a = attr.children();
            let oid = a.expect(asn1::OID)?.oid()?;
            let values = a.expect(asn1::SET)?;
            a.finish()?;
            if seen.contains(&oid) {
                // RFC 5652 5.3: each attribute type appears once.
                return Err(Malformed);
            }
            seen.push(oid);
            let mut v = values.children();
            let first = v.next()?.ok_or(Malformed)?;
            let single = v.is_empty();
            match oid {
                oids::CONTENT_TYPE if single => out.content_type = Some(first.oid()?),
                oids::MESSAGE_DIGEST if single && first.tag == asn1::OCTET_STRING => {
                    out.message_digest = Some(first.content.to_vec());
                }
                oids::SIGNING_TIME if single => out.signing_time = Some(time(&first)?),
                oids::CONTENT_TYPE | oids::MESSAGE_DIGEST | oids::SIGNING_TIME => {
                    return Err(Malformed);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn time(t: &Tlv<'_>) -> asn1::Result<DateTime<Utc>> {
    let duration = match t.tag {
        asn1::UTC_TIME => UtcTime::from_der(t.raw).map_err(|_| Malformed)?.to_unix_duration(),
        asn1::GENERALIZED_TIME => {
            GeneralizedTime::from_der(t.raw).map_err(|_| Malformed)?.to_unix_duration()
        }
        _ => return Err(Malformed),
    };
    let secs = i64::try_from(duration.as_secs()).map_err(|_| Malformed)?;
    DateTime::from_timestamp(secs, 0).ok_or(Malformed)
}
