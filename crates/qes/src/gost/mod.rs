//! GOST R 34.10-2012 signature verification, and signing for the platform's own
//! documents (hand-written: no maintained crate exists).
//!
//! Byte order, as TC26 and OpenSSL's GOST engine use it (RFC 9215, RFC 4491):
//! - the public key is an OCTET STRING holding X‖Y, each coordinate little-endian;
//! - the signature is s‖r, each half big-endian;
//! - the Streebog digest is read as a little-endian integer.
//!
//! Getting any of these wrong makes every real signature fail, which the tests against
//! OpenSSL-made signatures would show at once.

mod curves;
mod ec;
mod field;
mod sign;

use const_oid::ObjectIdentifier;
use crypto_bigint::zeroize::Zeroizing;
use crypto_bigint::{Uint, modular::ConstMontyParams};
use sha2::Sha512;
use streebog::{Digest, Streebog256, Streebog512};

use curves::CurveParams;

/// A GOST R 34.10-2012 parameter set (curve) this crate can verify on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GostCurve {
    /// id-tc26-gost-3410-12-256-paramSetA (1.2.643.7.1.2.1.1.1), a twisted Edwards curve
    /// used here in its Weierstrass form.
    Tc26A256,
    /// id-GostR3410-2001-CryptoPro-A-ParamSet (1.2.643.2.2.35.1; also XchA 1.2.643.2.2.36.0
    /// and id-tc26-gost-3410-12-256-paramSetB 1.2.643.7.1.2.1.1.2).
    CryptoProA,
    /// id-GostR3410-2001-CryptoPro-B-ParamSet (1.2.643.2.2.35.2; also paramSetC
    /// 1.2.643.7.1.2.1.1.3).
    CryptoProB,
    /// id-GostR3410-2001-CryptoPro-C-ParamSet (1.2.643.2.2.35.3; also XchB 1.2.643.2.2.36.1
    /// and paramSetD 1.2.643.7.1.2.1.1.4).
    CryptoProC,
    /// id-tc26-gost-3410-12-512-paramSetA (1.2.643.7.1.2.1.2.1).
    Tc26A512,
    /// id-tc26-gost-3410-12-512-paramSetB (1.2.643.7.1.2.1.2.2).
    Tc26B512,
    /// id-tc26-gost-3410-12-512-paramSetC (1.2.643.7.1.2.1.2.3), twisted Edwards.
    Tc26C512,
    /// The standard's 256-bit example curve (test material only; never taken from an OID).
    #[doc(hidden)]
    Test256,
    /// The standard's 512-bit example curve (test material only; never taken from an OID).
    #[doc(hidden)]
    Test512,
}

impl GostCurve {
    /// The parameter set named by `oid`, if it is one of the supported ones.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        const fn o(s: &str) -> ObjectIdentifier {
            ObjectIdentifier::new_unwrap(s)
        }
        const TABLE: [(ObjectIdentifier, GostCurve); 12] = [
            (o("1.2.643.7.1.2.1.1.1"), GostCurve::Tc26A256),
            (o("1.2.643.2.2.35.1"), GostCurve::CryptoProA),
            (o("1.2.643.2.2.36.0"), GostCurve::CryptoProA),
            (o("1.2.643.7.1.2.1.1.2"), GostCurve::CryptoProA),
            (o("1.2.643.2.2.35.2"), GostCurve::CryptoProB),
            (o("1.2.643.7.1.2.1.1.3"), GostCurve::CryptoProB),
            (o("1.2.643.2.2.35.3"), GostCurve::CryptoProC),
            (o("1.2.643.2.2.36.1"), GostCurve::CryptoProC),
            (o("1.2.643.7.1.2.1.1.4"), GostCurve::CryptoProC),
            (o("1.2.643.7.1.2.1.2.1"), GostCurve::Tc26A512),
            (o("1.2.643.7.1.2.1.2.2"), GostCurve::Tc26B512),
            (o("1.2.643.7.1.2.1.2.3"), GostCurve::Tc26C512),
        ];
        TABLE.iter().find(|(o, _)| o == oid).map(|(_, c)| *c)
    }

    /// The parameter set's name, as TC26 or CryptoPro registered it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Test256 => curves::TEST_256.name,
            Self::Tc26A256 => curves::TC26_256_A.name,
            Self::CryptoProA => curves::CRYPTOPRO_A.name,
            Self::CryptoProB => curves::CRYPTOPRO_B.name,
            Self::CryptoProC => curves::CRYPTOPRO_C.name,
            Self::Test512 => curves::TEST_512.name,
            Self::Tc26A512 => curves::TC26_512_A.name,
            Self::Tc26B512 => curves::TC26_512_B.name,
            Self::Tc26C512 => curves::TC26_512_C.name,
        }
    }

    /// Size of one coordinate, of `r` and of `s` in bytes: 32 or 64.
    pub fn size(self) -> usize {
        match self {
            Self::Tc26A256 | Self::CryptoProA | Self::CryptoProB | Self::CryptoProC => 32,
            Self::Test256 => 32,
            Self::Tc26A512 | Self::Tc26B512 | Self::Tc26C512 | Self::Test512 => 64,
        }
    }
}

/// A GOST R 34.10-2012 public key: a curve and a point, as stored in certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GostPublicKey {
    curve: GostCurve,
    /// X‖Y, each little-endian, `2 × curve.size()` bytes.
    point_le: Vec<u8>,
}

impl GostPublicKey {
    /// A key from the certificate's encoding of the point: X‖Y, each coordinate
    /// little-endian (the content of the OCTET STRING in subjectPublicKey). `None` if the
    /// length does not fit the curve. Whether the point is on the curve is checked when
    /// verifying.
    pub fn from_le_bytes(curve: GostCurve, point_le: &[u8]) -> Option<Self> {
        (point_le.len() == 2 * curve.size()).then(|| Self { curve, point_le: point_le.to_vec() })
    }

    /// The curve of this key.
    pub fn curve(&self) -> GostCurve {
        self.curve
    }

    /// X‖Y, each coordinate little-endian.
    pub fn to_le_bytes(&self) -> &[u8] {
        &self.point_le
    }

    /// Verifies `signature` (s‖r, each half big-endian) over `message`, hashed with
    /// GOST R 34.11-2012 (Streebog) of the key's size: 256 bits for 256-bit keys, 512 for
    /// 512-bit keys.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if self.curve.size() == 32 {
            self.verify_digest(&Streebog256::digest(message), signature)
        } else {
            self.verify_digest(&Streebog512::digest(message), signature)
        }
    }

    /// Verifies `signature` (s‖r) over a precomputed digest, read as a little-endian
    /// integer. The digest must be as long as the key's coordinates.
    pub fn verify_digest(&self, digest: &[u8], signature: &[u8]) -> bool {
        match self.curve {
            GostCurve::Test256 => {
                self.run::<curves::FieldTest256, 4>(&curves::TEST_256, digest, signature)
            }
            GostCurve::Tc26A256 => {
                self.run::<curves::FieldFd97, 4>(&curves::TC26_256_A, digest, signature)
            }
            GostCurve::CryptoProA => {
                self.run::<curves::FieldFd97, 4>(&curves::CRYPTOPRO_A, digest, signature)
            }
            GostCurve::CryptoProB => {
                self.run::<curves::FieldC99, 4>(&curves::CRYPTOPRO_B, digest, signature)
            }
            GostCurve::CryptoProC => {
                self.run::<curves::Field759b, 4>(&curves::CRYPTOPRO_C, digest, signature)
            }
            GostCurve::Test512 => {
                self.run::<curves::FieldTest512, 8>(&curves::TEST_512, digest, signature)
            }
            GostCurve::Tc26A512 => {
                self.run::<curves::FieldDc7, 8>(&curves::TC26_512_A, digest, signature)
            }
            GostCurve::Tc26B512 => {
                self.run::<curves::Field6f, 8>(&curves::TC26_512_B, digest, signature)
            }
            GostCurve::Tc26C512 => {
                self.run::<curves::FieldDc7, 8>(&curves::TC26_512_C, digest, signature)
            }
        }
    }

    fn run<M: ConstMontyParams<L>, const L: usize>(
        &self,
        params: &CurveParams<L>,
        digest: &[u8],
        signature: &[u8],
    ) -> bool {
        let n = 8 * L;
        if digest.len() != n || signature.len() != 2 * n || self.point_le.len() != 2 * n {
            return false;
        }
        let (x, y) = self.point_le.split_at(n);
        let (s, r) = signature.split_at(n);
        ec::verify::<M, L>(
            params,
            &Uint::from_le_slice(x),
            &Uint::from_le_slice(y),
            &Uint::from_le_slice(digest),
            &Uint::from_be_slice(r),
            &Uint::from_be_slice(s),
        )
    }
}

/// Runs `$body` with `M` (the field type), `L` (limbs) and `params` bound for `$curve`.
macro_rules! with_curve {
    ($curve:expr, |$params:ident: $m:ident, $l:ident| $body:expr) => {
        match $curve {
            GostCurve::Test256 => {
                type $m = curves::FieldTest256;
                const $l: usize = 4;
                let $params = &curves::TEST_256;
                $body
            }
            GostCurve::Tc26A256 => {
                type $m = curves::FieldFd97;
                const $l: usize = 4;
                let $params = &curves::TC26_256_A;
                $body
            }
            GostCurve::CryptoProA => {
                type $m = curves::FieldFd97;
                const $l: usize = 4;
                let $params = &curves::CRYPTOPRO_A;
                $body
            }
            GostCurve::CryptoProB => {
                type $m = curves::FieldC99;
                const $l: usize = 4;
                let $params = &curves::CRYPTOPRO_B;
                $body
            }
            GostCurve::CryptoProC => {
                type $m = curves::Field759b;
                const $l: usize = 4;
                let $params = &curves::CRYPTOPRO_C;
                $body
            }
            GostCurve::Test512 => {
                type $m = curves::FieldTest512;
                const $l: usize = 8;
                let $params = &curves::TEST_512;
                $body
            }
            GostCurve::Tc26A512 => {
                type $m = curves::FieldDc7;
                const $l: usize = 8;
                let $params = &curves::TC26_512_A;
                $body
            }
            GostCurve::Tc26B512 => {
                type $m = curves::Field6f;
                const $l: usize = 8;
                let $params = &curves::TC26_512_B;
                $body
            }
            GostCurve::Tc26C512 => {
                type $m = curves::FieldDc7;
                const $l: usize = 8;
                let $params = &curves::TC26_512_C;
                $body
            }
        }
    };
}

/// A GOST R 34.10-2012 private key: the platform's document-signing key (an agency's
/// qualified key, configured by the operator). The scalar is wiped on drop and never
/// printed.
#[derive(Clone)]
pub struct GostPrivateKey {
    curve: GostCurve,
    /// `d`, little-endian, `curve.size()` bytes.
    d_le: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for GostPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GostPrivateKey").field("curve", &self.curve).finish_non_exhaustive()
    }
}

fn words_le<const L: usize>(v: &Uint<L>) -> Vec<u8> {
    v.as_words().iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl GostPrivateKey {
    /// A key from `d` as little-endian bytes (how OpenSSL's GOST engine and CryptoPro keep
    /// it). `None` unless `d` has the curve's size and lies in `(0, q)`.
    pub fn from_le_bytes(curve: GostCurve, d_le: &[u8]) -> Option<Self> {
        let key = Self { curve, d_le: Zeroizing::new(d_le.to_vec()) };
        (d_le.len() == curve.size()).then_some(())?;
        key.public_key().map(|_| key)
    }

    pub fn curve(&self) -> GostCurve {
        self.curve
    }

    /// The public key `d·G`.
    pub fn public_key(&self) -> Option<GostPublicKey> {
        let curve = self.curve;
        with_curve!(curve, |params: M, L| {
            let d = Zeroizing::new(Uint::<L>::from_le_slice(&self.d_le));
            let (x, y) = sign::public_point::<M, L>(params, &d)?;
            let mut point = words_le(&x);
            point.extend(words_le(&y));
            Some(GostPublicKey { curve, point_le: point })
        })
    }

    /// Signs `message`, hashed with Streebog of the key's size; the signature is s‖r, each
    /// half big-endian (as [`GostPublicKey::verify`] reads it).
    ///
    /// The nonce is derived from the key, the digest and `entropy` (fresh random bytes
    /// from the caller) through SHA-512, so a weak or repeated `entropy` never repeats a
    /// nonce for different messages.
    pub fn sign(&self, message: &[u8], entropy: &[u8]) -> Vec<u8> {
        if self.curve.size() == 32 {
            self.sign_digest(&Streebog256::digest(message), entropy)
        } else {
            self.sign_digest(&Streebog512::digest(message), entropy)
        }
    }

    /// [`GostPrivateKey::sign`] over a precomputed digest (read little-endian).
    pub fn sign_digest(&self, digest: &[u8], entropy: &[u8]) -> Vec<u8> {
        let curve = self.curve;
        with_curve!(curve, |params: M, L| {
            let d = Zeroizing::new(Uint::<L>::from_le_slice(&self.d_le));
            let e = Uint::<L>::from_le_slice(digest);
            let shift = Uint::<L>::BITS - params.q.as_ref().bits_vartime();
            for counter in 0u32.. {
                let mut wide = Zeroizing::new(Vec::with_capacity(8 * L));
                while wide.len() < 8 * L {
                    let block = Sha512::new()
                        .chain_update(b"uslugi-gost-nonce")
                        .chain_update(&*self.d_le)
                        .chain_update(digest)
                        .chain_update(entropy)
                        .chain_update(counter.to_be_bytes())
                        .chain_update((wide.len() as u32).to_be_bytes())
                        .finalize();
                    wide.extend_from_slice(&block);
                }
                // Rejection sampling in (0, q): no bias.
                let k = Zeroizing::new(Uint::<L>::from_le_slice(&wide[..8 * L]).shr_vartime(shift));
                if let Some((r, s)) = sign::sign::<M, L>(params, &d, &e, &k) {
                    let mut out = s.to_be_bytes().to_vec();
                    out.extend_from_slice(&r.to_be_bytes());
                    return out;
                }
            }
            unreachable!("a nonce in (0, q) is found with overwhelming probability")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn le(be_hex: &str) -> Vec<u8> {
        let mut v = hex(be_hex);
        v.reverse();
        v
    }

    /// A key from big-endian coordinates, as the standard prints them.
    fn key(curve: GostCurve, x: &str, y: &str) -> GostPublicKey {
        let mut point = le(x);
        point.extend(le(y));
        GostPublicKey::from_le_bytes(curve, &point).unwrap()
    }

    /// GOST R 34.10-2012 Appendix A.1 / RFC 7091 section 7.1: e is given as an integer,
    /// so the digest passed in is its little-endian encoding; the signature is s‖r.
    #[test]
    fn standard_example_256_verifies() {
        let q = key(
            GostCurve::Test256,
            "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
            "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
        );
        let e = le("2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5");
        let r = "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493";
        let s = "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40";
        let sig = hex(&format!("{s}{r}"));
        assert!(q.verify_digest(&e, &sig));

        // r‖s (the other order) must fail, as must a changed digest or signature.
        assert!(!q.verify_digest(&e, &hex(&format!("{r}{s}"))));
        let mut e2 = e.clone();
        e2[0] ^= 1;
        assert!(!q.verify_digest(&e2, &sig));
        let mut sig2 = sig.clone();
        sig2[63] ^= 1;
        assert!(!q.verify_digest(&e, &sig2));
        // Out-of-range values are refused, not reduced.
        assert!(!q.verify_digest(&e, &[0u8; 64]));
        assert!(!q.verify_digest(&e, &[0xFFu8; 64]));
        assert!(!q.verify_digest(&e[..31], &sig));
    }

    /// GOST R 34.10-2012 Appendix A.2 / RFC 7091 section 7.2.
    #[test]
    fn standard_example_512_verifies() {
        let q = key(
            GostCurve::Test512,
            "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
            "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
        );
        let e = le(
            "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C5917184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C",
        );
        let r = "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD35492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36";
        let s = "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A";
        let sig = hex(&format!("{s}{r}"));
        assert!(q.verify_digest(&e, &sig));
        let mut sig2 = sig.clone();
        sig2[0] ^= 0x10;
        assert!(!q.verify_digest(&e, &sig2));
    }

    /// Signing reproduces the standard's own examples (RFC 7091 section 7): the public key
    /// from `d`, and `(r, s)` from `d`, `k` and `e`.
    #[test]
    fn standard_examples_sign() {
        let d = le("7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28");
        let key = GostPrivateKey::from_le_bytes(GostCurve::Test256, &d).unwrap();
        let public = key.public_key().unwrap();
        assert_eq!(
            public,
            self::key(
                GostCurve::Test256,
                "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
                "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
            )
        );
        let u = |h: &str| Uint::<4>::from_be_hex(h);
        let (r, s) = sign::sign::<curves::FieldTest256, 4>(
            &curves::TEST_256,
            &u("7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28"),
            &u("2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5"),
            &u("77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3"),
        )
        .unwrap();
        assert_eq!(r, u("41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493"));
        assert_eq!(s, u("01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40"));

        let d = le(
            "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B102072E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4",
        );
        let key = GostPrivateKey::from_le_bytes(GostCurve::Test512, &d).unwrap();
        assert_eq!(
            key.public_key().unwrap(),
            self::key(
                GostCurve::Test512,
                "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1",
                "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC",
            )
        );
    }

    /// On every parameter set, a fresh signature verifies, a second one differs (a new
    /// nonce) and also verifies, and neither covers another message. Keys out of range
    /// are refused.
    #[test]
    fn signatures_verify_on_every_curve() {
        let curves = [
            GostCurve::Tc26A256,
            GostCurve::CryptoProA,
            GostCurve::CryptoProB,
            GostCurve::CryptoProC,
            GostCurve::Tc26A512,
            GostCurve::Tc26B512,
            GostCurve::Tc26C512,
        ];
        for curve in curves {
            let d: Vec<u8> =
                (0..curve.size() as u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
            let mut d = d;
            *d.last_mut().unwrap() = 0x01; // below q on every curve
            let key = GostPrivateKey::from_le_bytes(curve, &d).unwrap();
            let public = key.public_key().unwrap();
            let one = key.sign(b"document", b"entropy-1");
            let two = key.sign(b"document", b"entropy-2");
            assert_ne!(one, two, "{curve:?}");
            assert!(public.verify(b"document", &one), "{curve:?}");
            assert!(public.verify(b"document", &two), "{curve:?}");
            assert!(!public.verify(b"documenT", &one), "{curve:?}");
            assert!(GostPrivateKey::from_le_bytes(curve, &vec![0; curve.size()]).is_none());
            assert!(GostPrivateKey::from_le_bytes(curve, &vec![0xFF; curve.size()]).is_none());
            assert!(GostPrivateKey::from_le_bytes(curve, &d[1..]).is_none());
        }
    }

    /// A point off the curve is refused even with an otherwise valid signature.
    #[test]
    fn key_off_the_curve_is_refused() {
        let q = key(
            GostCurve::Test256,
            "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
            "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DB",
        );
        let e = le("2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5");
        let sig = hex(concat!(
            "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
            "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493"
        ));
        assert!(!q.verify_digest(&e, &sig));
    }

    /// Each curve's base point is on the curve and has order q (checked with the same
    /// arithmetic as verification: q·G is the point at infinity, (q−1)·G = −G).
    #[test]
    fn every_curve_is_consistent() {
        fn check<M: ConstMontyParams<L>, const L: usize>(c: &CurveParams<L>) {
            assert!(ec::tests_support::base_point_checks::<M, L>(c), "{}", c.name);
        }
        check::<curves::FieldTest256, 4>(&curves::TEST_256);
        check::<curves::FieldFd97, 4>(&curves::TC26_256_A);
        check::<curves::FieldFd97, 4>(&curves::CRYPTOPRO_A);
        check::<curves::FieldC99, 4>(&curves::CRYPTOPRO_B);
        check::<curves::Field759b, 4>(&curves::CRYPTOPRO_C);
        check::<curves::FieldTest512, 8>(&curves::TEST_512);
        check::<curves::FieldDc7, 8>(&curves::TC26_512_A);
        check::<curves::Field6f, 8>(&curves::TC26_512_B);
        check::<curves::FieldDc7, 8>(&curves::TC26_512_C);
    }
}
