//! Background sync: one thread per unlocked device, with its own connection to the store.
//!
//! The worker syncs when it is kicked (after the person saves something, or when they tap
//! "Sync now"), and otherwise every [`PERIOD`] to bring down what others recorded. When the
//! server cannot be reached it backs off: 5 s, 10 s, 20 s... up to [`MAX_BACKOFF`]. Automatic
//! kicks wait for the backoff; a tap on "Sync now" does not. When the server says the
//! session expired or the device was revoked, it stops trying until it is kicked again (after
//! signing in), since retrying cannot help. When the district asks the device to erase itself,
//! it reports the wipe (a device event) and stops; the app then erases the device
//! ([`crate::app::App`]).
//!
//! It has its own [`Store`] connection (see [`Store::open_pair`]), so a slow network never
//! holds up the screens.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rounds_core::client::{self, HttpTransport, SyncProblem, SyncReport};
use rounds_core::store::Store;
use uuid::Uuid;

use crate::env::Env;

/// Time between syncs when all is well.
pub const PERIOD: Duration = Duration::seconds(60);
/// Longest wait between attempts while the server is unreachable.
pub const MAX_BACKOFF: Duration = Duration::seconds(300);
const FIRST_BACKOFF_SECONDS: i64 = 5;
/// Most waiting events looked through for the wipe's own after sending.
const WAITING_LOOKED_AT: usize = 10_000;

/// The store key under which a person's session is kept.
pub fn session_key(person: Uuid) -> String {
    format!("session:{person}")
}

/// Why the worker is to sync now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Something was saved: sync soon, but respect the backoff.
    Auto,
    /// The person asked: sync now.
    Manual,
}

/// What the worker is doing, for the status line.
#[derive(Debug, Clone, Default)]
pub struct WorkerState {
    /// A sync is running.
    pub running: bool,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the next automatic attempt is due; `None` when waiting to be kicked.
    pub next_at: Option<DateTime<Utc>>,
    /// The outcome of the last attempt.
    pub last: Option<Result<SyncReport, SyncProblem>>,
    /// Attempts finished so far.
    pub rounds: u64,
    /// Changes received from the server so far (pulled or fetched whole): when it grows,
    /// other phones' records came in and the screen on show is re-read.
    pub received: u64,
    kick: Option<Kick>,
    stop: bool,
    /// The thread has finished (and closed its store connection).
    exited: bool,
}

struct Shared {
    state: Mutex<WorkerState>,
    wake: Condvar,
}

/// How long dropping a worker waits for its thread to finish its current attempt.
const STOP_WAIT: StdDuration = StdDuration::from_secs(5);

/// The background sync thread. Dropping it stops the thread after its current attempt and
/// waits (at most [`STOP_WAIT`]) for it to close its store connection: a thread still using
/// SQLCipher (OpenSSL) while the process exits can crash in OpenSSL's exit-time clean-up.
pub struct SyncWorker {
    handle: SyncHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A way to talk to the sync thread that does not keep it alive.
#[derive(Clone)]
pub struct SyncHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SyncWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncWorker").finish_non_exhaustive()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, WorkerState> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The wait after `failures` failed attempts in a row.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let secs = FIRST_BACKOFF_SECONDS.saturating_mul(1_i64 << exp);
    Duration::seconds(secs).min(MAX_BACKOFF)
}

impl SyncWorker {
    /// Starts the thread; it syncs once straight away.
    pub fn start(store: Store, server: String, env: Arc<dyn Env>) -> SyncWorker {
        let shared = Arc::new(Shared {
            state: Mutex::new(WorkerState {
                kick: Some(Kick::Manual),
                ..WorkerState::default()
            }),
            wake: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("rounds-sync".into())
            .spawn(move || {
                run(store, &server, env.as_ref(), &thread_shared);
                lock(&thread_shared).exited = true;
                thread_shared.wake.notify_all();
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(%e, "could not start background sync");
                None
            }
        };
        SyncWorker {
            handle: SyncHandle { shared },
            thread,
        }
    }

    /// A handle for talking to the thread.
    pub fn handle(&self) -> SyncHandle {
        self.handle.clone()
    }

    /// Asks for a sync.
    pub fn kick(&self, why: Kick) {
        self.handle.kick(why);
    }

    /// What the worker is doing.
    pub fn state(&self) -> WorkerState {
        self.handle.state()
    }
}

impl SyncHandle {
    /// Asks for a sync.
    pub fn kick(&self, why: Kick) {
        let mut s = lock(&self.shared);
        if why == Kick::Manual || s.failures == 0 {
            s.kick = Some(why);
            self.shared.wake.notify_all();
        }
    }

    /// Asks for a sync and waits (at most `timeout`) for it to finish.
    pub fn sync_and_wait(&self, timeout: StdDuration) -> Option<Result<SyncReport, SyncProblem>> {
        let mut s = lock(&self.shared);
        // A sync already running may have read the queue before the latest change: wait for
        // the next one to start and finish.
        let target = s.rounds + if s.running { 2 } else { 1 };
        s.kick = Some(Kick::Manual);
        self.shared.wake.notify_all();
        let (s, _) = self
            .shared
            .wake
            .wait_timeout_while(s, timeout, |s| s.rounds < target && !s.stop)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.rounds >= target {
            s.last.clone()
        } else {
            None
        }
    }

    /// What the worker is doing.
    pub fn state(&self) -> WorkerState {
        lock(&self.shared).clone()
    }
}

impl Drop for SyncWorker {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        let mut s = lock(shared);
        s.stop = true;
        shared.wake.notify_all();
        let (s, _) = shared
            .wake
            .wait_timeout_while(s, STOP_WAIT, |s| !s.exited)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let exited = s.exited;
        drop(s);
        match self.thread.take() {
            // Finished: joining is immediate.
            Some(t) if exited => drop(t.join()),
            // Still in a slow request: let it finish on its own rather than hold up the UI.
            _ => tracing::warn!("background sync is still finishing a request"),
        }
    }
}

fn run(mut store: Store, server: &str, env: &dyn Env, shared: &Shared) {
    loop {
        {
            let mut s = lock(shared);
            loop {
                if s.stop {
                    return;
                }
                if s.kick.take().is_some() {
                    break;
                }
                let wait = match s.next_at {
                    Some(at) if at <= env.now() => break,
                    Some(at) => (at - env.now())
                        .to_std()
                        .unwrap_or_default()
                        .min(StdDuration::from_secs(1)),
                    None => StdDuration::from_secs(1),
                };
                s = shared
                    .wake
                    .wait_timeout(s, wait)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
            }
            s.running = true;
        }
        let result = sync_once(&mut store, server, env);
        let now = env.now();
        let mut s = lock(shared);
        s.running = false;
        s.rounds += 1;
        match &result {
            Ok(r) => {
                s.received += (r.pulled + r.fetched) as u64;
                s.failures = 0;
                s.next_at = Some(now + PERIOD);
            }
            Err(SyncProblem::NoConnection(_) | SyncProblem::Server(_) | SyncProblem::Store(_)) => {
                s.failures += 1;
                s.next_at = Some(now + backoff(s.failures));
            }
            Err(
                SyncProblem::SignInAgain(_)
                | SyncProblem::Revoked
                | SyncProblem::Wipe { .. }
                | SyncProblem::Refused(_),
            ) => {
                s.failures += 1;
                s.next_at = None;
            }
        }
        if let Err(p) = &result {
            tracing::info!(%p, "sync did not finish");
        }
        s.last = Some(result);
        shared.wake.notify_all();
    }
}

fn sync_once(store: &mut Store, server: &str, env: &dyn Env) -> Result<SyncReport, SyncProblem> {
    let session = store
        .sync_value(&session_key(store.person_id()))?
        .and_then(|s| serde_json::from_str::<client::Session>(&s).ok())
        .ok_or_else(|| SyncProblem::SignInAgain("no session on this device".into()))?;
    let mut t = HttpTransport::new(server, &session.token)?;
    match client::sync_now(store, &mut t, env.now()) {
        Err(SyncProblem::Wipe { after_push }) => {
            report_wipe(store, &mut t, env)?;
            Err(SyncProblem::Wipe { after_push })
        }
        other => other,
    }
}

/// Records that this device is about to erase itself, as the district asked, and sends it;
/// `Ok` once the server has stored it (the app then erases, see `App`), else the problem (the
/// next attempt tries again).
fn report_wipe(store: &mut Store, t: &mut HttpTransport, env: &dyn Env) -> Result<(), SyncProblem> {
    let id = env.new_id();
    let person = store.person_id();
    store.record_events(&[rounds_core::events::event(
        id,
        rounds_core::events::DeviceEventKind::Wiped,
        Some(person),
        env.now(),
        0,
    )])?;
    client::send_events(store, t, &mut SyncReport::default())?;
    if store
        .waiting_events(WAITING_LOOKED_AT)?
        .iter()
        .any(|e| e.id == id)
    {
        return Err(SyncProblem::NoConnection(
            "the wipe could not be reported to the district yet".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_five_minutes() {
        let waits: Vec<i64> = (1..=8).map(|f| backoff(f).num_seconds()).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF, "never overflows");
    }
}
