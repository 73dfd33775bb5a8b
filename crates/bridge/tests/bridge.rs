//! The test bridge (`rounds-app-bridge`), the real binary on loopback: it serves its own page
//! and answers only requests from that page (its Host, its Origin, its token), so another site
//! in the same browser cannot drive the app (DNS rebinding included).

#![allow(
    clippy::unwrap_used,
    reason = "tests: unwraps that fail the test loudly"
)]

/// One HTTP/1.1 request written by hand (so that Host and Origin are exactly what a hostile
/// page would send); returns the status and the body.
fn raw_http(addr: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post_notes(addr: &str, host: &str, origin: Option<&str>, token: Option<&str>) -> u16 {
    let mut req = format!("POST /invoke/notes HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(o) = origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    if let Some(t) = token {
        req.push_str(&format!("x-rounds-token: {t}\r\n"));
    }
    req.push_str("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    raw_http(addr, &req).0
}

/// The bridge (stopped on drop).
struct BridgeProcess(std::process::Child);

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_bridge_answers_only_its_own_page_not_other_hosts_origins_or_tokenless_requests() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rounds-app-bridge"))
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _bridge = BridgeProcess(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("the bridge says where it listens")
        .to_string();
    let port = addr.rsplit(':').next().unwrap();
    let own = format!("http://{addr}");

    let (status, page) = raw_http(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200, "the page itself is served");
    let token = page
        .split("name=\"rounds-bridge-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries this run's token")
        .to_string();
    assert_eq!(token.len(), 64, "32 random bytes, hex");

    let evil_host = format!("evil.example:{port}");
    let (evil, here, mine, tok) = (
        evil_host.as_str(),
        addr.as_str(),
        own.as_str(),
        token.as_str(),
    );
    let (local, local_origin) = (
        format!("localhost:{port}"),
        format!("http://localhost:{port}"),
    );
    /// (why, Host, Origin, token, the status expected: 403, or 0 for "let through").
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, u16);
    let cases: [Case; 8] = [
        (
            "the issue's curl: another host and origin, no token",
            evil,
            Some("http://evil.example"),
            None,
            403,
        ),
        (
            "DNS rebinding: another host name, even with the token",
            evil,
            None,
            Some(tok),
            403,
        ),
        (
            "another web page's origin, even with the token",
            here,
            Some("http://evil.example"),
            Some(tok),
            403,
        ),
        (
            "the right host on another port",
            "127.0.0.1:1",
            Some(mine),
            Some(tok),
            403,
        ),
        ("no token", here, Some(mine), None, 403),
        ("a wrong token", here, Some(mine), Some("00"), 403),
        ("the page's own request", here, Some(mine), Some(tok), 0),
        (
            "as localhost",
            local.as_str(),
            Some(local_origin.as_str()),
            Some(tok),
            0,
        ),
    ];
    for (why, host, origin, tok, expected) in cases {
        let status = post_notes(&addr, host, origin, tok);
        if expected == 403 {
            assert_eq!(status, 403, "{why}: refused");
        } else {
            assert_ne!(
                status, 403,
                "{why}: let through to the command (got {status})"
            );
        }
    }
    let (status, _) = raw_http(
        &addr,
        &format!("GET / HTTP/1.1\r\nHost: {evil_host}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(
        status, 403,
        "a rebound host name does not even get the page (nor its token)"
    );
}
