//! Verifies signatures made by OpenSSL (with its GOST engine) and the refusals.
//!
//! Every test runs over the committed fixtures (`testdata/fixtures`) and, when
//! `USLUGI_QES_MATERIAL` names a directory written by `testdata/generate.sh`, over that
//! fresh set too: new keys, serials and signatures, the same structure.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use chrono::{DateTime, TimeZone, Utc};
use qes::gost::{GostCurve, GostPublicKey};
use qes::{Algorithm, QesError, TrustStore, Verified, parse_certificate, verify_detached};

/// Inside every user certificate's validity (2025–2035) and every CA's.
fn now() -> DateTime<Utc> {
    at(2027, 6, 1)
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// The key sets with a root and a user each, and the algorithm their signatures use.
const SETS: [(&str, Algorithm); 6] = [
    ("gost256", Algorithm::Gost2012_256),
    ("gost256cp", Algorithm::Gost2012_256),
    ("gost512", Algorithm::Gost2012_512),
    ("p256", Algorithm::EcdsaP256Sha256),
    ("p384", Algorithm::EcdsaP384Sha384),
    ("rsa", Algorithm::RsaSha256),
];

struct Material {
    dir: PathBuf,
}

impl Material {
    fn read(&self, rel: &str) -> Vec<u8> {
        let path = self.dir.join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn challenge(&self) -> Vec<u8> {
        self.read("challenge.txt")
    }

    /// The six set roots: the trust store every test uses.
    fn trust(&self) -> TrustStore {
        let roots: Vec<Vec<u8>> =
            SETS.iter().map(|(set, _)| self.read(&format!("{set}/ca.pem"))).collect();
        let refs: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
        TrustStore::from_pem_or_der(&refs).unwrap()
    }

    fn verify(&self, sig: &str, extra: &[&str]) -> Result<Verified, QesError> {
        self.verify_at(sig, extra, now())
    }

    fn verify_at(
        &self,
        sig: &str,
        extra: &[&str],
        when: DateTime<Utc>,
    ) -> Result<Verified, QesError> {
        let extra: Vec<Vec<u8>> = extra.iter().map(|p| self.read(p)).collect();
        let refs: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
        verify_detached(&self.read(sig), &self.challenge(), &refs, &self.trust(), when)
    }
}

/// The committed fixtures, plus the directory in `USLUGI_QES_MATERIAL` if set.
fn materials() -> Vec<Material> {
    let mut out =
        vec![Material { dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures") }];
    if let Some(dir) = std::env::var_os("USLUGI_QES_MATERIAL").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("challenge.txt").is_file(),
            "USLUGI_QES_MATERIAL={} holds no generate.sh output",
            dir.display()
        );
        out.push(Material { dir });
    }
    out
}

fn err_code(r: Result<Verified, QesError>) -> &'static str {
    match r {
        Ok(v) => panic!("accepted, expected a refusal: {v:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn valid_signatures_of_every_algorithm_are_accepted_with_the_subject() {
    for m in materials() {
        for (set, algorithm) in SETS {
            let user = parse_certificate(&m.read(&format!("{set}/user.pem"))).unwrap();
            for (sig, extra) in [
                ("sig.p7s", vec![]),
                ("sig-noattr.p7s", vec![]),
                ("sig-nocert.p7s", vec![format!("{set}/user.pem")]),
            ] {
                let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
                let v = m
                    .verify(&format!("{set}/{sig}"), &extra)
                    .unwrap_or_else(|e| panic!("{set}/{sig}: {e} ({})", e.code()));
                assert_eq!(v.algorithm, algorithm, "{set}/{sig}");
                let s = &v.subject;
                assert_eq!(s.snils.as_deref(), Some("11223344595"));
                assert_eq!(s.inn.as_deref(), Some("500100732259"));
                assert_eq!(s.surname.as_deref(), Some("Иванов"));
                assert_eq!(s.given_name.as_deref(), Some("Иван Иванович"));
                assert_eq!(s.common_name.as_deref(), Some("Иванов Иван Иванович"));
                assert_eq!(v.issuer, format!("Тестовый УЦ {set}"));
                assert_eq!(v.serial, user.serial());
                assert!(!v.serial.is_empty() && v.serial.chars().all(|c| c.is_ascii_hexdigit()));
                assert_eq!(v.not_before, Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
                assert_eq!(v.not_after, Utc.with_ymd_and_hms(2035, 1, 1, 0, 0, 0).unwrap());
                assert_eq!(v.certificate, user);
                // OpenSSL writes signingTime among the signed attributes; -noattr has none.
                assert_eq!(v.signing_time.is_some(), sig != "sig-noattr.p7s", "{set}/{sig}");
            }
            let v = m.verify(&format!("{set}/sig.p7s"), &[]).unwrap();
            match set {
                "gost256" => assert_eq!(v.subject.email.as_deref(), Some("ivanov@example.ru")),
                "rsa" => {
                    assert_eq!(v.subject.organization.as_deref(), Some("ООО «Ромашка»"));
                    assert_eq!(v.subject.inn_le.as_deref(), Some("7707083893"));
                    assert_eq!(v.subject.ogrn.as_deref(), Some("1027700132195"));
                }
                "p256" => assert_eq!(v.subject.ogrnip.as_deref(), Some("304500116000157")),
                _ => {
                    assert_eq!(v.subject.email, None);
                    assert_eq!(v.subject.organization, None);
                }
            }
        }
    }
}

#[test]
fn pem_base64_and_other_digests_are_accepted() {
    for m in materials() {
        let pem = m.verify("gost256/sig.pem", &[]).unwrap();
        assert_eq!(pem.algorithm, Algorithm::Gost2012_256);

        // Bare base64, as browser plug-ins return it.
        let b64 = Base64::encode_string(&m.read("gost256/sig.p7s"));
        let v = verify_detached(b64.as_bytes(), &m.challenge(), &[], &m.trust(), now()).unwrap();
        assert_eq!(v.subject.snils.as_deref(), Some("11223344595"));

        let sha512 = m.verify("rsa/sig-sha512.p7s", &[]).unwrap();
        assert_eq!(sha512.algorithm, Algorithm::RsaSha512);
    }
}

#[test]
fn changed_content_is_refused() {
    for m in materials() {
        let mut content = m.challenge();
        content[0] ^= 0x20;
        for (set, _) in SETS {
            for sig in ["sig.p7s", "sig-noattr.p7s"] {
                let r = verify_detached(
                    &m.read(&format!("{set}/{sig}")),
                    &content,
                    &[],
                    &m.trust(),
                    now(),
                );
                assert_eq!(err_code(r), "content_mismatch", "{set}/{sig}");
            }
        }
        let r = verify_detached(&m.read("gost256/sig.p7s"), b"", &[], &m.trust(), now());
        assert_eq!(r.unwrap_err(), QesError::ContentMismatch);
        assert_eq!(
            QesError::ContentMismatch.to_string(),
            "Подпись не соответствует подписанным данным"
        );
    }
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_refused() {
    for m in materials() {
        // Only the user certificate comes with the signature: its CA is unknown.
        let r = m.verify("untrusted/sig.p7s", &[]);
        assert_eq!(err_code(r), "issuer_not_found");
        // The CA's own certificate comes along, but nobody trusts it.
        let r = m.verify("untrusted/sig-with-root.p7s", &[]);
        assert_eq!(r.unwrap_err(), QesError::UntrustedIssuer("Посторонний УЦ".into()));
        let r = m.verify("untrusted/sig.p7s", &["untrusted/ca.pem"]);
        let e = r.unwrap_err();
        assert_eq!(e.code(), "untrusted_issuer");
        assert_eq!(
            e.to_string(),
            "Сертификат выдан недоверенным удостоверяющим центром «Посторонний УЦ»"
        );
        // Once an operator trusts that CA, the same signature is accepted.
        let r = verify_detached(
            &m.read("untrusted/sig-with-root.p7s"),
            &m.challenge(),
            &[],
            &TrustStore::from_pem_or_der(&[&m.read("untrusted/ca.pem")]).unwrap(),
            now(),
        );
        assert!(r.is_ok(), "{r:?}");
    }
}

#[test]
fn chains_through_an_intermediate_and_broken_chains() {
    for m in materials() {
        // The intermediate CA is neither embedded nor supplied.
        let r = m.verify("intermediate/sig.p7s", &[]);
        assert_eq!(r.unwrap_err(), QesError::IssuerNotFound("Тестовый подчинённый УЦ".into()));
        // Supplied by the caller, or embedded: root → intermediate → user.
        let v = m.verify("intermediate/sig.p7s", &["intermediate/ca.pem"]).unwrap();
        assert_eq!(v.issuer, "Тестовый подчинённый УЦ");
        m.verify("intermediate/sig-with-chain.p7s", &[]).unwrap();
        // The intermediate expires before its user does.
        let r = m.verify_at("intermediate/sig-with-chain.p7s", &[], at(2029, 6, 1));
        let e = r.unwrap_err();
        assert_eq!(e.code(), "issuer_certificate_not_valid");
        assert!(e.to_string().contains("по 01.01.2029"), "{e}");

        // A forger's CA named like the trusted root: names chain, signatures do not.
        let r = m.verify("forged/sig.p7s", &[]);
        assert_eq!(r.unwrap_err(), QesError::ChainBroken("Иванов Иван Иванович".into()));
        // Even when the forged CA certificate is supplied.
        let r = m.verify("forged/sig.p7s", &["forged/ca.pem"]);
        assert_eq!(err_code(r), "untrusted_issuer");

        // An end-entity certificate acting as a CA.
        let r = m.verify("notca/sig.p7s", &[]);
        assert_eq!(r.unwrap_err(), QesError::IssuerNotCa("Иванов Иван Иванович".into()));
    }
}

#[test]
fn validity_is_checked_at_the_given_time() {
    for m in materials() {
        let r = m.verify("expired/sig.p7s", &[]);
        let e = r.unwrap_err();
        assert_eq!(e.code(), "certificate_expired");
        assert_eq!(e.to_string(), "Срок действия сертификата истёк 01.01.2025");
        // The same certificate was fine in 2024.
        m.verify_at("expired/sig.p7s", &[], at(2024, 6, 1)).unwrap();

        let r = m.verify_at("gost256/sig.p7s", &[], at(2035, 1, 2));
        assert_eq!(err_code(r), "certificate_expired");
        let r = m.verify_at("gost256/sig.p7s", &[], at(2024, 12, 1));
        let e = r.unwrap_err();
        assert_eq!(e.code(), "certificate_not_yet_valid");
        // Midnight UTC on 1 January is 03:00 in Moscow.
        assert!(e.to_string().ends_with("01.01.2025"), "{e}");
        // Both ends of the validity period are included.
        m.verify_at("gost256/sig.p7s", &[], Utc.with_ymd_and_hms(2035, 1, 1, 0, 0, 0).unwrap())
            .unwrap();
    }
}

#[test]
fn a_certificate_not_meant_for_signing_is_refused() {
    for m in materials() {
        let r = m.verify("nokeyusage/sig.p7s", &[]);
        let e = r.unwrap_err();
        assert_eq!(e, QesError::WrongKeyUsage);
        assert_eq!(e.to_string(), "Сертификат не предназначен для электронной подписи");
    }
}

#[test]
fn garbage_and_wrong_shapes_are_refused() {
    for m in materials() {
        let good = m.read("gost256/sig.p7s");
        let trust = m.trust();
        let content = m.challenge();
        let check = |input: &[u8], code: &str| {
            let r = verify_detached(input, &content, &[], &trust, now());
            assert_eq!(err_code(r), code, "input {:02x?}", &input[..input.len().min(8)]);
        };
        check(b"", "malformed_signature");
        check(b"hello, this is not a signature", "malformed_signature");
        check(&[0x30, 0x82, 0xFF, 0xFF, 0x06], "malformed_signature");
        check(&good[..good.len() / 2], "malformed_signature");
        check(&good[..good.len() - 1], "malformed_signature");
        let mut trailing = good.clone();
        trailing.push(0);
        check(&trailing, "malformed_signature");
        // A certificate is not a signature.
        check(parse_certificate(&m.read("gost256/user.pem")).unwrap().der(), "malformed_signature");
        // Pseudo-random bytes that start like DER.
        let mut noise = vec![0x30, 0x82, 0x01, 0x00];
        let mut x: u32 = 0x1234_5678;
        for _ in 0..256 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        check(&noise, "malformed_signature");
        // A flipped bit inside the signature value.
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n - 10] ^= 0x01;
        check(&flipped, "signature_invalid");

        check(&m.read("p256/sig-two.p7s"), "multiple_signers");
        // The signer's certificate is nowhere.
        check(&m.read("gost256/sig-nocert.p7s"), "signer_certificate_not_found");
        // Extra certificates that are not certificates.
        let r = verify_detached(&good, &content, &[b"junk"], &trust, now());
        assert_eq!(err_code(r), "malformed_certificate");
    }
}

#[test]
fn raw_gost_signatures_verify_on_every_parameter_set() {
    for m in materials() {
        let challenge = m.challenge();
        let mut changed = challenge.clone();
        changed[1] ^= 1;
        for (name, curve) in [
            ("gost256-TCA", GostCurve::Tc26A256),
            ("gost256-TCB", GostCurve::CryptoProA),
            ("gost256-TCC", GostCurve::CryptoProB),
            ("gost256-TCD", GostCurve::CryptoProC),
            ("gost256-A", GostCurve::CryptoProA),
            ("gost256-B", GostCurve::CryptoProB),
            ("gost256-C", GostCurve::CryptoProC),
            ("gost256-XA", GostCurve::CryptoProA),
            ("gost256-XB", GostCurve::CryptoProC),
            ("gost512-A", GostCurve::Tc26A512),
            ("gost512-B", GostCurve::Tc26B512),
            ("gost512-C", GostCurve::Tc26C512),
        ] {
            let key = GostPublicKey::from_spki_der(&m.read(&format!("raw/{name}.spki.der")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key.curve(), curve, "{name}");
            let sig = m.read(&format!("raw/{name}.sig"));
            assert!(key.verify(&challenge, &sig), "{name}: a valid signature refused");
            assert!(!key.verify(&changed, &sig), "{name}: changed content accepted");
            // s‖r is the order: r‖s must fail.
            let half = sig.len() / 2;
            let swapped = [&sig[half..], &sig[..half]].concat();
            assert!(!key.verify(&challenge, &swapped), "{name}: r‖s accepted");
        }
    }
}

#[test]
fn trust_store_from_files_and_directories() {
    for m in materials() {
        let pem = m.read("gost256/ca.pem");
        let der = parse_certificate(&pem).unwrap().der().to_vec();
        let from_der = TrustStore::from_pem_or_der(&[&der]).unwrap();
        assert_eq!(from_der.certificates().len(), 1);
        // Several certificates in one PEM; duplicates collapse.
        let both = [pem.clone(), m.read("rsa/ca.pem"), pem.clone()].concat();
        assert_eq!(TrustStore::from_pem_or_der(&[&both]).unwrap().certificates().len(), 2);

        assert_eq!(TrustStore::from_pem_or_der(&[]).unwrap_err(), QesError::TrustStoreEmpty);
        assert_eq!(
            TrustStore::from_pem_or_der(&[b"garbage"]).unwrap_err(),
            QesError::MalformedCertificate
        );

        let dir = std::env::temp_dir().join(format!("qes-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("root1.CER"), &der).unwrap();
        std::fs::write(dir.join("root2.crt"), m.read("p256/ca.pem")).unwrap();
        std::fs::write(dir.join("readme.txt"), b"not a certificate").unwrap();
        let store = TrustStore::from_dir(&dir).unwrap();
        assert_eq!(store.certificates().len(), 2);
        let v = verify_detached(&m.read("p256/sig.p7s"), &m.challenge(), &[], &store, now());
        assert_eq!(v.unwrap().algorithm, Algorithm::EcdsaP256Sha256);
        let r = verify_detached(&m.read("rsa/sig.p7s"), &m.challenge(), &[], &store, now());
        assert_eq!(err_code(r), "issuer_not_found");
        std::fs::write(
            dir.join("broken.pem"),
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(TrustStore::from_dir(&dir).unwrap_err(), QesError::MalformedCertificate);
        std::fs::remove_dir_all(&dir).unwrap();

        let e = TrustStore::from_dir(dir.join("missing")).unwrap_err();
        assert_eq!(e.code(), "trust_store_unreadable");
    }
}

#[test]
fn certificates_are_parsed_for_display() {
    for m in materials() {
        let cert = parse_certificate(&m.read("rsa/user.pem")).unwrap();
        assert_eq!(cert.subject().organization.as_deref(), Some("ООО «Ромашка»"));
        assert_eq!(cert.subject_name(), "Иванов Иван Иванович");
        assert_eq!(cert.issuer_name(), "Тестовый УЦ rsa");
        assert!(cert.is_valid_at(now()));
        assert!(!cert.is_valid_at(at(2036, 1, 1)));
        // DER and PEM give the same certificate.
        assert_eq!(parse_certificate(cert.der()).unwrap(), cert);
        assert_eq!(parse_certificate(b"nope").unwrap_err(), QesError::MalformedCertificate);
        let gost = parse_certificate(&m.read("gost512/user.pem")).unwrap();
        assert_eq!(GostPublicKey::from_certificate(&gost).unwrap().curve(), GostCurve::Tc26A512);
        assert_eq!(
            GostPublicKey::from_certificate(&cert).unwrap_err().code(),
            "unsupported_algorithm"
        );
    }
}
