//! `private_key_jwt` client authentication (OpenID Connect Core 1.0 §9, RFC 7523 §2.2,
//! §3): instead of a secret, the client sends
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
//! `client_assertion` — a JWT it signed (ES256 or RS256) with one of the public keys it
//! registered (inline JWKS; `jwks_uri` is not supported). The assertion must say
//! `iss` = `sub` = the client id, name us as its audience (the issuer, the token endpoint
//! or the endpoint called), expire within [`MAX_LIFETIME`], and carry a `jti` that was not
//! used before: used ids are kept in the database until the assertion expires, so a
//! replay is refused on every node.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use store::oidc as rows;
use store::to_micros;

use crate::clients::{Client, ClientCredentials, PRIVATE_KEY_JWT, client_refused};
use crate::flow::TokenError;
use crate::jws::{Jws, PublicKey};
use crate::{OidcError, Provider};

/// The `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live (`exp` after now, and after `iat`).
pub const MAX_LIFETIME: Duration = Duration::minutes(5);

/// The clock difference tolerated between the client and us (for `iat`, `nbf` and the
/// lifetime bound; never for `exp`).
const SKEW: Duration = Duration::seconds(30);

/// The longest `jti` kept.
const MAX_JTI: usize = 256;

/// Whether `aud` (a string or an array) names one of `accepted`.
fn audience_ok(aud: &Value, accepted: &[String]) -> bool {
    match aud {
        Value::String(a) => accepted.contains(a),
        Value::Array(list) => {
            list.iter().any(|a| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a)))
        }
        _ => false,
    }
}

impl Provider {
    /// Authenticates a client by its assertion; the refusal says what was wrong.
    pub(crate) async fn authenticate_assertion(
        &self,
        credentials: &ClientCredentials,
        now: DateTime<Utc>,
    ) -> Result<Result<Client, TokenError>, OidcError> {
        let refuse = |why: &str| Ok(Err(client_refused(why)));
        if credentials.assertion_type.as_deref() != Some(ASSERTION_TYPE) {
            return refuse(&format!("client_assertion_type must be {ASSERTION_TYPE}"));
        }
        let Some(jws) = credentials.assertion.as_deref().and_then(Jws::parse) else {
            return refuse("client_assertion is not a signed JWT");
        };
        // Who claims to be signing: `iss` and `sub` are the client id (and `client_id`,
        // when sent, the same).
        let Some(client_id) = jws.claim("iss").filter(|iss| jws.claim("sub") == Some(*iss)) else {
            return refuse("client_assertion: iss and sub must both be the client_id");
        };
        if !credentials.client_id.is_empty() && credentials.client_id != client_id {
            return refuse("client_assertion: iss does not match client_id");
        }
        let Some(row) = self.client_row(client_id, now).await? else {
            return refuse("client authentication failed");
        };
        let Some(jwks) = row.jwks.as_deref().filter(|_| row.auth_method == PRIVATE_KEY_JWT) else {
            return refuse("this client is not registered for private_key_jwt");
        };
        // The signature: a registered key (by `kid` when the header names one).
        let keys: Vec<Value> = serde_json::from_str::<Value>(jwks)
            .ok()
            .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        let signed = keys
            .iter()
            .filter(|k| jws.kid().is_none_or(|kid| k["kid"].as_str() == Some(kid)))
            .filter_map(|k| PublicKey::from_jwk(k).ok())
            .any(|key| jws.verify(&key));
        if !signed {
            return refuse("client_assertion: the signature does not verify with a registered key");
        }
        // For us, now.
        let issuer = &self.settings.issuer;
        let accepted = [
            issuer.clone(),
            format!("{issuer}/oidc/token"),
            format!("{issuer}{}", credentials.endpoint),
        ];
        if !audience_ok(&jws.claims["aud"], &accepted) {
            return refuse("client_assertion: aud must be the issuer or the token endpoint");
        }
        let (now_s, ahead) = (now.timestamp(), (now + SKEW).timestamp());
        let Some(exp) = jws.claims["exp"].as_i64() else {
            return refuse("client_assertion: exp is required");
        };
        if exp <= now_s {
            return refuse("client_assertion has expired");
        }
        if exp > (now + MAX_LIFETIME + SKEW).timestamp() {
            return refuse("client_assertion: exp is more than 5 minutes away");
        }
        if let Some(iat) = jws.claims.get("iat") {
            let Some(iat) = iat.as_i64() else { return refuse("client_assertion: bad iat") };
            if iat > ahead || exp - iat > MAX_LIFETIME.num_seconds() {
                return refuse("client_assertion: iat is in the future or exp - iat > 5 minutes");
            }
        }
        if jws.claims.get("nbf").is_some_and(|nbf| nbf.as_i64().is_none_or(|nbf| nbf > ahead)) {
            return refuse("client_assertion is not valid yet (nbf)");
        }
        // Once only.
        let Some(jti) = jws.claim("jti").filter(|j| !j.is_empty() && j.len() <= MAX_JTI) else {
            return refuse("client_assertion: jti is required (at most 256 characters)");
        };
        let fresh = rows::use_assertion_jti(
            &mut *self.db.conn().await?,
            client_id,
            jti,
            exp * 1_000_000,
            to_micros(now),
        )
        .await?;
        if !fresh {
            return refuse("client_assertion was already used (jti)");
        }
        Ok(Ok(Client::from(row)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_may_be_a_string_or_a_list() {
        let ok = ["https://u.example".to_owned(), "https://u.example/oidc/token".to_owned()];
        assert!(audience_ok(&Value::String("https://u.example".into()), &ok));
        assert!(audience_ok(&serde_json::json!(["x", "https://u.example/oidc/token"]), &ok));
        assert!(!audience_ok(&serde_json::json!(["https://evil.example"]), &ok));
        assert!(!audience_ok(&serde_json::json!(null), &ok));
        assert!(!audience_ok(&serde_json::json!("https://u.example/"), &ok));
    }
}
