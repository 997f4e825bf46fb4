//! The layers around every route: request ids, tracing without personal data, metrics,
//! error rendering, panic catching, timeouts, body limits, CSRF and security headers.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::AppError;
use crate::error::render_errors;

/// Bodies larger than this are refused by every route but the file uploads (which have
/// their own limit, `attachments::upload_routes`).
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;
/// A request that takes longer is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Content Security Policy: scripts and styles only from our origin, no inline script,
/// no framing.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; object-src 'none'";

/// The layers around every route. Body limits are the routes' own (`BODY_LIMIT`, or the
/// uploads' limit), set before they are merged, so each refusal can name its limit.
pub fn wrap(routes: Router) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
            .layer(
                // The span names the route template, never the raw URI: query strings and
                // paths may carry personal data (a SNILS being validated, say). It is a
                // DEBUG span: at INFO its cost showed in the p99 under load, and server
                // errors are logged with their request id by `render_errors` anyway.
                TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::debug_span!("request", method = %request.method(), route, request_id = id)
                }),
            )
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .layer(middleware::map_response(security_headers))
            .layer(middleware::from_fn(render_errors))
            .layer(middleware::from_fn(record_metrics))
            .layer(CatchPanicLayer::custom(|_| AppError::Internal("handler panicked".into()).into_response()))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
            .layer(CsrfLayer::new()),
    )
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        // Pages and API answers may carry personal data: no copies in shared caches or
        // the back button of a shared computer. Static assets set their own policy.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Counts requests and their latency by route template and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels =
        [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a bug with secret details")
    }

    async fn call(router: Router, path: &str) -> (StatusCode, String, String) {
        let response =
            router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let ct = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_panic_is_a_russian_500_page_or_json_without_details() {
        let router = wrap(Router::new().route("/boom", get(boom)).route("/api/v1/boom", get(boom)));
        let (status, ct, html) = call(router.clone(), "/boom").await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "text/html; charset=utf-8")
        );
        assert!(html.contains("Внутренняя ошибка сервиса"), "{html}");
        assert!(html.contains("код запроса"), "the request id is shown for support");
        assert!(!html.contains("secret"));
        let (status, ct, json) = call(router, "/api/v1/boom").await;
        assert_eq!((status, ct.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "application/json"));
        assert!(json.contains("\"code\":\"internal\"") && !json.contains("secret"), "{json}");
    }
}
