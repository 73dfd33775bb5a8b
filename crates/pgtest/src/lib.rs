//! A private PostgreSQL cluster for tests and benchmarks, from Debian's server programs
//! (`/usr/lib/postgresql/15/bin`, or `ROUNDS_PG_BIN`, or `pg_config --bindir`): `initdb` into a
//! temporary folder, `pg_ctl` listening on a free loopback port (and a socket in that folder),
//! trust authentication for its one user, `rounds`. No system service, no password.
//!
//! PostgreSQL refuses to run as root: under root the cluster's programs run as `nobody`
//! (through `setpriv`), and its folder belongs to `nobody`.
//!
//! [`Cluster`] stops the server (fast shutdown) and removes the folder when dropped. A test
//! process that dies without dropping it (a panic in another thread, SIGKILL) leaves nothing
//! behind either: a watchdog started with the cluster stops and removes it once the test
//! process is gone.

pub mod haproxy;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cluster's one user (a superuser; trust authentication on loopback and its socket).
pub const USER: &str = "rounds";

/// A running private cluster.
pub struct Cluster {
    dir: Option<tempfile::TempDir>,
    bin: PathBuf,
    port: u16,
    as_nobody: bool,
}

/// Why a cluster could not be started.
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

fn error(what: impl std::fmt::Display) -> ClusterError {
    ClusterError(what.to_string())
}

/// The folder holding `initdb` and `pg_ctl`.
pub fn bin_dir() -> Result<PathBuf, ClusterError> {
    if let Ok(dir) = std::env::var("ROUNDS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if debian.join("initdb").is_file() {
        return Ok(debian);
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map_err(|e| error(format!("PostgreSQL's server programs were not found (no /usr/lib/postgresql/15/bin, no pg_config: {e}); scripts/setup.sh installs them")))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn is_root() -> bool {
    // The effective uid, without a libc dependency: /proc/self/status's "Uid:" line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A free loopback port (bound, read and released: the program started next takes it).
pub fn free_port() -> Result<u16, ClusterError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(error)?;
    Ok(l.local_addr().map_err(error)?.port())
}

impl Cluster {
    /// Starts a new cluster and waits until it accepts connections.
    pub fn start() -> Result<Cluster, ClusterError> {
        let bin = bin_dir()?;
        let as_nobody = is_root();
        let dir = tempfile::Builder::new()
            .prefix("rounds-pg-")
            .tempdir()
            .map_err(error)?;
        if as_nobody {
            let status = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.path())
                .status()
                .map_err(error)?;
            if !status.success() {
                return Err(error("chown of the cluster folder to nobody failed"));
            }
        }
        let mut cluster = Cluster {
            dir: Some(dir),
            bin,
            port: 0,
            as_nobody,
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        // A port taken between the probe and the start: try another.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c max_connections=200 -c shared_buffers=64MB",
                cluster.port,
                path_str(cluster.root())?
            );
            let log = cluster.root().join("server.log");
            match cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data)?,
                    "-l",
                    path_str(&log)?,
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            ) {
                Ok(()) => {
                    cluster.watch();
                    return Ok(cluster);
                }
                Err(e) => {
                    last = format!(
                        "{e}; server log: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                }
            }
        }
        Err(error(format!("the cluster did not start: {last}")))
    }

    fn root(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/"))
    }

    fn data_dir(&self) -> PathBuf {
        self.root().join("data")
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// CPU time (user and system) the cluster has used so far: its server, its live backends
    /// and those that have exited.
    pub fn cpu_time(&self) -> Result<std::time::Duration, ClusterError> {
        let pid_file = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .map_err(|e| error(format!("postmaster.pid: {e}")))?;
        let pid = pid_file.lines().next().unwrap_or("").trim().to_string();
        // Fields after the command: state, ppid, ..., utime (12th), stime, cutime, cstime.
        let fields = |stat: &str| -> Vec<String> {
            stat.rfind(')')
                .map_or("", |i| &stat[i + 2..])
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        let ticks = |f: &[String], n: usize| -> u64 {
            f.iter()
                .skip(11)
                .take(n)
                .map(|v| v.parse::<u64>().unwrap_or(0))
                .sum()
        };
        let own = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| error(format!("/proc/{pid}/stat: {e}")))?;
        let mut total = ticks(&fields(&own), 4);
        for entry in std::fs::read_dir("/proc").map_err(error)?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let f = fields(&stat);
            if f.get(1).is_some_and(|ppid| *ppid == pid) {
                total += ticks(&f, 2);
            }
        }
        // Clock ticks: 100 per second on Linux.
        Ok(std::time::Duration::from_millis(total * 10))
    }

    /// A `postgres://` URL for database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` (letters, digits and `_` only) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(error(format!("{name:?} is not a plain database name")));
        }
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                name,
            ],
        )?;
        Ok(self.url(name))
    }

    /// Runs `psql -c sql` on database `db`; what it printed (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, ClusterError> {
        let out = self
            .command("psql")?
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(error)?;
        if !out.status.success() {
            return Err(error(format!(
                "psql: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn command(&self, program: &str) -> Result<Command, ClusterError> {
        let path = {
            let p = self.bin.join(program);
            if p.is_file() {
                p
            } else {
                PathBuf::from(program)
            }
        };
        Ok(if self.as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
                .arg(path);
            c
        } else {
            Command::new(path)
        })
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), ClusterError> {
        let out = self
            .command(program)?
            .args(args)
            .current_dir(self.root())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| error(format!("{program}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(error(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Starts the watchdog: a shell that waits for this process to end and then stops the
    /// cluster and removes its folder (a no-op when `Drop` did it already).
    fn watch(&self) {
        let (Some(pg_ctl), Some(root)) = (
            self.bin.join("pg_ctl").to_str().map(str::to_string),
            self.root().to_str().map(str::to_string),
        ) else {
            return;
        };
        let stop = if self.as_nobody {
            format!("setpriv --reuid=nobody --regid=nogroup --clear-groups -- '{pg_ctl}'")
        } else {
            format!("'{pg_ctl}'")
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             if [ -d '{root}/data' ]; then {stop} -D '{root}/data' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'; fi",
            pid = std::process::id()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

fn path_str(p: &Path) -> Result<&str, ClusterError> {
    p.to_str()
        .ok_or_else(|| error(format!("{} is not UTF-8", p.display())))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(data) = path_str(&self.data_dir()).map(str::to_string) {
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
        }
        if let Some(dir) = self.dir.take()
            && dir.close().is_err()
        {
            // Owned by nobody and left with files the server wrote: remove as root can.
            let _ = std::fs::remove_dir_all(self.root());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_queries_and_is_gone_when_dropped() {
        let cluster = Cluster::start().expect("start a private cluster");
        let root = cluster.root().to_path_buf();
        cluster.create_database("probe").expect("createdb");
        assert_eq!(cluster.psql("probe", "SELECT 40 + 2").expect("psql"), "42");
        assert!(
            cluster
                .url("probe")
                .starts_with("postgres://rounds@127.0.0.1:"),
            "{}",
            cluster.url("probe")
        );
        let port = cluster.port();
        drop(cluster);
        assert!(!root.exists(), "the cluster's folder is removed");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens on its port any more"
        );
    }
}
