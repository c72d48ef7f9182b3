//! Who is asking: bearer tokens from the `Authorization` header or `?access_token=`.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatwatch_config::{Identity, Role, TokenTable};

/// The identity used for every request when the server runs with `--no-auth`.
pub fn anonymous() -> Identity {
    Identity { name: "anonymous".into(), tenant: "default".into(), role: Role::Admin }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one that matches nothing: 401.
    Unauthenticated,
    /// A valid token without the role the endpoint needs: 403.
    Forbidden,
    /// A non-admin token naming another tenant with `?tenant=`: 403.
    OtherTenant,
    /// An admin naming a tenant nothing knows (no configuration, no token, no record): 404.
    UnknownTenant,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({"error": "unauthorized", "message": "send `Authorization: Bearer SECRET` (or ?access_token=SECRET) with a configured token"})),
            )
                .into_response(),
            Denied::Forbidden => (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"error": "forbidden", "message": "this token's role may not use this endpoint"})),
            )
                .into_response(),
            Denied::OtherTenant => (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({"error": "forbidden", "message": "this token sees its own tenant only; `?tenant=` naming another tenant needs an admin token"})),
            )
                .into_response(),
            Denied::UnknownTenant => (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"error": "unknown_tenant", "message": "no tenant of that name: it has no [tenant.NAME] table, no token and no record in the log"})),
            )
                .into_response(),
        }
    }
}

/// The credentials of an `Authorization` value with the `Bearer` scheme, whose name is
/// case-insensitive (RFC 9110 §11.1: `BEARER`, `bearer` and `Bearer` alike).
fn bearer(v: &str) -> Option<&str> {
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest)
}

/// The secret a request presents, if any.
pub fn presented_secret<'a>(headers: &'a HeaderMap, access_token: Option<&'a str>) -> Option<&'a str> {
    let from_header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer).map(str::trim);
    from_header.or(access_token).filter(|s| !s.is_empty())
}

/// Authenticate and check the role.
pub fn authorize(
    tokens: &TokenTable,
    no_auth: bool,
    headers: &HeaderMap,
    access_token: Option<&str>,
    allowed: &[Role],
) -> Result<Identity, Denied> {
    if no_auth {
        return Ok(anonymous());
    }
    let secret = presented_secret(headers, access_token).ok_or(Denied::Unauthenticated)?;
    let id = tokens.authenticate(secret).ok_or(Denied::Unauthenticated)?;
    if allowed.contains(&id.role) { Ok(id) } else { Err(Denied::Forbidden) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_is_a_bearer_token() {
        for v in ["Bearer s3", "bearer s3", "BEARER s3", "BeArEr  s3 "] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            assert_eq!(presented_secret(&h, None), Some("s3"), "{v:?}");
        }
        for v in ["Basic s3", "Bearers3", "Bearer", "Bearer ", "s3"] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            assert_eq!(presented_secret(&h, None), None, "{v:?}");
        }
    }
}
