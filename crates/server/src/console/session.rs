//! Console sign-in and sessions.
//!
//! A console session is a random token in a cookie (`rounds_console`; `HttpOnly` so scripts
//! cannot read it, `SameSite=Strict` so other sites cannot send it, `Path=/console`); the
//! server keeps its SHA-256 with the person, a per-session form token, and two clocks: it ends
//! [`SESSION_HOURS`] after sign-in and after [`IDLE_MINUTES`] without a request, whatever the
//! cookie says. Only supervisors and administrators may sign in (others get a 403 page), and
//! the role is checked again on every request, so a demoted person is out at once. A new
//! password or a deactivation deletes the person's sessions (`Storage::put_person`).
//!
//! Password guessing: the sign-in form goes through [`crate::signin`] like the app's sign-in
//! (a throttle in storage, counted before the hash; the same work for unknown names; a bounded
//! number of hashes at once); a throttled or busy attempt gets a 429 or 503 page with
//! `Retry-After`.
//!
//! Cross-site request forgery: besides `SameSite=Strict`, every POST must carry the session's
//! form token ([`ConsoleUser::check_form`]) and, when the browser sends `Origin` (all current
//! browsers do on POST), it must be this server's own origin.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use rounds_domain::entropy::OsEntropy;
use rounds_domain::model::Role;
use serde::Deserialize;

use super::html::{self, Chrome, esc};
use super::params::Form;
use super::{ConsoleError, ConsoleResult, blocking, html_response, secure};
use crate::AppState;
use crate::access::Viewer;
use crate::audit::NewEntry;
use crate::auth;
use crate::signin::{ClientAddr, Door};
use crate::storage::PersonRecord;
use crate::storage::console::ConsoleSession;

/// The cookie's name.
pub const COOKIE: &str = "rounds_console";
/// A session ends this long after sign-in.
pub const SESSION_HOURS: i64 = 8;
/// A session ends after this long without a request.
pub const IDLE_MINUTES: i64 = 30;

/// A signed-in supervisor or administrator, checked for this request.
#[derive(Clone)]
pub struct ConsoleUser {
    /// The person.
    pub person: PersonRecord,
    /// Their form token.
    pub csrf: String,
    token_hash: String,
}

impl ConsoleUser {
    /// The viewer for access decisions (the sync rules).
    pub fn viewer(&self) -> Viewer {
        auth::viewer(&self.person)
    }

    /// This person making an admin change at `at` (for its audit entry).
    pub fn actor(&self, at: chrono::DateTime<chrono::Utc>) -> crate::admin::Actor {
        crate::admin::Actor {
            by: Some(self.person.id),
            at,
        }
    }

    /// The page header's view of this person.
    pub fn chrome(&self) -> Chrome<'_> {
        Chrome {
            name: &self.person.name,
            role: self.person.role,
            csrf: &self.csrf,
        }
    }

    /// Refuses a form whose token is not this session's, or that came from another origin.
    pub fn check_form(&self, headers: &HeaderMap, token: &str) -> ConsoleResult<()> {
        check_origin(headers)?;
        let a = auth::token_hash(token);
        let b = auth::token_hash(&self.csrf);
        if a != b {
            return Err(ConsoleError::Forbidden(
                "this form is out of date or did not come from the console; reload the page".into(),
            ));
        }
        Ok(())
    }

    /// Refuses anyone but an administrator.
    pub fn require_admin(&self) -> ConsoleResult<()> {
        if self.person.role != Role::Admin {
            return Err(ConsoleError::Forbidden(
                "these pages are for district administrators".into(),
            ));
        }
        Ok(())
    }
}

/// Refuses a POST whose `Origin` (or `Sec-Fetch-Site`) says it came from another site.
pub fn check_origin(headers: &HeaderMap) -> ConsoleResult<()> {
    let forged = || ConsoleError::Forbidden("this form was sent from another site".into());
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return Err(forged());
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(forged)?;
    let origin = origin.to_str().map_err(|_| forged())?;
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(forged)?;
    if bare != host {
        return Err(forged());
    }
    Ok(())
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// Whether a stored session is still good at `now`.
pub fn session_alive(s: &ConsoleSession, now: DateTime<Utc>) -> bool {
    now < s.expires_at && now < s.last_seen_at + Duration::minutes(IDLE_MINUTES)
}

fn may_use_console(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Admin)
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Checked once per request: the other extractors that need the user (an admin, a
        // form's token) find it here.
        if let Some(user) = parts.extensions.get::<ConsoleUser>() {
            return Ok(user.clone());
        }
        let user = Self::check(parts, state).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl ConsoleUser {
    /// The session the request's cookie names, if it is alive and its person may use the
    /// console; the session's last use moves to now.
    async fn check(parts: &Parts, state: &AppState) -> ConsoleResult<ConsoleUser> {
        let token = cookie_token(&parts.headers).ok_or(ConsoleError::SignIn)?;
        let storage = state.storage.clone();
        let now = state.now();
        blocking(move || {
            let hash = auth::token_hash(&token);
            let s = storage
                .console_session(&hash)?
                .ok_or(ConsoleError::SignIn)?;
            if !session_alive(&s, now) {
                storage.end_console_session(&hash)?;
                return Err(ConsoleError::SignIn);
            }
            let person = storage
                .person(s.person_id)?
                .filter(|p| p.active)
                .ok_or(ConsoleError::SignIn)?;
            if !may_use_console(person.role) {
                return Err(ConsoleError::Forbidden(
                    "the console is for supervisors and administrators".into(),
                ));
            }
            storage.touch_console_session(&hash, now)?;
            Ok(ConsoleUser {
                person,
                csrf: s.csrf,
                token_hash: hash,
            })
        })
        .await
    }
}

/// A signed-in district administrator: anyone else gets the 403 page
/// ([`ConsoleUser::require_admin`]).
pub struct AdminUser(pub ConsoleUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = ConsoleUser::from_request_parts(parts, state).await?;
        user.require_admin()?;
        Ok(AdminUser(user))
    }
}

/// A form posted from one of this session's pages: it came from this server's origin and
/// carries the session's token in its `csrf` field ([`ConsoleUser::check_form`]), or it is
/// refused with the 403 page before the handler runs. `T` is read from the same body (its own
/// fields; it need not name `csrf`).
pub struct CsrfForm<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = ConsoleUser::from_request_parts(&mut parts, state).await?;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let headers = parts.headers.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| ConsoleError::BadRequest(e.body_text()))?;
        let token: TokenForm = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        user.check_form(&headers, &token.csrf)?;
        if !is_form {
            return Err(ConsoleError::BadRequest(
                "a form is sent as application/x-www-form-urlencoded".into(),
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ConsoleError::BadRequest(format!("the form: {e}")))?;
        Ok(CsrfForm(form))
    }
}

fn login_form(message: Option<&str>, username: &str) -> String {
    let msg = message
        .map(|m| format!(r#"<p class="error" role="alert">{}</p>"#, esc(m)))
        .unwrap_or_default();
    format!(
        r#"<section class="login"><h2>Sign in</h2>{msg}<form method="post" action="/console/login">
<label>Username <input name="username" autocomplete="username" required value="{}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p class="hint">Supervisors and district administrators sign in with their Rounds account.</p></section>"#,
        esc(username)
    )
}

/// `GET /console/login`.
pub async fn login_page() -> Response {
    html_response(
        StatusCode::OK,
        html::page("Sign in", None, &login_form(None, "")),
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// `POST /console/login`: checks the password, refuses guards and SROs, starts a session.
/// The attempt goes through the same throttle and hash slots as app sign-ins
/// ([`crate::signin`]): the name's counter is shared, so guessing through both doors does not
/// double the budget.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> ConsoleResult<Response> {
    check_origin(&headers)?;
    let username = f.username.trim().to_string();
    crate::check_credential_lengths(&username, &f.password)?;
    let storage = state.storage.clone();
    let now = state.now();
    let https = state.proxy().https;
    let door = Door::Password {
        username: &username,
    };
    let attempt = state
        .sign_in
        .admit(&storage, crate::new_id(), door, ip, now)
        .await?;
    let mut slot = state.sign_in.hash_slot(&storage, Some(&attempt)).await?;
    blocking(move || {
        // An unknown name costs the same Argon2 work as a known one: the answer's timing does
        // not say which usernames exist.
        let person = storage.person_by_username(&username)?;
        let ok = auth::verify_password_in(
            &f.password,
            person.as_ref().map(|p| p.password_hash.as_str()),
            slot.memory(),
        );
        drop(slot);
        let known = person.as_ref().map(|p| p.id);
        let person = person.filter(|p| ok && p.active);
        attempt.finish(storage.as_ref(), person.is_some())?;
        let from = ip.to_string();
        let Some(person) = person else {
            storage.append_audit(&[NewEntry::sign_in_failed(
                now,
                "console",
                &username,
                known,
                &from,
                "wrong username or password",
            )])?;
            tracing::info!(%username, "console sign-in refused");
            return Ok(html_response(
                StatusCode::UNAUTHORIZED,
                html::page(
                    "Sign in",
                    None,
                    &login_form(Some("Wrong username or password."), &username),
                ),
            ));
        };
        if !may_use_console(person.role) {
            storage.append_audit(&[NewEntry::sign_in_failed(
                now,
                "console",
                &username,
                Some(person.id),
                &from,
                "the console is not for this role",
            )])?;
            return Err(ConsoleError::Forbidden(format!(
                "the console is for supervisors and administrators; {} works in the field app",
                person.role
            )));
        }
        let token = auth::new_token(&mut OsEntropy);
        let csrf = auth::new_token(&mut OsEntropy);
        storage.add_console_session(
            &auth::token_hash(&token),
            &ConsoleSession {
                person_id: person.id,
                csrf,
                last_seen_at: now,
                expires_at: now + Duration::hours(SESSION_HOURS),
            },
            now,
        )?;
        storage.append_audit(&[NewEntry::sign_in(
            now, "console", &username, person.id, None, &from,
        )])?;
        tracing::info!(person = %person.id, "console sign-in");
        let mut r = Redirect::to("/console/day").into_response();
        let cookie = format!(
            "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_HOURS * 3600,
            if https { "; Secure" } else { "" }
        );
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(|e| ConsoleError::Internal(e.to_string()))?,
        );
        secure(r.headers_mut());
        Ok(r)
    })
    .await
}

/// A form that carries only the token.
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    /// The session's form token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /console/logout`: ends the session on the server and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: ConsoleUser,
    CsrfForm(_): CsrfForm<TokenForm>,
) -> ConsoleResult<Response> {
    let storage = state.storage.clone();
    let hash = user.token_hash.clone();
    blocking(move || Ok(storage.end_console_session(&hash)?)).await?;
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(if state.proxy().https {
            "rounds_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0; Secure"
        } else {
            "rounds_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"
        }),
    );
    secure(r.headers_mut());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(0).single().unwrap_or_default() + Duration::minutes(min)
    }

    #[test]
    fn sessions_end_at_their_deadline_and_when_idle() {
        let s = ConsoleSession {
            person_id: uuid::Uuid::nil(),
            csrf: String::new(),
            last_seen_at: t(100),
            expires_at: t(480),
        };
        assert!(
            session_alive(&s, t(110)),
            "recently used, before the deadline"
        );
        assert!(!session_alive(&s, t(100 + IDLE_MINUTES)), "idle too long");
        let busy = ConsoleSession {
            last_seen_at: t(470),
            ..s.clone()
        };
        assert!(
            !session_alive(&busy, t(480)),
            "the deadline holds however busy"
        );
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            check_origin(&h).is_ok(),
            "no Origin: old client, token still checked"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(check_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(check_origin(&h).is_err());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(check_origin(&h).is_err());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; rounds_console=tok; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("tok"));
    }
}
