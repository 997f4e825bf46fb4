//! Builds and checks the chain from the signer's certificate to a trusted root.
//!
//! Each step looks for the issuer among the trusted roots first, then among the
//! certificates that came with the signature; a candidate must have the issuer's name as
//! its subject (and the matching key identifier when both sides carry one) and its key
//! must verify the certificate's signature. Every issuer must be a CA (basicConstraints
//! cA, keyCertSign if key usage is present, path length respected) valid at `now`.
//! Revocation is not checked (see the crate documentation).

use chrono::{DateTime, Utc};

use crate::cert::Certificate;
use crate::error::QesError;
use crate::trust::TrustStore;

/// Certificates in a chain, signer and root included. Russian chains have 2–3.
const MAX_CHAIN: usize = 6;

/// The chain `[signer, …, root]`; the last element is in `trust`.
pub(crate) fn build<'a>(
    signer: &'a Certificate,
    pool: &'a [Certificate],
    trust: &'a TrustStore,
    now: DateTime<Utc>,
) -> Result<Vec<&'a Certificate>, QesError> {
    let mut chain = vec![signer];
    let mut current = signer;
    loop {
        if trust.contains(current) {
            return Ok(chain);
        }
        if current.is_self_issued() {
            return Err(QesError::UntrustedIssuer(current.subject_name()));
        }
        if chain.len() >= MAX_CHAIN {
            return Err(QesError::ChainTooLong);
        }
        let issuer = find_issuer(current, pool, trust)?;
        check_ca(issuer, chain.len() - 1)?;
        if !issuer.is_valid_at(now) {
            return Err(QesError::IssuerCertificateNotValid {
                name: issuer.subject_name(),
                not_before: issuer.not_before(),
                not_after: issuer.not_after(),
            });
        }
        if chain.contains(&issuer) {
            return Err(QesError::ChainTooLong);
        }
        chain.push(issuer);
        current = issuer;
    }
}

fn find_issuer<'a>(
    cert: &Certificate,
    pool: &'a [Certificate],
    trust: &'a TrustStore,
) -> Result<&'a Certificate, QesError> {
    let aki = cert.authority_key_id()?;
    let mut named = false;
    let mut unsupported = None;
    for candidate in trust.certificates().iter().chain(pool) {
        if candidate.tbs().subject() != cert.tbs().issuer() || candidate == cert {
            continue;
        }
        named = true;
        if let (Some(aki), Some(ski)) = (&aki, candidate.subject_key_id()?)
            && *aki != ski
        {
            continue;
        }
        let verified = candidate.public_key().and_then(|key| cert.is_signed_by(&key));
        match verified {
            Ok(true) => return Ok(candidate),
            Ok(false) => {}
            // Keep looking: another certificate of the same CA may use a supported key.
            Err(e @ QesError::UnsupportedAlgorithm(_)) => unsupported = Some(e),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = unsupported {
        return Err(e);
    }
    if named {
        Err(QesError::ChainBroken(cert.subject_name()))
    } else {
        Err(QesError::IssuerNotFound(cert.issuer_name()))
    }
}

/// `below` is the number of CA certificates between this issuer and the signer.
fn check_ca(issuer: &Certificate, below: usize) -> Result<(), QesError> {
    let not_ca = || QesError::IssuerNotCa(issuer.subject_name());
    let bc = issuer.basic_constraints()?.ok_or_else(not_ca)?;
    if !bc.ca {
        return Err(not_ca());
    }
    if bc.path_len_constraint.is_some_and(|len| below > usize::from(len)) {
        return Err(not_ca());
    }
    if issuer.key_usage()?.is_some_and(|ku| !ku.key_cert_sign()) {
        return Err(not_ca());
    }
    Ok(())
}
