//! The JSON admin API's guard against cross-site writes and writes on a read-only console,
//! over a real admin listener on an ephemeral loopback port: every refusal is a 403 with a JSON
//! error, given before routing (so a write to an endpoint that does not exist is refused too).
//! The node is not started: the guard needs none, and what passes it then answers 404 (no such
//! endpoint) or 503 (no node yet).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use sluice_http::api::access::Credentials;
use sluice_http::AdminState;
use sluice_security::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

struct Listener {
    addr: std::net::SocketAddr,
    _stop: watch::Sender<bool>,
    /// Dropped with the test: the serving task is aborted.
    _tasks: tokio::task::JoinSet<()>,
}

async fn listen(state: Arc<AdminState>) -> Listener {
    let (stop, stopped) = watch::channel(false);
    let spec = sluice_http::ListenerSpec::http("127.0.0.1:0".parse().unwrap());
    let (bound, tasks) = sluice_http::serve(vec![spec], state, stopped)
        .await
        .unwrap();
    Listener {
        addr: bound[0].trim_start_matches("http://").parse().unwrap(),
        _stop: stop,
        _tasks: tasks,
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request (`Connection: close`), its answer read to the end.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        text.push_str("Content-Type: application/json\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn assert_refused(answer: &Answer, says: &str) {
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer.head.contains("content-type: application/json"),
        "{}",
        answer.head
    );
    assert!(
        answer.body.contains("\"error\":\"FORBIDDEN\""),
        "{}",
        answer.body
    );
    assert!(answer.body.contains(says), "{}", answer.body);
}

#[tokio::test]
async fn a_write_without_a_csrf_token_is_refused_before_routing() {
    let l = listen(AdminState::new()).await;
    for (method, path) in [
        ("POST", "/api/v1/topics"),
        ("DELETE", "/api/v1/topics/orders"),
        ("PATCH", "/api/v1/brokers/1/configs"),
        ("PUT", "/api/v1/no/such/endpoint"),
        ("POST", "/api/v1/no-such-endpoint"),
        ("DELETE", "/api/v1/session"),
    ] {
        let answer = request(l.addr, method, path, &[], "{}").await;
        assert_refused(&answer, "X-CSRF-Token");
        // An empty token is no token.
        let answer = request(l.addr, method, path, &[("X-CSRF-Token", " ")], "{}").await;
        assert_refused(&answer, "X-CSRF-Token");
    }
    // With a token (and no session cookie: any non-empty value), the request is routed.
    let answer = request(
        l.addr,
        "POST",
        "/api/v1/no-such-endpoint",
        &[("X-CSRF-Token", "x")],
        "{}",
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    // Reads need none.
    let answer = request(l.addr, "GET", "/api/v1/no-such-endpoint", &[], "").await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    // The login itself needs none: it passes to the handler (no node yet: 503).
    let login = r#"{"user":"alice","password":"alice-secret"}"#;
    let answer = request(l.addr, "POST", "/api/v1/session", &[], login).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
}

#[tokio::test]
async fn a_session_cookie_needs_that_sessions_csrf_token() {
    let state = AdminState::new();
    let (token, session) = state
        .sessions()
        .create(Some(Credentials {
            user: "alice".to_string(),
            password: Secret::new(b"alice-secret".to_vec()),
        }))
        .unwrap();
    let l = listen(state.clone()).await;
    let cookie = format!("sluice_session={token}");
    let path = "/api/v1/no-such-endpoint";
    let answer = request(
        l.addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("X-CSRF-Token", "x")],
        "{}",
    )
    .await;
    assert_refused(&answer, "not this session's csrf_token");
    // Another session's token does not do either.
    let (_, other) = state.sessions().create(None).unwrap();
    let answer = request(
        l.addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("X-CSRF-Token", &other.csrf_token)],
        "{}",
    )
    .await;
    assert_refused(&answer, "not this session's csrf_token");
    let answer = request(
        l.addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("X-CSRF-Token", &session.csrf_token)],
        "{}",
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    // Logging out ends the session and clears the cookie (no node: the answer is a 503, the
    // session is gone all the same).
    let answer = request(
        l.addr,
        "DELETE",
        "/api/v1/session",
        &[("Cookie", &cookie), ("X-CSRF-Token", &session.csrf_token)],
        "",
    )
    .await;
    assert!(
        answer
            .head
            .contains("set-cookie: sluice_session=; httponly; samesite=strict; path=/; max-age=0"),
        "{}",
        answer.head
    );
    assert!(state.sessions().get(&token).is_none());
    // A cookie of an ended session is no session: any token passes the guard (the Caller then
    // asks for a login on a cluster that authenticates).
    let answer = request(
        l.addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("X-CSRF-Token", "x")],
        "{}",
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}

#[tokio::test]
async fn a_read_only_console_refuses_every_write_but_the_login() {
    let l = listen(AdminState::with_read_only(true)).await;
    for (method, path) in [
        ("POST", "/api/v1/topics"),
        ("DELETE", "/api/v1/topics/orders"),
        ("PATCH", "/api/v1/topics/orders/configs"),
        ("POST", "/api/v1/groups/g/offsets/reset"),
        ("POST", "/api/v1/topics/orders/records"),
        ("POST", "/api/v1/no-such-endpoint"),
    ] {
        let answer = request(l.addr, method, path, &[("X-CSRF-Token", "x")], "{}").await;
        assert_refused(&answer, "read-only");
    }
    // Without the token the CSRF refusal comes first.
    let answer = request(l.addr, "POST", "/api/v1/topics", &[], "{}").await;
    assert_refused(&answer, "X-CSRF-Token");
    // Reads pass; logging in passes (no node: 503).
    let answer = request(l.addr, "GET", "/api/v1/no-such-endpoint", &[], "").await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let login = r#"{"user":"alice","password":"alice-secret"}"#;
    let answer = request(l.addr, "POST", "/api/v1/session", &[], login).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
}

#[tokio::test]
async fn a_bad_login_body_is_a_json_400() {
    let l = listen(AdminState::new()).await;
    for body in [
        "",
        "{",
        r#"{"user":"alice"}"#,
        r#"{"user":1,"password":"p"}"#,
        r#"{"user":"a","password":"p","x":1}"#,
        r#"["alice","alice-secret"]"#,
    ] {
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[("Content-Type", "application/json")]
        } else {
            &[]
        };
        let answer = request(l.addr, "POST", "/api/v1/session", headers, body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(
            answer.body.contains("\"error\":\"BAD_REQUEST\""),
            "{}",
            answer.body
        );
    }
}
