//! Stopping the server with SIGTERM: it stops accepting connections at once, finishes the
//! requests in flight (their answers reach the client whole), and exits with status 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::*;

#[test]
fn sigterm_finishes_the_request_in_flight_refuses_new_ones_and_exits_cleanly() {
    let data = seeded_district();
    let mut server = ServerProcess::start(&data, &[]);
    let addr = server.addr().to_string();
    let body =
        serde_json::json!({ "username": GIA.username, "password": GIA.password }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);

    // A sign-in whose head and half of whose body have arrived: in flight.
    let mut in_flight = TcpStream::connect(&addr).expect("connect");
    in_flight
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        in_flight,
        "POST /v1/sessions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .expect("send the head and half the body");
    in_flight.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));

    server.terminate();
    // The listener closes: a new connection is refused (give the signal a moment to land).
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(&addr).is_err() {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        refused,
        "after SIGTERM the server accepts no new connection"
    );
    assert!(
        server.wait_exit(Duration::from_millis(200)).is_none(),
        "the server waits for the request in flight"
    );

    in_flight
        .write_all(rest.as_bytes())
        .expect("send the rest of the body");
    let mut answer = String::new();
    in_flight
        .read_to_string(&mut answer)
        .expect("the whole answer");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered in full: {answer}"
    );
    assert!(answer.contains("\"token\""), "{answer}");

    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits once the request is answered");
    assert!(status.success(), "exit status {status:?}");
}
