//! The platform's GOST document signatures: made here, checked by this crate's own
//! verifier and by OpenSSL with its GOST engine (an independent implementation).
//!
//! The key and certificate are the citizen set of `testdata/generate.sh` (the only one
//! written with its private key), found through `USLUGI_QES_MATERIAL` (set by
//! `scripts/test`); without it the tests say so and pass.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use chrono::{TimeZone, Utc};
use qes::{Algorithm, DocumentSigner, QesError, TrustStore, verify_detached};

fn citizen() -> Option<PathBuf> {
    match std::env::var_os("USLUGI_QES_MATERIAL").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("citizen")),
        None => {
            eprintln!("skipped: USLUGI_QES_MATERIAL is not set (scripts/test sets it)");
            None
        }
    }
}

fn read(dir: &std::path::Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn a_signed_document_verifies_here_and_in_openssl() {
    let Some(dir) = citizen() else { return };
    let signer =
        DocumentSigner::from_pem(&read(&dir, "gost256/key.pem"), &read(&dir, "gost256/user.pem"))
            .unwrap();
    assert_eq!(signer.algorithm(), Algorithm::Gost2012_256);
    let document = b"%PDF-1.7\n% a result document\n".repeat(300);
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap();
    let cms = signer.sign_detached(&document, at, b"fresh entropy").unwrap();

    // This crate's verifier: chain to the set's root, signing time as signed.
    let trust = TrustStore::from_pem_or_der(&[&read(&dir, "gost256/ca.pem")]).unwrap();
    let verified = verify_detached(&cms, &document, &[], &trust, at).unwrap();
    assert_eq!(verified.algorithm, Algorithm::Gost2012_256);
    assert_eq!(verified.signing_time, Some(at));
    assert_eq!(verified.certificate.der(), signer.certificate().der());
    let mut changed = document.clone();
    changed[100] ^= 1;
    assert_eq!(
        verify_detached(&cms, &changed, &[], &trust, at).unwrap_err(),
        QesError::ContentMismatch
    );

    // OpenSSL with the GOST engine, through the generated config.
    let scratch = std::env::temp_dir().join(format!("uslugi-gost-sign-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("doc.pdf"), &document).unwrap();
    std::fs::write(scratch.join("doc.p7s"), &cms).unwrap();
    std::fs::write(scratch.join("changed.pdf"), &changed).unwrap();
    let openssl = |content: &str| {
        Command::new("openssl")
            .env("OPENSSL_CONF", dir.join("openssl.cnf"))
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
            .arg(scratch.join("doc.p7s"))
            .arg("-content")
            .arg(scratch.join(content))
            .arg("-CAfile")
            .arg(dir.join("gost256/ca.pem"))
            .args(["-purpose", "any", "-attime", "1795000000", "-out", "/dev/null"])
            .output()
            .expect("openssl runs")
    };
    let good = openssl("doc.pdf");
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    let bad = openssl("changed.pdf");
    assert!(!bad.status.success(), "OpenSSL must refuse a changed document");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_key_and_a_certificate_that_do_not_match_are_refused() {
    let Some(dir) = citizen() else { return };
    let err = DocumentSigner::from_pem(
        &read(&dir, "gost256/key.pem"),
        &read(&dir, "othersnils/user.pem"),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "Ключ подписи документов: сертификат выдан на другой ключ");
    let err = DocumentSigner::from_pem(&read(&dir, "p256/key.pem"), &read(&dir, "p256/user.pem"))
        .unwrap_err();
    assert_eq!(err.to_string(), "Ключ подписи документов: нужен ключ ГОСТ Р 34.10-2012");
    let err = DocumentSigner::from_pem(b"not a key", &read(&dir, "gost256/user.pem")).unwrap_err();
    assert_eq!(err.code(), "signing_key");
}
