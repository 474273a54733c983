//! `POST /api/session`: the dashboard trades the API token (request body, or an
//! `Authorization: Bearer` header) for an HttpOnly, SameSite=Strict session cookie that
//! every token-guarded route accepts beside the header (so `<video src=/recordings/...>`
//! plays). `GET /api/session` says whether a token is wanted; `DELETE` clears the cookie. No `Secure` flag: the server speaks plain HTTP.

use super::{json_response, unauthorized};
use crate::http::{Request, Response};
use crate::ops::metrics::Metrics;
use crate::ops::token::COOKIE_NAME;
use crate::server::context::ServerContext;
use log::warn;
use serde_json::json;

/// Checks the presented token; on a match answers with the cookie.
pub fn open(ctx: &ServerContext, request: &Request) -> Response {
    let token = &ctx.http_token;
    if !token.enabled() {
        return json_response(200, &json!({ "token_required": false }));
    }
    let body = String::from_utf8_lossy(&request.body);
    let from_body = body.trim();
    let right = if from_body.is_empty() {
        token.allows(request.header("Authorization"))
    } else {
        token.matches(from_body.as_bytes())
    };
    if !right {
        Metrics::add(&ctx.metrics.http_auth_failures, 1);
        let remote = request.remote;
        warn!("HTTP session refused, wrong token remote={remote}");
        return unauthorized();
    }
    let cookie = format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/",
        token.cookie_value()
    );
    json_response(200, &json!({ "token_required": true })).with_header("Set-Cookie", &cookie)
}

/// `GET /api/session`: whether a token is wanted and whether this request's cookie holds it.
pub fn status(ctx: &ServerContext, request: &Request) -> Response {
    let token = &ctx.http_token;
    json_response(
        200,
        &json!({ "token_required": token.enabled(), "cookie_valid": token.enabled() && token.allows_cookie(request.header("Cookie")) }),
    )
}

/// Clears the cookie.
pub fn close() -> Response {
    let cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    json_response(200, &json!({ "closed": true })).with_header("Set-Cookie", &cookie)
}
