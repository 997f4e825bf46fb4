//! Signing keys: ES256 (P-256 with SHA-256), private keys as vault ciphertext, public keys
//! as JWK in the JWKS. `rotate` retires the signing key (it stays published for
//! [`crate::ProviderSettings::key_overlap`]) and makes a new one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use store::oidc::{self as rows, KeyRow};
use store::to_micros;

use crate::{OidcError, Provider};

const ALG: &str = "ES256";
const CONTEXT: &str = "oidc.signing_key";

/// A key that signs now.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub kid: String,
    key: SigningKey,
}

impl ActiveKey {
    /// Signs `claims` as a compact JWS (`header.payload.signature`, base64url), with `typ`
    /// (`JWT`, or `at+jwt` for access tokens, RFC 9068).
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        let header = json!({ "alg": ALG, "typ": typ, "kid": self.kid });
        let input =
            format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature.to_bytes()))
    }
}

fn public_jwk(kid: &str, key: &VerifyingKey) -> Value {
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
        "alg": ALG,
    })
}

fn verifying_key(jwk: &str) -> Option<VerifyingKey> {
    let jwk: Value = serde_json::from_str(jwk).ok()?;
    let x = B64URL.decode(jwk["x"].as_str()?).ok()?;
    let y = B64URL.decode(jwk["y"].as_str()?).ok()?;
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&sec1).ok()
}

fn new_signing_key() -> SigningKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        // Fails only for zero or a value at or above the group order: practically never.
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// The published keys as read at a moment; re-read after [`KEY_CACHE`] or when a token
/// names a key the cache does not know.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    read_at: Option<DateTime<Utc>>,
    keys: Vec<KeyRow>,
}

/// How long the published keys are served from memory (a rotation by command in another
/// process is seen within this time; the retired key stays valid much longer).
const KEY_CACHE: chrono::Duration = chrono::Duration::seconds(30);

impl Provider {
    /// The published keys, from memory when fresh.
    async fn published(&self, now: DateTime<Utc>, force: bool) -> Result<Vec<KeyRow>, OidcError> {
        if !force
            && let Ok(cache) = self.keys.read()
            && cache.read_at.is_some_and(|at| now - at < KEY_CACHE && now >= at)
        {
            return Ok(cache
                .keys
                .iter()
                .filter(|k| k.expires_at.is_none_or(|e| e > to_micros(now)))
                .cloned()
                .collect());
        }
        let keys = rows::published_keys(&mut *self.db.conn().await?, to_micros(now)).await?;
        if let Ok(mut cache) = self.keys.write() {
            *cache = KeyCache { read_at: Some(now), keys: keys.clone() };
        }
        Ok(keys)
    }

    /// The key that signs now; makes the first one when there is none.
    pub async fn signing_key(&self, now: DateTime<Utc>) -> Result<ActiveKey, OidcError> {
        let published = self.published(now, false).await?;
        match published.iter().find(|k| k.alg == ALG && k.retired_at.is_none()) {
            Some(row) => self.open(row),
            None => {
                let key = self.create_key(now).await?;
                self.published(now, true).await?;
                Ok(key)
            }
        }
    }

    fn open(&self, row: &KeyRow) -> Result<ActiveKey, OidcError> {
        let secret = B64URL
            .decode(self.vault.decrypt(&row.private_key, CONTEXT)?)
            .map_err(|e| OidcError::Internal(e.to_string()))?;
        let key =
            SigningKey::from_slice(&secret).map_err(|e| OidcError::Internal(e.to_string()))?;
        Ok(ActiveKey { kid: row.kid.clone(), key })
    }

    async fn create_key(&self, now: DateTime<Utc>) -> Result<ActiveKey, OidcError> {
        let key = new_signing_key();
        let kid = format!("es256-{}", now.format("%Y%m%d"));
        let kid = format!("{kid}-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
        let row = KeyRow {
            kid: kid.clone(),
            alg: ALG.into(),
            private_key: self.vault.encrypt(&B64URL.encode(key.to_bytes()), CONTEXT),
            public_jwk: public_jwk(&kid, key.verifying_key()).to_string(),
            created_at: to_micros(now),
            retired_at: None,
            expires_at: None,
        };
        rows::insert_key(&mut *self.db.conn().await?, &row).await?;
        Ok(ActiveKey { kid, key })
    }

    /// Retires the signing key and makes a new one; the old one stays in the JWKS until
    /// the tokens it signed have expired. Returns the new key id.
    pub async fn rotate_keys(&self, now: DateTime<Utc>) -> Result<String, OidcError> {
        let until = to_micros(now + self.settings.key_overlap());
        {
            let mut tx = self.db.begin().await?;
            rows::retire_keys(&mut tx, ALG, to_micros(now), until).await?;
            tx.commit().await.map_err(store::StoreError::from)?;
        }
        let kid = self.create_key(now).await?.kid;
        self.published(now, true).await?;
        Ok(kid)
    }

    /// Verifies a compact JWS we signed: a published key by `kid`, ES256, the `typ`, and
    /// `exp` after `now`. Returns the claims.
    pub async fn verify_jwt(
        &self,
        token: &str,
        typ: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, OidcError> {
        self.verify_jwt_with(token, typ, now, true).await
    }

    /// [`Self::verify_jwt`], optionally accepting an expired token (an `id_token_hint`
    /// at logout may be old; only its signature and issuer matter then).
    pub async fn verify_jwt_with(
        &self,
        token: &str,
        typ: &str,
        now: DateTime<Utc>,
        check_exp: bool,
    ) -> Result<Option<Value>, OidcError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let decode = |s: &str| B64URL.decode(s).ok();
        let Some(header) = decode(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
            return Ok(None);
        };
        if header["alg"] != ALG || header["typ"] != typ {
            return Ok(None);
        }
        let Some(kid) = header["kid"].as_str() else { return Ok(None) };
        let mut published = self.published(now, false).await?;
        if !published.iter().any(|k| k.kid == kid) {
            published = self.published(now, true).await?;
        }
        let Some(row) = published.iter().find(|k| k.kid == kid) else { return Ok(None) };
        let Some(key) = verifying_key(&row.public_jwk) else { return Ok(None) };
        let Some(signature) = decode(sig).and_then(|b| Signature::from_slice(&b).ok()) else {
            return Ok(None);
        };
        use p256::ecdsa::signature::Verifier as _;
        if key.verify(format!("{h}.{p}").as_bytes(), &signature).is_err() {
            return Ok(None);
        }
        let Some(claims) = decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
            return Ok(None);
        };
        if check_exp && claims["exp"].as_i64().is_none_or(|exp| exp <= now.timestamp()) {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// The JWKS document: every published key.
    pub async fn jwks(&self, now: DateTime<Utc>) -> Result<Value, OidcError> {
        // Make sure there is a signing key to publish.
        self.signing_key(now).await?;
        let published = self.published(now, false).await?;
        let keys: Vec<Value> =
            published.iter().filter_map(|k| serde_json::from_str(&k.public_jwk).ok()).collect();
        Ok(json!({ "keys": keys }))
    }
}

#[cfg(test)]
mod tests {
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
    use openidconnect::{JsonWebKey as _, JsonWebKeyId};

    use super::*;

    /// A token we sign verifies with the `openidconnect` client library's own JWK code.
    #[test]
    fn tokens_verify_with_the_published_jwk_in_a_client_library() {
        let key = ActiveKey { kid: "es256-test".into(), key: new_signing_key() };
        let jwt = key.sign("JWT", &json!({"iss": "https://uslugi.example", "sub": "42"}));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": "es256-test"}));
        let jwk: CoreJsonWebKey =
            serde_json::from_value(public_jwk(&key.kid, key.key.verifying_key())).unwrap();
        assert_eq!(jwk.key_id(), Some(&JsonWebKeyId::new("es256-test".into())));
        let message = format!("{}.{}", parts[0], parts[1]);
        let signature = B64URL.decode(parts[2]).unwrap();
        jwk.verify_signature(
            &CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            message.as_bytes(),
            &signature,
        )
        .expect("the signature verifies");
        let mut forged = message.into_bytes();
        forged[10] ^= 1;
        assert!(
            jwk.verify_signature(&CoreJwsSigningAlgorithm::EcdsaP256Sha256, &forged, &signature)
                .is_err()
        );
    }
}
