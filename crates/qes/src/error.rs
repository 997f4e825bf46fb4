//! Why a signature, a certificate or a trust store was refused.
//!
//! `Display` is a Russian sentence meant for the citizen; `code()` is stable English for the
//! API and logs. Dates are shown as the Moscow calendar date (UTC+3), as the citizen reads
//! them on the certificate.

use chrono::{DateTime, FixedOffset, Utc};

/// A refusal, with a message for the citizen and a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QesError {
    /// The input is not a CMS SignedData (DER, BER, PEM or base64), or is truncated.
    #[error("Файл подписи повреждён или не является подписью CMS")]
    MalformedSignature,
    /// The SignedData holds no SignerInfo.
    #[error("Файл подписи не содержит ни одной подписи")]
    NoSigner,
    /// More than one SignerInfo: a challenge is signed by one person.
    #[error("Файл содержит несколько подписей, а ожидается одна")]
    MultipleSigners,
    /// A certificate (embedded, passed in, or in the trust store) cannot be decoded.
    #[error("Сертификат повреждён или имеет неверный формат")]
    MalformedCertificate,
    /// No certificate matches the signer's identifier.
    #[error("Не найден сертификат подписанта: приложите его к подписи")]
    SignerCertificateNotFound,
    /// An algorithm (or key size, curve, parameter set) outside the supported list.
    #[error("Неподдерживаемый алгоритм подписи: {0}")]
    UnsupportedAlgorithm(String),
    /// The content is not what was signed (digest or signature over content differs).
    #[error("Подпись не соответствует подписанным данным")]
    ContentMismatch,
    /// The signed attributes' signature does not verify with the signer's key.
    #[error("Подпись недействительна: она не сходится с сертификатом подписанта")]
    SignatureInvalid,
    /// The signer certificate's key usage allows neither digitalSignature nor
    /// nonRepudiation (or the certificate has no key usage at all).
    #[error("Сертификат не предназначен для электронной подписи")]
    WrongKeyUsage,
    /// The signer certificate expired before `now`.
    #[error("Срок действия сертификата истёк {}", ru_date(.0))]
    CertificateExpired(DateTime<Utc>),
    /// The signer certificate is not valid yet at `now`.
    #[error("Сертификат ещё не действует: срок его действия начнётся {}", ru_date(.0))]
    CertificateNotYetValid(DateTime<Utc>),
    /// A CA certificate in the chain is outside its validity period at `now`.
    #[error(
        "Сертификат удостоверяющего центра «{name}» недействителен на текущую дату \
         (срок действия с {} по {})",
        ru_date(.not_before),
        ru_date(.not_after)
    )]
    IssuerCertificateNotValid {
        /// The CA's name.
        name: String,
        /// Start of its validity.
        not_before: DateTime<Utc>,
        /// End of its validity.
        not_after: DateTime<Utc>,
    },
    /// The chain ends at a self-signed certificate that is not a trusted root.
    #[error("Сертификат выдан недоверенным удостоверяющим центром «{0}»")]
    UntrustedIssuer(String),
    /// No certificate of the named issuer is available (neither trusted nor supplied).
    #[error(
        "Сертификат выдан удостоверяющим центром «{0}», которого нет среди доверенных, \
         или не приложен сертификат этого центра"
    )]
    IssuerNotFound(String),
    /// A certificate names an issuer whose key did not sign it.
    #[error(
        "Цепочка сертификатов нарушена: подпись удостоверяющего центра на сертификате «{0}» недействительна"
    )]
    ChainBroken(String),
    /// A certificate in the issuer position is not a CA certificate.
    #[error("Сертификат «{0}» не является сертификатом удостоверяющего центра")]
    IssuerNotCa(String),
    /// The chain is longer than allowed (or loops).
    #[error("Цепочка сертификатов слишком длинная")]
    ChainTooLong,
    /// A trust store file or directory cannot be read.
    #[error(
        "Не удалось прочитать сертификаты доверенных удостоверяющих центров ({path}): {reason}"
    )]
    TrustStoreUnreadable {
        /// The file or directory.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The trust store would be empty.
    #[error("Не задано ни одного сертификата доверенного удостоверяющего центра")]
    TrustStoreEmpty,
    /// The platform's signing key or its certificate is unusable (an operator's matter).
    #[error("Ключ подписи документов: {0}")]
    SigningKey(String),
}

impl QesError {
    /// A stable machine-readable code (snake_case English) for the API and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedSignature => "malformed_signature",
            Self::NoSigner => "no_signer",
            Self::MultipleSigners => "multiple_signers",
            Self::MalformedCertificate => "malformed_certificate",
            Self::SignerCertificateNotFound => "signer_certificate_not_found",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::ContentMismatch => "content_mismatch",
            Self::SignatureInvalid => "signature_invalid",
            Self::WrongKeyUsage => "wrong_key_usage",
            Self::CertificateExpired(_) => "certificate_expired",
            Self::CertificateNotYetValid(_) => "certificate_not_yet_valid",
            Self::IssuerCertificateNotValid { .. } => "issuer_certificate_not_valid",
            Self::UntrustedIssuer(_) => "untrusted_issuer",
            Self::IssuerNotFound(_) => "issuer_not_found",
            Self::ChainBroken(_) => "chain_broken",
            Self::IssuerNotCa(_) => "issuer_not_ca",
            Self::ChainTooLong => "chain_too_long",
            Self::TrustStoreUnreadable { .. } => "trust_store_unreadable",
            Self::TrustStoreEmpty => "trust_store_empty",
            Self::SigningKey(_) => "signing_key",
        }
    }
}

/// `dd.mm.yyyy` in Moscow time (UTC+3, no daylight saving since 2014).
fn ru_date(t: &DateTime<Utc>) -> String {
    match FixedOffset::east_opt(3 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%d.%m.%Y").to_string(),
        None => t.format("%d.%m.%Y").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn messages_are_russian_and_dates_are_moscow_days() {
        let t = Utc.with_ymd_and_hms(2025, 2, 1, 12, 0, 0).unwrap();
        assert_eq!(
            QesError::CertificateExpired(t).to_string(),
            "Срок действия сертификата истёк 01.02.2025"
        );
        // 22:30 UTC on 31 January is already 1 February in Moscow.
        let late = Utc.with_ymd_and_hms(2025, 1, 31, 22, 30, 0).unwrap();
        assert!(QesError::CertificateExpired(late).to_string().ends_with("01.02.2025"));
        assert_eq!(
            QesError::UnsupportedAlgorithm("ГОСТ Р 34.10-2001".into()).to_string(),
            "Неподдерживаемый алгоритм подписи: ГОСТ Р 34.10-2001"
        );
        assert_eq!(QesError::WrongKeyUsage.code(), "wrong_key_usage");
    }
}
