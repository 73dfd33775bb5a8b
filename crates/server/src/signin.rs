//! Sign-in hardening, shared by every door that takes a secret: app and API sessions
//! (`POST /v1/sessions`), the console's sign-in form (`POST /console/login`) and device
//! enrollment (`POST /v1/enroll`).
//!
//! Terms:
//! - **Throttle.** Attempts are counted in storage ([`crate::storage::Storage::admit_attempt`])
//!   against *counters*: the username (`name:`), the client's network (`addr:`: the IPv4
//!   address, or the /64 of an IPv6 one) and, for enrollment, the network again on its own
//!   counter (`enroll:`). An attempt is counted *before* its secret is checked, in the same
//!   transaction that saw room for it, so a parallel burst cannot slip past the limit. A right
//!   password uncounts its attempt and forgives the name's earlier failures; a wrong one stays
//!   counted for the window. A full counter is answered 429 with `Retry-After`, without any
//!   Argon2 work. Rows, not memory: several server processes on one database share the counts.
//! - **Hash slots.** Argon2 (19 MiB, about 50 ms of a core) runs only inside a [`HashSlot`]:
//!   there are [`SignInPolicy::hash_slots`] of them (a semaphore), each lending a reused
//!   [`HashMemory`], so a flood cannot grow memory past `slots × 19 MiB` or queue unbounded
//!   work on the blocking pool. A request that waits [`SignInPolicy::hash_wait`] without a slot
//!   is answered 503 `busy` with `Retry-After: 1`, and its attempt is uncounted.
//! - **The same work for unknown names**: see [`crate::auth::verify_password_in`].
//!
//! The numbers ([`SignInPolicy::default`]) and why are in `docs/sync.md` ("Credentials").

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::auth::HashMemory;
use crate::error::ApiError;
use crate::storage::{Admission, AttemptOutcome, Storage, StorageError, ThrottleKey};

/// The throttle's numbers and the hash bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInPolicy {
    /// How long an attempt counts.
    pub window: chrono::Duration,
    /// Failed password sign-ins per username within the window.
    pub per_name: u32,
    /// Failed password sign-ins per client network within the window (any names).
    pub per_address: u32,
    /// Failed enrollments per client network within the window.
    pub enroll_per_address: u32,
    /// Argon2 runs at once.
    pub hash_slots: usize,
    /// How long a request waits for a hash slot before it is answered 503.
    pub hash_wait: std::time::Duration,
}

impl Default for SignInPolicy {
    /// 5 failures per name and 50 per network per 15 minutes, 10 failed enrollments per
    /// network; one hash slot per core, a one-second wait.
    fn default() -> Self {
        SignInPolicy {
            window: chrono::Duration::minutes(15),
            per_name: 5,
            per_address: 50,
            enroll_per_address: 10,
            hash_slots: std::thread::available_parallelism().map_or(2, |n| n.get()),
            hash_wait: std::time::Duration::from_secs(1),
        }
    }
}

/// Which door an attempt comes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door<'a> {
    /// A username and password (app sessions and the console share the name's counter).
    Password {
        /// The username as typed.
        username: &'a str,
    },
    /// A one-time enrollment code.
    Enrollment,
}

/// The counter of a username: trimmed and lowercased, so spellings of one name share it.
pub fn name_key(username: &str) -> String {
    format!("name:{}", username.trim().to_lowercase())
}

/// A client's network as the throttle counts it: an IPv4 address, or the /64 of an IPv6 one
/// (one subscriber's usual allocation), an IPv4-mapped IPv6 address as IPv4.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The counters an attempt at `door` from `ip` is charged to, with their limits.
pub fn throttle_keys(policy: &SignInPolicy, door: Door<'_>, ip: IpAddr) -> Vec<ThrottleKey> {
    match door {
        Door::Password { username } => vec![
            ThrottleKey {
                key: name_key(username),
                limit: policy.per_name,
            },
            ThrottleKey {
                key: format!("addr:{}", network(ip)),
                limit: policy.per_address,
            },
        ],
        Door::Enrollment => vec![ThrottleKey {
            key: format!("enroll:{}", network(ip)),
            limit: policy.enroll_per_address,
        }],
    }
}

/// The client's address: the TCP peer (`0.0.0.0` when the router runs without connection
/// info, as in in-process tests), or, when the peer is a trusted proxy
/// ([`crate::ProxyPolicy`]), the rightmost address of `X-Forwarded-For` that is not itself a
/// trusted proxy (the proxies append; what the client wrote is to the left and not believed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client of a request from `peer` with `X-Forwarded-For` values `forwarded`.
    pub fn of(peer: IpAddr, forwarded: &[&str], trusted: &[IpAddr]) -> ClientAddr {
        if !trusted.contains(&peer) {
            return ClientAddr(peer);
        }
        let hops = forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rev();
        for hop in hops {
            match hop.parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => continue,
                Ok(ip) => return ClientAddr(ip),
                // Garbage in the chain: trust nothing to its left.
                Err(_) => break,
            }
        }
        ClientAddr(peer)
    }
}

impl FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddr::of(peer, &forwarded, &state.proxy().trusted))
    }
}

/// The throttle and the hash slots of one server process.
pub struct SignInGuard {
    policy: SignInPolicy,
    slots: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<HashMemory>>>,
}

impl SignInGuard {
    /// A guard with `policy` (at least one hash slot).
    pub fn new(policy: SignInPolicy) -> Self {
        let slots = Arc::new(Semaphore::new(policy.hash_slots.max(1)));
        SignInGuard {
            policy,
            slots,
            memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The numbers in force.
    pub fn policy(&self) -> &SignInPolicy {
        &self.policy
    }

    /// Counts an attempt at `door` from `ip`, or refuses it with 429 `throttled` when a counter
    /// is full. `attempt` is a new id.
    pub async fn admit(
        &self,
        storage: &Arc<dyn Storage>,
        attempt: Uuid,
        door: Door<'_>,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Attempt, ApiError> {
        let keys = throttle_keys(&self.policy, door, ip);
        let forgive = match door {
            Door::Password { .. } => vec![keys[0].key.clone()],
            Door::Enrollment => vec![],
        };
        let st = storage.clone();
        let window = self.policy.window;
        let counted = keys.clone();
        let admission =
            tokio::task::spawn_blocking(move || st.admit_attempt(attempt, &counted, now, window))
                .await??;
        match admission {
            Admission::Admitted => Ok(Attempt {
                id: attempt,
                forgive,
            }),
            Admission::Refused { key, retry_after } => {
                let secs = (retry_after.num_milliseconds() + 999).max(1000) / 1000;
                let on = keys.get(key).map_or("", |k| k.key.as_str());
                tracing::warn!(counter = %on, retry_after = secs, "sign-in throttled");
                let what = match door {
                    Door::Password { .. } if key == 0 => "wrong passwords for this name",
                    Door::Password { .. } => "failed sign-ins from this network",
                    Door::Enrollment => "wrong enrollment codes from this network",
                };
                Err(ApiError::Throttled {
                    message: format!("too many {what}; try again in {}", human_wait(secs)),
                    retry_after_secs: secs as u64,
                })
            }
        }
    }

    /// A hash slot, waiting at most [`SignInPolicy::hash_wait`]; else 503 `busy`, and
    /// `attempt` (if any) is uncounted since its secret was never checked.
    pub async fn hash_slot(
        &self,
        storage: &Arc<dyn Storage>,
        attempt: Option<&Attempt>,
    ) -> Result<HashSlot, ApiError> {
        let wait = tokio::time::timeout(self.policy.hash_wait, self.slots.clone().acquire_owned());
        match wait.await {
            Ok(Ok(permit)) => {
                let memory = self
                    .memory
                    .lock()
                    .map_err(|_| ApiError::Internal("hash memory poisoned".into()))?
                    .pop()
                    .unwrap_or_default();
                Ok(HashSlot {
                    memory: Some(memory),
                    pool: self.memory.clone(),
                    _permit: permit,
                })
            }
            Ok(Err(closed)) => Err(ApiError::Internal(closed.to_string())),
            Err(_elapsed) => {
                tracing::warn!("no hash slot free: sign-in answered busy");
                if let Some(a) = attempt {
                    let (st, id) = (storage.clone(), a.id);
                    tokio::task::spawn_blocking(move || {
                        st.finish_attempt(id, AttemptOutcome::NotTried)
                    })
                    .await??;
                }
                Err(ApiError::Busy)
            }
        }
    }
}

fn human_wait(secs: i64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}

/// An attempt the throttle counted; say how it ended with [`Attempt::finish`].
#[derive(Debug)]
pub struct Attempt {
    id: Uuid,
    forgive: Vec<String>,
}

impl Attempt {
    /// Records the result: a right secret uncounts the attempt (and forgives the name's
    /// failures), a wrong one leaves it counted.
    pub fn finish(&self, storage: &dyn Storage, ok: bool) -> Result<(), StorageError> {
        let outcome = if ok {
            AttemptOutcome::Succeeded {
                forgive: &self.forgive,
            }
        } else {
            AttemptOutcome::Failed
        };
        storage.finish_attempt(self.id, outcome)
    }
}

/// The right to run one Argon2 hash now, with memory for it; dropping it frees the slot and
/// returns the memory for the next run.
pub struct HashSlot {
    memory: Option<HashMemory>,
    pool: Arc<Mutex<Vec<HashMemory>>>,
    _permit: OwnedSemaphorePermit,
}

impl HashSlot {
    /// The memory to hash in.
    pub fn memory(&mut self) -> &mut HashMemory {
        self.memory.get_or_insert_with(HashMemory::default)
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        if let (Some(m), Ok(mut pool)) = (self.memory.take(), self.pool.lock()) {
            pool.push(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn the_forwarded_client_is_believed_only_from_a_trusted_proxy() {
        let proxy = [ip("10.0.0.2")];
        assert_eq!(
            ClientAddr::of(ip("10.0.0.2"), &["198.51.100.7"], &proxy).0,
            ip("198.51.100.7"),
            "the proxy names the client"
        );
        assert_eq!(
            ClientAddr::of(ip("203.0.113.9"), &["198.51.100.7"], &proxy).0,
            ip("203.0.113.9"),
            "anyone else's header is ignored"
        );
        assert_eq!(
            ClientAddr::of(ip("10.0.0.2"), &["1.2.3.4, 198.51.100.7"], &proxy).0,
            ip("198.51.100.7"),
            "what the client wrote to the left of the proxy's entry is not believed"
        );
        assert_eq!(
            ClientAddr::of(ip("10.0.0.2"), &["198.51.100.7", "10.0.0.2"], &proxy).0,
            ip("198.51.100.7"),
            "trusted hops on the right are skipped"
        );
        assert_eq!(
            ClientAddr::of(ip("10.0.0.2"), &["bogus"], &proxy).0,
            ip("10.0.0.2"),
            "garbage leaves the proxy's own address"
        );
    }

    #[test]
    fn counters_by_door() {
        let p = SignInPolicy::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let keys: Vec<(String, u32)> = throttle_keys(
            &p,
            Door::Password {
                username: " Gia.Guard ",
            },
            ip,
        )
        .into_iter()
        .map(|k| (k.key, k.limit))
        .collect();
        assert_eq!(
            keys,
            vec![
                ("name:gia.guard".to_string(), 5),
                ("addr:192.0.2.7".to_string(), 50)
            ],
            "a password attempt counts against its name (however spelled) and its network"
        );
        let keys: Vec<String> = throttle_keys(&p, Door::Enrollment, ip)
            .into_iter()
            .map(|k| k.key)
            .collect();
        assert_eq!(
            keys,
            vec!["enroll:192.0.2.7"],
            "codes are guessed, not names: enrollment counts per network only"
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(network(a.into()), "2001:db8:1:2::/64");
        assert_eq!(
            network(a.into()),
            network(b.into()),
            "one /64 is one subscriber: rotating addresses inside it does not reset the count"
        );
        let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(network(mapped.into()), "192.0.2.7");
    }

    #[tokio::test]
    async fn no_more_hashes_run_than_there_are_slots() {
        let guard = SignInGuard::new(SignInPolicy {
            hash_slots: 2,
            hash_wait: std::time::Duration::from_millis(50),
            ..SignInPolicy::default()
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let st: Arc<dyn Storage> =
            Arc::new(crate::storage::SqliteStorage::open(dir.path()).expect("storage"));
        let a = guard.hash_slot(&st, None).await;
        let b = guard.hash_slot(&st, None).await;
        assert!(a.is_ok() && b.is_ok(), "two slots");
        let c = guard.hash_slot(&st, None).await;
        assert!(
            matches!(c, Err(ApiError::Busy)),
            "a third waits its short while, then is told the server is busy"
        );
        drop(a);
        assert!(
            guard.hash_slot(&st, None).await.is_ok(),
            "a freed slot serves the next request"
        );
    }
}
