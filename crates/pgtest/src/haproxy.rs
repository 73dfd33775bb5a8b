//! A real reverse proxy for tests and benchmarks of several server processes: Debian's haproxy
//! (`scripts/setup.sh` installs it) in the foreground, round robin over the given loopback
//! ports, each checked on `GET /health` every 200 ms (a dead process is out of the rotation
//! after two failed checks, back after one good one; a check may take 2 s, so a busy process
//! is not taken for a dead one). A request whose connection is refused is sent to the other
//! process (`retries`, `redispatch`). No sticky sessions. Stopped when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ClusterError, error, free_port};

/// A running haproxy.
pub struct Haproxy {
    /// `http://127.0.0.1:<port>`: where clients connect.
    pub base: String,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The haproxy program: on `PATH`, or Debian's `/usr/sbin/haproxy`.
fn program() -> Result<String, ClusterError> {
    ["haproxy", "/usr/sbin/haproxy"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())
        .map(str::to_string)
        .ok_or_else(|| error("haproxy is not installed (scripts/setup.sh installs it)"))
}

/// Whether `GET /health` on `port` answers 200.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

impl Haproxy {
    /// Starts haproxy balancing over `servers` (loopback ports) and waits until it answers.
    pub fn start(servers: &[u16]) -> Result<Haproxy, ClusterError> {
        let dir = tempfile::tempdir().map_err(error)?;
        let port = free_port()?;
        let backends: String = servers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!("    server p{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 1\n")
            })
            .collect();
        let cfg = format!(
            "global\n    maxconn 4096\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 120s\n    timeout server 120s\n    timeout check 2s\n\
             \x20   retries 2\n    option redispatch\n\
             frontend rounds\n    bind 127.0.0.1:{port}\n    option forwardfor\n    default_backend servers\n\
             backend servers\n    balance roundrobin\n    option httpchk GET /health\n{backends}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).map_err(error)?;
        let child = Command::new(program()?)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| error(format!("start haproxy: {e}")))?;
        let proxy = Haproxy {
            base: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while !healthy(port) {
            if Instant::now() > until {
                return Err(error(format!("haproxy did not answer on port {port}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(proxy)
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
