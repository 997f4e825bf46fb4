//! Signing keys: ES256 (P-256 with SHA-256) for every client by default, and RS256
//! (RSA-2048) for the clients registered with `id_token_signed_response_alg=RS256`. Private
//! keys are vault ciphertext, public keys JWKs in the JWKS. The RSA key is made lazily, when
//! a client first needs it (generating one is slow). `rotate` retires the signing keys (they
//! stay published for [`crate::ProviderSettings::key_overlap`]) and makes new ones.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde_json::{Value, json};
use store::oidc::{self as rows, KeyRow};
use store::to_micros;

use crate::clients::Client;
use crate::jws::{Alg, Jws, PrivateKey, PublicKey};
use crate::{OidcError, Provider};

const CONTEXT: &str = "oidc.signing_key";

/// The size of the provider's RSA keys.
const RSA_BITS: usize = 2048;

/// A key that signs now.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub kid: String,
    key: Arc<PrivateKey>,
}

impl ActiveKey {
    /// Signs `claims` as a compact JWS (`header.payload.signature`, base64url), with `typ`
    /// (`JWT`, or `at+jwt` for access tokens, RFC 9068).
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        self.key.sign(typ, &self.kid, claims)
    }

    /// `ES256` or `RS256`.
    pub fn alg(&self) -> Alg {
        self.key.alg()
    }
}

fn new_es256_key() -> p256::ecdsa::SigningKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        // Fails only for zero or a value at or above the group order: practically never.
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// A new RSA key: the private key as PKCS#8 DER, and the key. Slow (primes are searched).
fn new_rsa_key() -> Result<(Vec<u8>, rsa::RsaPrivateKey), OidcError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rng(), RSA_BITS)
        .map_err(|e| OidcError::Internal(e.to_string()))?;
    let der = key.to_pkcs8_der().map_err(|e| OidcError::Internal(e.to_string()))?;
    Ok((der.as_bytes().to_vec(), key))
}

/// The published keys as read at a moment; re-read after [`KEY_CACHE`] or when a token
/// names a key the cache does not know. Keys opened for signing and public keys read for
/// verification are kept by `kid` (a `kid` never changes its key).
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    read_at: Option<DateTime<Utc>>,
    keys: Vec<KeyRow>,
    opened: HashMap<String, ActiveKey>,
    public: HashMap<String, Arc<PublicKey>>,
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
            cache.read_at = Some(now);
            cache.keys.clone_from(&keys);
            cache.opened.retain(|kid, _| keys.iter().any(|k| &k.kid == kid));
            cache.public.retain(|kid, _| keys.iter().any(|k| &k.kid == kid));
        }
        Ok(keys)
    }

    /// The ES256 key that signs now; makes the first one when there is none.
    pub async fn signing_key(&self, now: DateTime<Utc>) -> Result<ActiveKey, OidcError> {
        self.signing_key_for(Alg::Es256, now).await
    }

    /// The key that signs a client's tokens: of the `alg` it was registered with.
    pub async fn client_key(
        &self,
        client: &Client,
        now: DateTime<Utc>,
    ) -> Result<ActiveKey, OidcError> {
        self.signing_key_for(Alg::parse(&client.id_token_alg).unwrap_or_default(), now).await
    }

    /// The key of `alg` that signs now; makes the first one when there is none (another
    /// node may just have made it: the keys are read again first).
    pub async fn signing_key_for(
        &self,
        alg: Alg,
        now: DateTime<Utc>,
    ) -> Result<ActiveKey, OidcError> {
        let active = |keys: &[KeyRow]| {
            keys.iter().find(|k| k.alg == alg.as_str() && k.retired_at.is_none()).cloned()
        };
        let mut row = active(&self.published(now, false).await?);
        if row.is_none() {
            row = active(&self.published(now, true).await?);
        }
        match row {
            Some(row) => self.open(&row),
            None => {
                let (row, key) = self.make_key(alg, now).await?;
                rows::insert_key(&mut *self.db.conn().await?, &row).await?;
                self.published(now, true).await?;
                Ok(key)
            }
        }
    }

    fn open(&self, row: &KeyRow) -> Result<ActiveKey, OidcError> {
        if let Ok(cache) = self.keys.read()
            && let Some(key) = cache.opened.get(&row.kid)
        {
            return Ok(key.clone());
        }
        let internal = |e: String| OidcError::Internal(e);
        let secret = B64URL
            .decode(self.vault.decrypt(&row.private_key, CONTEXT)?)
            .map_err(|e| internal(e.to_string()))?;
        let key = match Alg::parse(&row.alg) {
            Some(Alg::Es256) => PrivateKey::es256(
                &p256::ecdsa::SigningKey::from_slice(&secret)
                    .map_err(|e| internal(e.to_string()))?,
            )
            .map_err(internal)?,
            Some(Alg::Rs256) => PrivateKey::Rs256(rsa::pkcs1v15::SigningKey::new(
                rsa::RsaPrivateKey::from_pkcs8_der(&secret).map_err(|e| internal(e.to_string()))?,
            )),
            None => return Err(internal(format!("unknown key algorithm {}", row.alg))),
        };
        let key = ActiveKey { kid: row.kid.clone(), key: Arc::new(key) };
        if let Ok(mut cache) = self.keys.write() {
            cache.opened.insert(row.kid.clone(), key.clone());
        }
        Ok(key)
    }

    /// A new key of `alg` (not stored yet): its row and the key. An RSA key is generated
    /// off the async workers.
    async fn make_key(
        &self,
        alg: Alg,
        now: DateTime<Utc>,
    ) -> Result<(KeyRow, ActiveKey), OidcError> {
        let kid = format!("{}-{}", alg.as_str().to_lowercase(), now.format("%Y%m%d"));
        let kid = format!("{kid}-{}", &uuid::Uuid::now_v7().simple().to_string()[24..]);
        let (secret, key, jwk) = match alg {
            Alg::Es256 => {
                let key = new_es256_key();
                let jwk = crate::jws::es256_jwk(&kid, key.verifying_key());
                let signer = PrivateKey::es256(&key).map_err(OidcError::Internal)?;
                (key.to_bytes().to_vec(), signer, jwk)
            }
            Alg::Rs256 => {
                let (der, key) = tokio::task::spawn_blocking(new_rsa_key)
                    .await
                    .map_err(|e| OidcError::Internal(e.to_string()))??;
                let jwk = crate::jws::rs256_jwk(&kid, key.as_ref());
                (der, PrivateKey::Rs256(rsa::pkcs1v15::SigningKey::new(key)), jwk)
            }
        };
        let row = KeyRow {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            private_key: self.vault.encrypt(&B64URL.encode(secret), CONTEXT),
            public_jwk: jwk.to_string(),
            created_at: to_micros(now),
            retired_at: None,
            expires_at: None,
        };
        Ok((row, ActiveKey { kid, key: Arc::new(key) }))
    }

    /// Retires the signing keys and makes new ones — the ES256 key, and the RS256 key when
    /// one is in use (else it is made when first needed); the old ones stay in the JWKS
    /// until the tokens they signed have expired. Returns the new key ids.
    pub async fn rotate_keys(&self, now: DateTime<Utc>) -> Result<Vec<String>, OidcError> {
        let until = to_micros(now + self.settings.key_overlap());
        let published = self.published(now, true).await?;
        let mut algs = vec![Alg::Es256];
        if published.iter().any(|k| k.alg == Alg::Rs256.as_str() && k.retired_at.is_none()) {
            algs.push(Alg::Rs256);
        }
        // The new keys first (RSA takes time), then the swap at once: there is never a
        // moment without a signing key.
        let mut fresh = Vec::new();
        for alg in algs {
            fresh.push(self.make_key(alg, now).await?.0);
        }
        {
            let mut tx = self.db.begin().await?;
            for row in &fresh {
                rows::retire_keys(&mut tx, &row.alg, to_micros(now), until).await?;
                rows::insert_key(&mut tx, row).await?;
            }
            tx.commit().await.map_err(store::StoreError::from)?;
        }
        self.published(now, true).await?;
        Ok(fresh.into_iter().map(|row| row.kid).collect())
    }

    /// The public key of a published `kid`, read once.
    async fn published_key(
        &self,
        kid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<PublicKey>>, OidcError> {
        let mut published = self.published(now, false).await?;
        if !published.iter().any(|k| k.kid == kid) {
            published = self.published(now, true).await?;
        }
        let Some(row) = published.iter().find(|k| k.kid == kid) else { return Ok(None) };
        if let Ok(cache) = self.keys.read()
            && let Some(key) = cache.public.get(kid)
        {
            return Ok(Some(key.clone()));
        }
        let Some(key) = serde_json::from_str::<Value>(&row.public_jwk)
            .ok()
            .and_then(|jwk| PublicKey::from_jwk(&jwk).ok())
        else {
            return Ok(None);
        };
        let key = Arc::new(key);
        if let Ok(mut cache) = self.keys.write() {
            cache.public.insert(kid.to_owned(), key.clone());
        }
        Ok(Some(key))
    }

    /// Verifies a compact JWS we signed: a published key by `kid` (ES256 or RS256, the
    /// header's `alg` matching the key), the `typ`, and `exp` after `now`. Returns the
    /// claims.
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
        let Some(jws) = Jws::parse(token) else { return Ok(None) };
        if jws.alg().is_none() || jws.header["typ"] != typ {
            return Ok(None);
        }
        let Some(kid) = jws.kid() else { return Ok(None) };
        let Some(key) = self.published_key(kid, now).await? else { return Ok(None) };
        if !jws.verify(&key) {
            return Ok(None);
        }
        if check_exp && jws.claims["exp"].as_i64().is_none_or(|exp| exp <= now.timestamp()) {
            return Ok(None);
        }
        Ok(Some(jws.claims))
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
        let signing = new_es256_key();
        let public = crate::jws::es256_jwk("es256-test", signing.verifying_key());
        let key = ActiveKey {
            kid: "es256-test".into(),
            key: Arc::new(PrivateKey::es256(&signing).unwrap()),
        };
        let jwt = key.sign("JWT", &json!({"iss": "https://uslugi.example", "sub": "42"}));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": "es256-test"}));
        let jwk: CoreJsonWebKey = serde_json::from_value(public).unwrap();
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

    /// The RSA key: stored as PKCS#8, published with `alg` and `kid`, its tokens verify
    /// with the client library as RS256 (and with our own check).
    #[test]
    fn rs256_tokens_verify_with_the_published_jwk_in_a_client_library() {
        let (der, key) = new_rsa_key().unwrap();
        assert_eq!(rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap(), key);
        let public = crate::jws::rs256_jwk("rs256-test", key.as_ref());
        assert_eq!((public["alg"].as_str(), public["kty"].as_str()), (Some("RS256"), Some("RSA")));
        let signing = PrivateKey::Rs256(rsa::pkcs1v15::SigningKey::new(key));
        let active = ActiveKey { kid: "rs256-test".into(), key: Arc::new(signing) };
        let jwt = active.sign("at+jwt", &json!({"sub": "42"}));
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: Value = serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "at+jwt", "kid": "rs256-test"}));
        let jwk: CoreJsonWebKey = serde_json::from_value(public.clone()).unwrap();
        let message = format!("{}.{}", parts[0], parts[1]);
        let signature = B64URL.decode(parts[2]).unwrap();
        jwk.verify_signature(
            &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            message.as_bytes(),
            &signature,
        )
        .expect("the signature verifies");
        let ours = PublicKey::from_jwk(&public).unwrap();
        assert!(Jws::parse(&jwt).unwrap().verify(&ours));
    }
}
