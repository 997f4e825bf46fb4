//! GOST R 34.10-2012 verification speed on the committed fixtures (one thread):
//! the raw signature check (Streebog of a short challenge plus the curve arithmetic) and the
//! full detached-CMS verification (parsing, digest, signed attributes, the user certificate
//! checked against its root — two GOST verifications in all); and signing (constant-time,
//! Streebog of a short document plus one ladder multiplication). Operations per second per
//! core are 1 / the reported time.

use std::path::Path;

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use qes::gost::{GostCurve, GostPrivateKey, GostPublicKey};
use qes::{TrustStore, verify_detached};

fn read(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| unreachable!("{}: {e}", path.display()))
}

fn main() {
    let mut c = Criterion::default().sample_size(30).configure_from_args();
    let challenge = read("challenge.txt");
    let now = Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).single().unwrap_or_else(|| unreachable!());

    for (name, curve_file) in [
        ("gost256_tc26a/raw_verify", "raw/gost256-TCA"),
        ("gost256_cryptopro_a/raw_verify", "raw/gost256-A"),
        ("gost512_tc26a/raw_verify", "raw/gost512-A"),
    ] {
        let key = GostPublicKey::from_spki_der(&read(&format!("{curve_file}.spki.der")))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let sig = read(&format!("{curve_file}.sig"));
        assert!(key.verify(&challenge, &sig));
        c.bench_function(name, |b| b.iter(|| key.verify(&challenge, &sig)));
    }

    let trust = TrustStore::from_pem_or_der(&[&read("gost256/ca.pem")])
        .unwrap_or_else(|e| unreachable!("{e}"));
    let cms = read("gost256/sig.p7s");
    assert!(verify_detached(&cms, &challenge, &[], &trust, now).is_ok());
    c.bench_function("gost256_tc26a/cms_verify", |b| {
        b.iter(|| verify_detached(&cms, &challenge, &[], &trust, now))
    });
    for (name, curve) in
        [("gost256_tc26a/sign", GostCurve::Tc26A256), ("gost512_tc26a/sign", GostCurve::Tc26A512)]
    {
        let mut d: Vec<u8> = (0..curve.size() as u8).map(|i| i.wrapping_mul(29) | 1).collect();
        *d.last_mut().unwrap_or_else(|| unreachable!()) = 0x01;
        let key = GostPrivateKey::from_le_bytes(curve, &d).unwrap_or_else(|| unreachable!());
        c.bench_function(name, |b| b.iter(|| key.sign(&challenge, b"bench entropy")));
    }
    c.final_summary();
}
