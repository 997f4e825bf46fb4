//! The administrator's page of relying parties (`/staff/clients`): the OpenID Connect
//! clients of the provider, registered, given a new secret or removed in the browser with
//! the same rules as `uslugi clients …` (`oidc::clients::NewClient` and its checks).
//!
//! Only the role `admin` gets here ([`AdminSignedIn`]). A client secret is shown once, on
//! the page answering the registration or the rotation (`Cache-Control: no-store`); the
//! portal keeps only its keyed hash. Removing and rotating ask for a confirmation first
//! (a page with one button, so it works without JavaScript). Forms are protected like
//! every staff form: the `Sec-Fetch-Site`/`Origin` check of the CSRF layer and the
//! SameSite=Strict staff cookie. Every change, and every refused registration, is
//! journaled with the administrator as actor and the client id in the details (no
//! subject: no person's data is involved).
//!
//! The staff area has no JSON API, so neither has this page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use journal::{ActorKind, Event, Origin, Outcome};
use oidc::OidcError;
use oidc::clients::{Client, ClientKind, NewClient, SCOPES};

use crate::session::ClientOrigin;
use crate::staff::{AdminSignedIn, StaffChrome};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/clients", get(list).post(add))
        .route("/staff/clients/{id}/rotate-secret", get(rotate_confirm).post(rotate))
        .route("/staff/clients/{id}/remove", get(remove_confirm).post(remove))
}

/// The minimum account levels a client may require, with the form's Russian words.
const LEVELS: [(&str, &str); 3] =
    [("simplified", "упрощённая"), ("standard", "стандартная"), ("confirmed", "подтверждённая")];

fn oidc_error(e: OidcError) -> AppError {
    match e {
        OidcError::Store(e) => e.into(),
        other => AppError::Internal(other.to_string()),
    }
}

fn unknown_client(id: &str) -> AppError {
    AppError::Missing {
        code: "client_not_found", message: format!("Клиент «{id}» не найден")
    }
}

/// Journals an administrator's action on a client in its own transaction.
async fn record(
    state: &AppState,
    admin: &AdminSignedIn,
    action: &str,
    outcome: Outcome,
    origin: &Origin,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let member = &admin.session().staff;
    let event = Event {
        at: state.clock.now(),
        actor: ActorKind::Admin,
        actor_id: Some(&member.id),
        subject_id: None,
        action,
        outcome,
        origin,
        details,
    };
    let mut tx = state.db.begin().await?;
    journal::record(&mut tx, &event).await?;
    tx.commit().await.map_err(store::StoreError::from)?;
    Ok(())
}

/// The page is for this request only: a secret on it must not be kept by any cache.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// --- the list and the registration form --------------------------------------------------

/// A client as the list shows it.
struct Line {
    id: String,
    name: String,
    confidential: bool,
    /// Authenticates with its own keys (`private_key_jwt`), not a secret.
    key_based: bool,
    /// `ES256` or `RS256`.
    alg: String,
    redirect_uris: Vec<String>,
    post_logout_uris: Vec<String>,
    /// (code, Russian words) of each allowed scope.
    scopes: Vec<(String, &'static str)>,
    level: &'static str,
    created: String,
}

fn scope_words(code: &str) -> &'static str {
    SCOPES.iter().find(|(k, _)| *k == code).map_or("неизвестная область", |(_, w)| w)
}

fn level_words(code: &str) -> &'static str {
    LEVELS.iter().find(|(k, _)| *k == code).map_or("неизвестный уровень", |(_, w)| w)
}

impl From<Client> for Line {
    fn from(c: Client) -> Self {
        Self {
            confidential: c.kind == ClientKind::Confidential.code(),
            key_based: c.auth_method == "private_key_jwt",
            alg: c.id_token_alg.clone(),
            scopes: c.scopes.iter().map(|s| (s.clone(), scope_words(s))).collect(),
            level: level_words(&c.min_level),
            created: crate::account::msk(c.created_at),
            redirect_uris: c.redirect_uris,
            post_logout_uris: c.post_logout_redirect_uris,
            id: c.id,
            name: c.name,
        }
    }
}

/// What the registration form holds (as typed, so a refused form comes back filled).
#[derive(Debug, Clone)]
struct ClientForm {
    id: String,
    name: String,
    kind: String,
    redirect_uris: String,
    post_logout_uris: String,
    scopes: Vec<String>,
    min_level: String,
    /// `ES256` or `RS256`.
    alg: String,
    /// The client's public keys (JWKS) for `private_key_jwt`; empty for a secret.
    jwks: String,
}

impl Default for ClientForm {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            kind: "confidential".into(),
            redirect_uris: String::new(),
            post_logout_uris: String::new(),
            scopes: vec!["openid".into(), "fullname".into()],
            min_level: "simplified".into(),
            alg: "ES256".into(),
            jwks: String::new(),
        }
    }
}

/// One address per line (blank lines ignored).
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

impl ClientForm {
    /// Reads the posted pairs (the scope boxes repeat the name `scopes`).
    fn of(pairs: &[(String, String)]) -> Self {
        let one = |name: &str| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        Self {
            id: one("id").trim().to_owned(),
            name: one("name"),
            kind: one("kind"),
            redirect_uris: one("redirect_uris"),
            post_logout_uris: one("post_logout_uris"),
            scopes: pairs.iter().filter(|(k, _)| k == "scopes").map(|(_, v)| v.clone()).collect(),
            min_level: one("min_level"),
            alg: one("alg"),
            jwks: one("jwks"),
        }
    }

    /// The registration the form asks for; a wrong kind is refused here, the rest by
    /// `add_client`'s checks.
    fn new_client(&self, allow_http: bool) -> Result<NewClient, FieldRefusal> {
        let kind = match self.kind.as_str() {
            "confidential" => ClientKind::Confidential,
            "public" => ClientKind::Public,
            _ => {
                return Err(FieldRefusal {
                    field: "kind",
                    message: "выберите конфиденциальный или публичный".into(),
                });
            }
        };
        // Not sent (an older form, a script): the default.
        let alg = if self.alg.is_empty() { "ES256" } else { self.alg.as_str() };
        let Some(id_token_alg) = oidc::jws::Alg::parse(alg) else {
            return Err(FieldRefusal {
                field: "alg", message: "выберите ES256 или RS256".into()
            });
        };
        let jwks = Some(self.jwks.trim()).filter(|j| !j.is_empty()).map(str::to_owned);
        if jwks.is_some() && kind == ClientKind::Public {
            return Err(FieldRefusal {
                field: "jwks",
                message: "ключи (private_key_jwt) бывают только у конфиденциального клиента".into(),
            });
        }
        Ok(NewClient {
            id: self.id.clone(),
            name: self.name.clone(),
            kind,
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_uris),
            scopes: self.scopes.clone(),
            min_level: self.min_level.clone(),
            allow_http,
            jwks,
            id_token_alg,
        })
    }

    fn has_scope(&self, code: &str) -> bool {
        self.scopes.iter().any(|s| s == code)
    }
}

/// A refused field of the form: its name and the Russian reason.
#[derive(Debug)]
struct FieldRefusal {
    field: &'static str,
    message: String,
}

impl FieldRefusal {
    /// The registration's refusals name the command's options; the form names its fields.
    fn of(e: OidcError) -> Result<Self, AppError> {
        match e {
            OidcError::Field(option, message) => {
                let field = match option {
                    "--id" => "id",
                    "--name" => "name",
                    "--redirect-uri" => "redirect_uris",
                    "--post-logout-uri" => "post_logout_uris",
                    "--scopes" => "scopes",
                    "--min-level" => "min_level",
                    "--jwks" => "jwks",
                    "--alg" => "alg",
                    _ => "general",
                };
                Ok(Self { field, message })
            }
            OidcError::ClientTaken(id) => Ok(Self {
                field: "id",
                message: format!(
                    "клиент «{id}» уже зарегистрирован, выберите другой идентификатор"
                ),
            }),
            other => Err(oidc_error(other)),
        }
    }

    fn label(&self) -> &'static str {
        match self.field {
            "id" => "Идентификатор (client_id)",
            "name" => "Название",
            "kind" => "Тип клиента",
            "redirect_uris" => "Адреса возврата",
            "post_logout_uris" => "Адреса после выхода",
            "scopes" => "Области доступа",
            "min_level" => "Минимальный уровень учётной записи",
            "alg" => "Алгоритм подписи токенов",
            "jwks" => "Открытые ключи клиента (JWKS)",
            _ => "Регистрация",
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_clients.html")]
struct ListPage {
    chrome: StaffChrome,
    notice: Option<String>,
    clients: Vec<Line>,
    form: ClientForm,
    error: Option<FieldRefusal>,
    allow_http: bool,
}

impl ListPage {
    fn error_for(&self, field: &str) -> Option<&String> {
        self.error.as_ref().filter(|e| e.field == field).map(|e| &e.message)
    }

    fn scopes(&self) -> &'static [(&'static str, &'static str)] {
        &SCOPES
    }

    fn levels(&self) -> &'static [(&'static str, &'static str)] {
        &LEVELS
    }
}

#[derive(Debug, serde::Deserialize)]
struct DoneQuery {
    done: Option<String>,
    id: Option<String>,
}

async fn list_page(
    state: &AppState,
    admin: &AdminSignedIn,
    form: ClientForm,
    error: Option<FieldRefusal>,
    notice: Option<String>,
) -> Result<ListPage, AppError> {
    let clients = state.oidc.clients().await.map_err(oidc_error)?;
    Ok(ListPage {
        chrome: StaffChrome::of(admin.session(), "clients"),
        notice,
        clients: clients.into_iter().map(Line::from).collect(),
        form,
        error,
        allow_http: state.oidc_allow_http,
    })
}

/// Ids in notices come from the query: shown only when they look like a client id.
fn plain_id(id: Option<&str>) -> String {
    id.filter(|id| {
        id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
    .map(|id| format!(" «{id}»"))
    .unwrap_or_default()
}

async fn list(
    admin: AdminSignedIn,
    State(state): State<AppState>,
    Query(q): Query<DoneQuery>,
) -> Result<ListPage, AppError> {
    let id = plain_id(q.id.as_deref());
    let notice = q.done.as_deref().map(|done| match done {
        "added" => format!("Клиент{id} зарегистрирован."),
        "removed" => {
            format!("Клиент{id} удалён: войти через портал в этот сервис больше нельзя.")
        }
        _ => "Готово.".to_owned(),
    });
    list_page(&state, &admin, ClientForm::default(), None, notice).await
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_client_secret.html")]
struct SecretPage {
    chrome: StaffChrome,
    client_id: String,
    client_name: String,
    secret: String,
    /// A rotation (the old secret stopped working) rather than a registration.
    rotated: bool,
}

async fn add(
    admin: AdminSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let form = ClientForm::of(&pairs);
    let now = state.clock.now();
    let result = match form.new_client(state.oidc_allow_http) {
        Ok(new) => match state.oidc.add_client(&new, now).await {
            Ok(done) => Ok(done),
            Err(e) => Err(FieldRefusal::of(e)?),
        },
        Err(refusal) => Err(refusal),
    };
    match result {
        Ok((client, secret)) => {
            let details = serde_json::json!({
                "client": client.id,
                "kind": client.kind,
                "scopes": client.scopes,
                "min_level": client.min_level,
                "redirect_uris": client.redirect_uris.len(),
            });
            record(&state, &admin, "staff.client_added", Outcome::Ok, &origin, details).await?;
            let Some(secret) = secret else {
                let to = format!("/staff/clients?done=added&id={}", client.id);
                return Ok(Redirect::to(&to).into_response());
            };
            let page = SecretPage {
                chrome: StaffChrome::of(admin.session(), "clients"),
                client_id: client.id,
                client_name: client.name,
                secret,
                rotated: false,
            };
            Ok(no_store(page.into_response()))
        }
        Err(refusal) => {
            let details = serde_json::json!({"field": refusal.field});
            record(&state, &admin, "staff.client_add_refused", Outcome::Denied, &origin, details)
                .await?;
            let page = list_page(&state, &admin, form, Some(refusal), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

// --- rotation and removal ----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "staff_client_confirm.html")]
struct ConfirmPage {
    chrome: StaffChrome,
    client: Line,
    /// `rotate-secret` or `remove`.
    action: &'static str,
}

async fn existing(state: &AppState, id: &str) -> Result<Client, AppError> {
    state.oidc.client(id).await.map_err(oidc_error)?.ok_or_else(|| unknown_client(id))
}

/// A client that authenticates with a secret (a public or key-based one has none to
/// rotate: refused with the reason).
async fn with_secret(state: &AppState, id: &str) -> Result<Client, AppError> {
    let client = existing(state, id).await?;
    if client.kind != ClientKind::Confidential.code() {
        return Err(public_has_no_secret(id));
    }
    if client.auth_method == oidc::clients::PRIVATE_KEY_JWT {
        return Err(key_client_has_no_secret(id));
    }
    Ok(client)
}

async fn rotate_confirm(
    admin: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ConfirmPage, AppError> {
    let client = with_secret(&state, &id).await?;
    Ok(ConfirmPage {
        chrome: StaffChrome::of(admin.session(), "clients"),
        client: client.into(),
        action: "rotate-secret",
    })
}

fn key_client_has_no_secret(id: &str) -> AppError {
    AppError::BadRequest {
        code: "key_client",
        message: format!(
            "Клиент «{id}» входит по своему ключу (private_key_jwt): секрета у него нет. \
             Ключи меняются командой «uslugi clients set-jwks»."
        ),
    }
}

fn public_has_no_secret(id: &str) -> AppError {
    AppError::BadRequest {
        code: "public_client",
        message: format!(
            "Клиент «{id}» публичный: у него нет секрета, он входит с PKCE. Новый секрет ему не нужен."
        ),
    }
}

async fn rotate(
    admin: AdminSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let client = with_secret(&state, &id).await?;
    let secret = match state.oidc.rotate_client_secret(&id, state.clock.now()).await {
        Ok(secret) => secret,
        // Removed in the meantime.
        Err(OidcError::ClientUnknown(_)) => return Err(unknown_client(&id)),
        Err(OidcError::KeyClient(_)) => return Err(key_client_has_no_secret(&id)),
        Err(e) => return Err(oidc_error(e)),
    };
    let details = serde_json::json!({"client": id});
    record(&state, &admin, "staff.client_secret_rotated", Outcome::Ok, &origin, details).await?;
    let page = SecretPage {
        chrome: StaffChrome::of(admin.session(), "clients"),
        client_id: client.id,
        client_name: client.name,
        secret,
        rotated: true,
    };
    Ok(no_store(page.into_response()))
}

async fn remove_confirm(
    admin: AdminSignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ConfirmPage, AppError> {
    let client = existing(&state, &id).await?;
    Ok(ConfirmPage {
        chrome: StaffChrome::of(admin.session(), "clients"),
        client: client.into(),
        action: "remove",
    })
}

async fn remove(
    admin: AdminSignedIn,
    ClientOrigin(origin): ClientOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    match state.oidc.remove_client(&id, state.clock.now()).await {
        Ok(()) => {}
        Err(OidcError::ClientUnknown(_)) => return Err(unknown_client(&id)),
        Err(OidcError::KeyClient(_)) => return Err(key_client_has_no_secret(&id)),
        Err(e) => return Err(oidc_error(e)),
    }
    let details = serde_json::json!({"client": id});
    record(&state, &admin, "staff.client_removed", Outcome::Ok, &origin, details).await?;
    Ok(Redirect::to(&format!("/staff/clients?done=removed&id={id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_form_reads_repeated_scopes_and_one_address_a_line() {
        let form = ClientForm::of(&pairs(&[
            ("id", " eis "),
            ("name", "ЕИС"),
            ("kind", "public"),
            ("redirect_uris", "https://a.example/cb\r\n\r\n  https://b.example/cb  \n"),
            ("scopes", "openid"),
            ("scopes", "snils"),
            ("min_level", "standard"),
        ]));
        let new = form.new_client(false).unwrap();
        assert_eq!(new.id, "eis");
        assert_eq!(new.kind, ClientKind::Public);
        assert_eq!(new.redirect_uris, ["https://a.example/cb", "https://b.example/cb"]);
        assert!(new.post_logout_redirect_uris.is_empty());
        assert_eq!(new.scopes, ["openid", "snils"]);
        let mut wrong = form;
        wrong.kind = "secret".into();
        assert_eq!(wrong.new_client(false).unwrap_err().field, "kind");
    }

    #[test]
    fn refusals_name_the_form_fields_not_the_options() {
        let r = FieldRefusal::of(OidcError::Field("--redirect-uri", "нет".into())).unwrap();
        assert_eq!((r.field, r.label()), ("redirect_uris", "Адреса возврата"));
        let r = FieldRefusal::of(OidcError::ClientTaken("eis".into())).unwrap();
        assert_eq!(r.field, "id");
        assert!(r.message.contains("уже зарегистрирован"));
        assert!(FieldRefusal::of(OidcError::Internal("x".into())).is_err());
    }

    #[test]
    fn notices_show_only_plain_ids() {
        assert_eq!(plain_id(Some("eis")), " «eis»");
        assert_eq!(plain_id(Some("<b>")), "");
        assert_eq!(plain_id(None), "");
    }
}
