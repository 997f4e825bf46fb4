//! Compact JWS (RFC 7515) with ES256 and RS256, checked against JWKs (RFC 7517/7518).
//!
//! The one path every JWT the provider meets goes through: its own access and ID tokens
//! (verified against the published keys) and the assertions clients sign for
//! `private_key_jwt` (verified against the client's registered keys). Only ES256 and
//! RS256 exist here: `none`, HMAC and every other `alg` are refused, and the header's
//! `alg` must match the key's type (and the key's `alg`, when it names one), so a key
//! can never be used with an algorithm it was not meant for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use sha2::Sha256;

/// A signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alg {
    /// ECDSA with P-256 and SHA-256: the provider's default.
    #[default]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for relying parties that cannot verify ES256.
    Rs256,
}

impl Alg {
    pub const ALL: [Self; 2] = [Self::Es256, Self::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The JWK `kty` of its keys.
    fn kty(self) -> &'static str {
        match self {
            Self::Es256 => "EC",
            Self::Rs256 => "RSA",
        }
    }
}

/// The smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub const RSA_MIN_BITS: usize = 2048;

/// A public key read from a JWK.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    /// The uncompressed SEC1 point (0x04 ‖ x ‖ y), checked to lie on P-256.
    Es256(Vec<u8>),
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
}

impl PublicKey {
    /// Reads a public JWK: `EC` on P-256 or `RSA` of at least 2048 bits; a key that says
    /// its `alg` must say ES256 or RS256 accordingly, and a key with `use` must be for
    /// signatures. The error is Russian, for whoever registers the key.
    pub(crate) fn from_jwk(jwk: &Value) -> Result<Self, String> {
        let field = |name: &str| -> Result<Vec<u8>, String> {
            let text = jwk[name].as_str().ok_or_else(|| format!("нет поля «{name}»"))?;
            B64URL.decode(text).map_err(|_| format!("поле «{name}» — не base64url"))
        };
        if jwk["use"].as_str().is_some_and(|u| u != "sig") {
            return Err("ключ не для подписи (use ≠ sig)".into());
        }
        let alg = match jwk["kty"].as_str() {
            Some("EC") => Alg::Es256,
            Some("RSA") => Alg::Rs256,
            _ => return Err("поддерживаются ключи EC (P-256) и RSA".into()),
        };
        if let Some(named) = jwk.get("alg").filter(|a| !a.is_null())
            && named.as_str() != Some(alg.as_str())
        {
            return Err(format!("для ключа {} ожидается alg {}", alg.kty(), alg.as_str()));
        }
        match alg {
            Alg::Es256 => {
                if jwk["crv"] != "P-256" {
                    return Err("поддерживается только кривая P-256".into());
                }
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("координаты x и y — по 32 байта".into());
                }
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(|_| Self::Es256(sec1))
                    .map_err(|_| "точка не лежит на кривой P-256".into())
            }
            Alg::Rs256 => {
                let (n, e) = (field("n")?, field("e")?);
                let n = BoxedUint::from_be_slice_vartime(&n);
                if (n.bits_vartime() as usize) < RSA_MIN_BITS {
                    return Err(format!("ключ RSA короче {RSA_MIN_BITS} бит"));
                }
                let key = rsa::RsaPublicKey::new(n, BoxedUint::from_be_slice_vartime(&e))
                    .map_err(|e| format!("неверный ключ RSA: {e}"))?;
                Ok(Self::Rs256(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
        }
    }

    pub(crate) fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::Rs256(_) => Alg::Rs256,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use rsa::signature::Verifier as _;
        match self {
            // ring's P-256 is several times faster than the pure-Rust p256 crate, which
            // only reads and makes keys here.
            Self::Es256(point) => ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point,
            )
            .verify(message, signature)
            .is_ok(),
            Self::Rs256(key) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| key.verify(message, &s).is_ok()),
        }
    }
}

/// The public JWK of an ES256 key.
pub(crate) fn es256_jwk(kid: &str, key: &p256::ecdsa::VerifyingKey) -> Value {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    // Uncompressed SEC1: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64URL.encode(&bytes[1..33]),
        "y": B64URL.encode(&bytes[33..65]),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    })
}

/// The public JWK of an RS256 key.
pub(crate) fn rs256_jwk(kid: &str, key: &rsa::RsaPublicKey) -> Value {
    json!({
        "kty": "RSA",
        "n": B64URL.encode(key.n().to_be_bytes_trimmed_vartime()),
        "e": B64URL.encode(key.e().to_be_bytes_trimmed_vartime()),
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
    })
}

/// A private key that signs.
#[derive(Debug)]
pub(crate) enum PrivateKey {
    /// Signs with ring (the hot path: two signatures per token response).
    Es256(ring::signature::EcdsaKeyPair),
    Rs256(rsa::pkcs1v15::SigningKey<Sha256>),
}

impl PrivateKey {
    /// An ES256 signer for a P-256 key.
    pub(crate) fn es256(key: &p256::ecdsa::SigningKey) -> Result<Self, String> {
        let public = key.verifying_key().to_sec1_point(false);
        ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            public.as_bytes(),
            &ring::rand::SystemRandom::new(),
        )
        .map(Self::Es256)
        .map_err(|e| format!("P-256 key refused: {e}"))
    }

    pub(crate) fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::Rs256(_) => Alg::Rs256,
        }
    }

    /// Signs `claims` as a compact JWS (`header.payload.signature`, base64url) with `typ`
    /// and `kid` in the header.
    // ring refuses to sign only if the system's random source fails: not a state to go
    // on in.
    #[allow(clippy::expect_used)]
    pub(crate) fn sign(&self, typ: &str, kid: &str, claims: &Value) -> String {
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        let header = json!({ "alg": self.alg().as_str(), "typ": typ, "kid": kid });
        let input =
            format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
        let signature: Vec<u8> = match self {
            Self::Es256(key) => key
                .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
                .expect("the system random source works")
                .as_ref()
                .to_vec(),
            Self::Rs256(key) => key.sign(input.as_bytes()).to_vec(),
        };
        format!("{input}.{}", B64URL.encode(signature))
    }
}

/// A compact JWS taken apart; nothing in it is trusted until [`Jws::verify`] says so.
#[derive(Debug, Clone)]
pub(crate) struct Jws<'a> {
    pub header: Value,
    pub claims: Value,
    /// `header.payload` as sent: what the signature covers.
    input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits and decodes `header.payload.signature`; `None` when it is not a JWS with
    /// JSON objects for header and claims.
    pub(crate) fn parse(token: &'a str) -> Option<Self> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let json = |part: &str| {
            B64URL
                .decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(Value::is_object)
        };
        Some(Self {
            header: json(h)?,
            claims: json(p)?,
            input: &token[..h.len() + 1 + p.len()],
            signature: B64URL.decode(s).ok()?,
        })
    }

    /// The header's `alg`, if it is one of ours.
    pub(crate) fn alg(&self) -> Option<Alg> {
        self.header["alg"].as_str().and_then(Alg::parse)
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    /// Whether `key` signed this, with the algorithm the header names.
    pub(crate) fn verify(&self, key: &PublicKey) -> bool {
        self.alg() == Some(key.alg()) && key.verify(self.input.as_bytes(), &self.signature)
    }

    /// A string claim.
    pub(crate) fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn es256_key() -> p256::ecdsa::SigningKey {
        loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return key;
            }
        }
    }

    #[test]
    fn a_signature_verifies_only_with_its_key_and_algorithm() {
        let key = es256_key();
        let jwk = es256_jwk("k1", key.verifying_key());
        let public = PublicKey::from_jwk(&jwk).unwrap();
        let token = PrivateKey::es256(&key).unwrap().sign("JWT", "k1", &json!({"sub": "42"}));
        let jws = Jws::parse(&token).unwrap();
        assert_eq!((jws.kid(), jws.claim("sub")), (Some("k1"), Some("42")));
        assert!(jws.verify(&public));
        let other = PublicKey::from_jwk(&es256_jwk("k2", es256_key().verifying_key())).unwrap();
        assert!(!jws.verify(&other));
        // The same signature under another `alg` is refused before any maths.
        let mut forged = jws.clone();
        forged.header["alg"] = json!("HS256");
        assert!(!forged.verify(&public));
        // A changed payload breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let payload = B64URL.encode(json!({"sub": "43"}).to_string());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert!(!Jws::parse(&tampered).unwrap().verify(&public));
        assert!(Jws::parse("a.b").is_none() && Jws::parse("a.b.c.d").is_none());
    }

    #[test]
    fn jwks_with_the_wrong_shape_are_refused_in_russian() {
        let jwk = es256_jwk("k1", es256_key().verifying_key());
        let mut bad = jwk.clone();
        bad["alg"] = json!("RS256");
        assert_eq!(PublicKey::from_jwk(&bad).unwrap_err(), "для ключа EC ожидается alg ES256");
        let mut bad = jwk.clone();
        bad["crv"] = json!("P-384");
        assert!(PublicKey::from_jwk(&bad).unwrap_err().contains("P-256"));
        let mut bad = jwk.clone();
        bad["use"] = json!("enc");
        assert!(PublicKey::from_jwk(&bad).is_err());
        let mut bad = jwk;
        bad["x"] = json!("AAAA");
        assert!(PublicKey::from_jwk(&bad).is_err());
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        assert!(PublicKey::from_jwk(&oct).unwrap_err().contains("EC (P-256) и RSA"));
        let short = json!({"kty": "RSA", "n": B64URL.encode([0xC5u8; 128]), "e": "AQAB"});
        assert_eq!(PublicKey::from_jwk(&short).unwrap_err(), "ключ RSA короче 2048 бит");
    }
}
