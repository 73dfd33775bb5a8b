//! The app's state machine: not set up → locked ⇄ unlocked, and who is unlocked.
//!
//! - **Setup** (first run): the district server's address, a one-time enrollment code from
//!   an administrator, the person's username and password (checked by the server once), and
//!   the PIN or passphrase they will unlock with from then on, offline.
//! - **Locked**: the unlock screen lists the people who have a key slot on this device (a
//!   shared post phone has several). A wrong PIN and a lockout are distinct errors. Failed
//!   attempts are counted per person by one [`Lockout`] kept for the life of the app, so
//!   editing the key slots file while the app runs changes nothing, and waits run on the
//!   monotonic clock ([`Env::monotonic`]); see `docs/app.md`, "Unlocking".
//! - **Unlocked**: one person's store is open. After [`App::idle_limit`] without a command the
//!   screens lock themselves; background sync keeps going so that a phone left in a pocket
//!   still delivers what was saved. Locking on purpose (or switching person) stops sync too.
//!
//! Every field command lives in [`crate::records`]; this module owns the lifecycle.
//!
//! **Why this file is long:** the whole lifecycle as one state machine (setup, unlock with its
//! lockout, lock, people, PINs, sign-in again, background sync), so that every transition and
//! the lock it takes is read in one place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rounds_core::client::{self, Enrollment, Session};
use rounds_core::error::Error as CoreError;
use rounds_core::events::{self, DeviceEventKind, LockScreenLog};
use rounds_core::keyslots::{self, KdfParams, KeySlots, Lockout, Secret, SecretPolicy};
use rounds_core::model::{Role, School};
use rounds_core::signing::SigningSecret;
use rounds_core::store::{Setup, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{self, DeviceConfig, Member};
use crate::env::Env;
use crate::error::{AppError, Kind, Result};
use crate::status::{Problem, Saved, SyncInfo};
use crate::worker::{Kick, SyncWorker, session_key};

/// Screens lock after this long without use, unless configured otherwise.
pub const DEFAULT_IDLE_LIMIT: Duration = Duration::minutes(5);

/// How long "Sync now" waits for the sync to finish before answering.
const SYNC_WAIT: StdDuration = StdDuration::from_secs(60);

/// Which screen the app is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Not enrolled: the first-run screen.
    Setup,
    /// Enrolled, nobody unlocked.
    Locked,
    /// Someone is unlocked.
    Unlocked,
}

/// The unlocked person, as the screens show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Me {
    /// Their id.
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The schools they work at, their first school first (empty until the first sync).
    pub schools: Vec<School>,
}

/// What every screen needs to know about the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppState {
    /// Which screen.
    pub stage: Stage,
    /// The district server, once enrolled.
    pub server: Option<String>,
    /// This device's name.
    pub device_name: Option<String>,
    /// Who can unlock this device.
    pub people: Vec<Member>,
    /// Who is unlocked.
    pub me: Option<Me>,
    /// Seconds of inactivity before the screens lock.
    pub idle_lock_seconds: i64,
    /// What a new PIN or passphrase must be, for the screens' hints.
    pub pin_rule: PinRule,
    /// The unlocked person's secret was chosen under an older, weaker rule: the screens ask
    /// them to choose a new one ([`App::change_pin`]). It still unlocks meanwhile.
    pub pin_change_needed: bool,
    /// The district wiped this device (the first-run screen says so until it is set up again).
    pub wiped: Option<Wiped>,
}

/// That the district had this device erase itself, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wiped {
    /// When the device erased itself (its clock).
    pub at: DateTime<Utc>,
    /// Whether what waited on it reached the server first.
    pub after_push: bool,
}

/// The file that keeps [`Wiped`] after the store is gone.
fn wiped_path(dir: &Path) -> PathBuf {
    dir.join("wiped.json")
}

/// The secret policy in the terms the screens show: a PIN of at least `min_digits` digits,
/// or a passphrase of at least `min_with_letters` characters with letters in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PinRule {
    /// Shortest PIN (digits only).
    pub min_digits: usize,
    /// Shortest passphrase with at least one letter.
    pub min_with_letters: usize,
}

impl PinRule {
    fn current() -> PinRule {
        let p = SecretPolicy::current();
        PinRule {
            min_digits: p.min_digits,
            min_with_letters: p.min_with_letters,
        }
    }
}

/// First-run input.
#[derive(Debug, Clone, Deserialize)]
pub struct EnrollArgs {
    /// The district server's address.
    pub server: String,
    /// The one-time code from an administrator.
    pub code: String,
    /// A name for this device ("Lincoln post phone 2").
    pub device_name: String,
    /// The first person's username.
    pub username: String,
    /// Their password (sent to the server once, never stored).
    pub password: String,
    /// The PIN or passphrase they will unlock with.
    pub pin: String,
}

/// Unlock input.
#[derive(Debug, Clone, Deserialize)]
pub struct UnlockArgs {
    /// Who is unlocking.
    pub person_id: Uuid,
    /// Their PIN or passphrase.
    pub pin: String,
}

/// Adding another person to a shared device.
#[derive(Debug, Clone, Deserialize)]
pub struct AddPersonArgs {
    /// The unlocked person's own PIN, to authorise it.
    pub current_pin: String,
    /// The new person's username.
    pub username: String,
    /// Their password (checked by the server).
    pub password: String,
    /// Their own PIN for this device.
    pub pin: String,
}

/// Choosing a new PIN or passphrase for the unlocked person.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangePinArgs {
    /// Their current PIN, to authorise it.
    pub current_pin: String,
    /// The new one.
    pub new_pin: String,
}

/// Signing in again when the session expired.
#[derive(Debug, Clone, Deserialize)]
pub struct SignInArgs {
    /// The unlocked person's password.
    pub password: String,
}

pub(crate) struct Unlocked {
    pub(crate) store: Store,
    pub(crate) me: Me,
    /// Their secret does not meet today's policy.
    weak_pin: bool,
}

#[derive(Default)]
pub(crate) struct Inner {
    config: Option<DeviceConfig>,
    pub(crate) unlocked: Option<Unlocked>,
    pub(crate) worker: Option<SyncWorker>,
    /// An enrollment whose sign-in failed: kept so that a mistyped password does not burn
    /// the one-time code.
    pending_enrollment: Option<(String, Enrollment)>,
    last_used: Option<DateTime<Utc>>,
    /// Saves made since the app started: every status line carries it, so the screens can
    /// tell an answer read before a save from one read after it.
    pub(crate) saves: u64,
    /// Failed unlock attempts as this process has seen them (made on first use).
    lockout: Option<Lockout>,
    /// The district wiped this device.
    wiped: Option<Wiped>,
}

/// The field app: one per process, shared by every command.
pub struct App {
    dir: PathBuf,
    pub(crate) env: Arc<dyn Env>,
    idle_limit: Duration,
    kdf: KdfParams,
    background_sync: bool,
    pub(crate) inner: Mutex<Inner>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Refuses a new PIN or passphrase that the core's [`SecretPolicy`] would refuse, in the
/// screens' words.
fn check_pin(field: &str, pin: &str) -> Result<()> {
    if !Secret::new(pin).meets_policy() {
        let rule = PinRule::current();
        return Err(AppError::invalid(
            field,
            format!(
                "Too easy to guess. Use a PIN of at least {} digits, or a passphrase of at least {} characters with letters in it.",
                rule.min_digits, rule.min_with_letters
            ),
        ));
    }
    Ok(())
}

impl App {
    /// The app over the data folder `dir` (created if missing).
    pub fn new(dir: &Path, env: Arc<dyn Env>) -> Result<App> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::internal("creating the data folder", e))?;
        let config = config::load(dir)?;
        let wiped = std::fs::read(wiped_path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let mut inner = Inner {
            config,
            wiped,
            ..Inner::default()
        };
        // Start every pending wait now rather than at the first attempt: a restart makes the
        // whole wait again, but from when the app started.
        if inner.config.is_some() {
            let db = config::db_path(dir);
            if let Ok(slots) = KeySlots::load(&keyslots::path_for(&db)) {
                let mut lockout = Lockout::for_store(&db, env.entropy().as_mut())?;
                for person in slots.people() {
                    lockout.wait_left(&slots, person, env.monotonic());
                }
                inner.lockout = Some(lockout);
            }
        }
        Ok(App {
            dir: dir.to_path_buf(),
            env,
            idle_limit: DEFAULT_IDLE_LIMIT,
            kdf: KdfParams::DEFAULT,
            background_sync: true,
            inner: Mutex::new(inner),
        })
    }

    /// Sets how long the screens stay unlocked without use.
    pub fn with_idle_limit(mut self, limit: Duration) -> App {
        self.idle_limit = limit;
        self
    }

    /// Sets the key-derivation cost for new PINs (tests use a cheap one).
    pub fn with_kdf(mut self, kdf: KdfParams) -> App {
        self.kdf = kdf;
        self
    }

    /// Turns background sync off (for tools that fill a store offline; the app always syncs).
    pub fn without_background_sync(mut self) -> App {
        self.background_sync = false;
        self
    }

    /// How long the screens stay unlocked without use.
    pub fn idle_limit(&self) -> Duration {
        self.idle_limit
    }

    pub(crate) fn lock_inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks the screens if they have been idle too long. Does not count as use.
    fn expire(&self, inner: &mut Inner) {
        let now = self.env.now();
        if inner.unlocked.is_some() && inner.last_used.is_some_and(|t| now - t >= self.idle_limit) {
            tracing::info!("locking after inactivity");
            self.note_lock(inner, DeviceEventKind::IdleLocked);
            inner.unlocked = None;
        }
    }

    /// Runs `f` on the unlocked store, counting as use; [`Kind::Locked`] when nobody is
    /// unlocked (or the screens just locked themselves).
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Unlocked, DateTime<Utc>) -> Result<T>,
    ) -> Result<T> {
        let mut inner = self.lock_inner();
        self.erase_if_asked(&mut inner);
        self.expire(&mut inner);
        let now = self.env.now();
        if inner.config.is_none() {
            return Err(AppError::not_set_up());
        }
        inner.last_used = Some(now);
        let unlocked = inner.unlocked.as_mut().ok_or_else(AppError::locked)?;
        f(unlocked, now)
    }

    /// Like [`App::with_store`] for a command that saved something: sync is kicked.
    pub(crate) fn saving<T>(
        &self,
        f: impl FnOnce(&mut Unlocked, DateTime<Utc>) -> Result<T>,
    ) -> Result<T> {
        let out = self.with_store(f)?;
        let mut inner = self.lock_inner();
        inner.saves += 1;
        if let Some(w) = &inner.worker {
            w.kick(Kick::Auto);
        }
        Ok(out)
    }

    /// The sync status line.
    pub fn sync_info(&self) -> Result<SyncInfo> {
        let inner = self.lock_inner();
        let u = inner.unlocked.as_ref().ok_or_else(AppError::locked)?;
        let status = client::status(&u.store)?;
        let worker = inner.worker.as_ref().map(|w| w.state()).unwrap_or_default();
        let problem = match &worker.last {
            Some(Err(p)) => Some(p.clone()),
            Some(Ok(_)) => None,
            None => status.last_error.clone(),
        }
        .map(|p| {
            let e = AppError::from(p);
            Problem {
                kind: e.kind,
                message: e.message,
            }
        });
        Ok(SyncInfo {
            saved_on_device: true,
            waiting_changes: status.waiting_changes,
            waiting_records: status.waiting_records,
            last_success: status.last_success,
            waiting_photos: status.waiting_photos,
            waiting_for_others: status.waiting_for_others,
            syncing: worker.running,
            next_attempt_at: worker.next_at,
            received: worker.received,
            saves: inner.saves,
            problem,
        })
    }

    /// Like [`App::saving`], returning the status line as of the save beside the view.
    pub(crate) fn saved<T>(
        &self,
        f: impl FnOnce(&mut Unlocked, DateTime<Utc>) -> Result<T>,
    ) -> Result<Saved<T>> {
        let view = self.saving(f)?;
        Ok(Saved {
            view,
            sync: self.sync_info()?,
        })
    }

    /// The person is still at the screen (typing a long narrative, say): counts as use, so
    /// the screens do not lock under them. [`Kind::Locked`] if they already have.
    pub fn still_here(&self) -> Result<AppState> {
        self.with_store(|_, _| Ok(()))?;
        self.state()
    }

    /// Where the app stands. Polled by the screens; does not count as use.
    pub fn state(&self) -> Result<AppState> {
        let mut inner = self.lock_inner();
        self.erase_if_asked(&mut inner);
        self.expire(&mut inner);
        Ok(self.state_of(&inner))
    }

    /// Erases the device when its sync was told the district wants it erased and has recorded
    /// that it will be (see [`crate::worker`]): the store (with its photos), its key slots,
    /// the lock screen's events and the settings go; a note of the wipe stays for the
    /// first-run screen.
    fn erase_if_asked(&self, inner: &mut Inner) {
        let asked = inner.worker.as_ref().and_then(|w| match w.state().last {
            Some(Err(client::SyncProblem::Wipe { after_push })) => Some(after_push),
            _ => None,
        });
        let Some(after_push) = asked else {
            return;
        };
        tracing::warn!(after_push, "erasing this device, as the district asked");
        inner.worker = None;
        inner.unlocked = None;
        inner.lockout = None;
        inner.config = None;
        inner.pending_enrollment = None;
        let wiped = Wiped {
            at: self.env.now(),
            after_push,
        };
        if let Err(e) = erase(&self.dir) {
            tracing::error!(error = %e, "erasing the device failed");
        }
        if let Ok(b) = serde_json::to_vec(&wiped)
            && let Err(e) = std::fs::write(wiped_path(&self.dir), b)
        {
            tracing::warn!(error = %e, "could not note the wipe");
        }
        inner.wiped = Some(wiped);
    }

    fn state_of(&self, inner: &Inner) -> AppState {
        let stage = match (&inner.config, &inner.unlocked) {
            (None, _) => Stage::Setup,
            (Some(_), None) => Stage::Locked,
            (Some(_), Some(_)) => Stage::Unlocked,
        };
        AppState {
            stage,
            server: inner.config.as_ref().map(|c| c.server.clone()),
            device_name: inner.config.as_ref().map(|c| c.device_name.clone()),
            people: inner
                .config
                .as_ref()
                .map(|c| c.people.clone())
                .unwrap_or_default(),
            me: inner.unlocked.as_ref().map(|u| u.me.clone()),
            idle_lock_seconds: self.idle_limit.num_seconds(),
            pin_rule: PinRule::current(),
            pin_change_needed: inner.unlocked.as_ref().is_some_and(|u| u.weak_pin),
            wiped: inner.wiped.filter(|_| inner.config.is_none()),
        }
    }

    /// First run: enroll the device, sign the first person in, create the encrypted store,
    /// and sync once so posts and checkpoints are on the device.
    pub fn enroll(&self, a: EnrollArgs) -> Result<AppState> {
        let server = a.server.trim().trim_end_matches('/').to_string();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(AppError::invalid(
                "server",
                "Enter the server's address, starting with https://",
            ));
        }
        for (field, v) in [
            ("code", &a.code),
            ("device_name", &a.device_name),
            ("username", &a.username),
            ("password", &a.password),
        ] {
            if v.trim().is_empty() {
                return Err(AppError::invalid(field, "This is required."));
            }
        }
        check_pin("pin", &a.pin)?;
        let mut inner = self.lock_inner();
        if inner.config.is_some() {
            return Err(AppError::new(
                Kind::Conflict,
                "This device is already set up.",
            ));
        }
        let enrollment = match inner.pending_enrollment.take() {
            Some((s, e)) if s == server => e,
            _ => client::enroll(&server, a.code.trim(), a.device_name.trim())?,
        };
        // The person's signing key on this device: recorded by the server at this sign-in,
        // then kept sealed under their PIN in the new store.
        let signing = SigningSecret::generate(self.env.entropy().as_mut());
        let session = match client::sign_in(
            &server,
            a.username.trim(),
            &a.password,
            &enrollment,
            &signing.public(),
        ) {
            Ok(s) => s,
            Err(e) => {
                inner.pending_enrollment = Some((server, enrollment));
                return Err(e.into());
            }
        };
        let path = config::db_path(&self.dir);
        // A store without `app.json`: an enrollment that crashed before writing it, or a
        // settings file that went missing. It may hold records, so it is never deleted: it
        // is moved aside (with its key slots, WAL and photos) and a new store is made.
        if path.exists() {
            set_aside(&path, self.env.now())?;
            // Its seal key went with it.
            inner.lockout = None;
        }
        let secret = Secret::new(a.pin.as_str());
        let lockout = self.lockout(&mut inner)?;
        let mut store = Store::create_with(
            &path,
            Setup {
                device_id: enrollment.device_id,
                person_id: session.person_id,
                secret: &secret,
                kdf: self.kdf,
                signing: &signing,
            },
            lockout,
            self.env.entropy().as_mut(),
        )?;
        store.set_sync_value("device", &json(&enrollment)?)?;
        store.set_sync_value(&session_key(session.person_id), &json(&session)?)?;
        store.close()?;
        let config = DeviceConfig {
            server,
            device_name: a.device_name.trim().to_string(),
            device_id: enrollment.device_id,
            people: vec![Member {
                id: session.person_id,
                username: a.username.trim().to_string(),
                name: a.username.trim().to_string(),
                role: session.role,
            }],
        };
        config::save(&self.dir, &config)?;
        inner.config = Some(config);
        if inner.wiped.take().is_some() {
            let _ = std::fs::remove_file(wiped_path(&self.dir));
        }
        self.open(&mut inner, session.person_id, &secret)?;
        // The first sync brings the posts, checkpoints and names; wait for it so the home
        // screen is complete. Offline, the person is told and can still go on.
        if let Some(w) = &inner.worker {
            drop(w.handle().sync_and_wait(SYNC_WAIT));
        }
        self.refresh_me(&mut inner)?;
        Ok(self.state_of(&inner))
    }

    /// Unlocks the device for one of its people, offline.
    pub fn unlock(&self, a: UnlockArgs) -> Result<AppState> {
        let mut inner = self.lock_inner();
        let Some(config) = &inner.config else {
            return Err(AppError::not_set_up());
        };
        if !config.people.iter().any(|p| p.id == a.person_id) {
            return Err(AppError::new(
                Kind::NotFound,
                "That person cannot unlock this device.",
            ));
        }
        inner.unlocked = None;
        inner.worker = None;
        let secret = Secret::new(a.pin.as_str());
        self.open(&mut inner, a.person_id, &secret)?;
        self.upgrade_kdf(&mut inner, &secret);
        self.refresh_me(&mut inner)?;
        Ok(self.state_of(&inner))
    }

    /// The app's [`Lockout`], made on first use with the store's seal key.
    fn lockout<'a>(&self, inner: &'a mut Inner) -> Result<&'a mut Lockout> {
        let lockout = self.take_lockout(inner)?;
        Ok(inner.lockout.insert(lockout))
    }

    /// Takes the app's [`Lockout`] out of `inner` while the store is used beside it; the
    /// caller puts it back (`inner.lockout = Some(..)`) whatever the outcome.
    fn take_lockout(&self, inner: &mut Inner) -> Result<Lockout> {
        match inner.lockout.take() {
            Some(l) => Ok(l),
            None => Ok(Lockout::for_store(
                &config::db_path(&self.dir),
                self.env.entropy().as_mut(),
            )?),
        }
    }

    /// A slot made with other Argon2id parameters than the app's (an older, cheaper default)
    /// is made again with the app's, from the secret just proven right; a secret too weak
    /// for today's policy is left for its owner to replace ([`App::change_pin`]). Costs one
    /// extra unlock, once. A failure is logged and changes nothing.
    fn upgrade_kdf(&self, inner: &mut Inner, secret: &Secret) {
        let Some(u) = inner.unlocked.as_ref() else {
            return;
        };
        if u.weak_pin || u.store.slot_kdf().ok().flatten() == Some(self.kdf) {
            return;
        }
        let Ok(mut lockout) = self.take_lockout(inner) else {
            return;
        };
        if let Some(u) = inner.unlocked.as_mut()
            && let Err(e) = u.store.change_secret(
                secret,
                secret,
                self.kdf,
                &mut lockout,
                self.env.monotonic(),
                self.env.entropy().as_mut(),
            )
        {
            tracing::warn!(error = %e, "could not raise the key slot's Argon2id cost");
        }
        inner.lockout = Some(lockout);
    }

    fn open(&self, inner: &mut Inner, person: Uuid, secret: &Secret) -> Result<()> {
        let now = self.env.now();
        let monotonic = self.env.monotonic();
        let lockout = self.lockout(inner)?;
        let db = config::db_path(&self.dir);
        let (mut store, sync_store) =
            match Store::open_pair(&db, person, secret, lockout, monotonic) {
                Ok(pair) => pair,
                Err(e) => {
                    self.note_failed_unlock(person, &e, now);
                    return Err(AppError::from_core_at(e, now));
                }
            };
        // What happened while the device was locked moves into the store, with this unlock.
        let log = LockScreenLog::for_store(&db);
        let mut events = log.read().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the lock screen's events");
            Vec::new()
        });
        events.push(events::event(
            self.env.new_id(),
            DeviceEventKind::Unlocked,
            Some(person),
            now,
            0,
        ));
        match store.record_events(&events) {
            Ok(()) => {
                if let Err(e) = log.clear() {
                    tracing::warn!(error = %e, "could not clear the lock screen's events");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not record the unlock's events"),
        }
        let config = inner.config.as_ref().ok_or_else(AppError::not_set_up)?;
        let member = config.people.iter().find(|p| p.id == person);
        let me = Me {
            id: person,
            name: member.map(|m| m.name.clone()).unwrap_or_default(),
            role: member.map(|m| m.role).unwrap_or(Role::Guard),
            schools: vec![],
        };
        inner.worker = self
            .background_sync
            .then(|| SyncWorker::start(sync_store, config.server.clone(), Arc::clone(&self.env)));
        inner.unlocked = Some(Unlocked {
            store,
            me,
            weak_pin: !secret.meets_policy(),
        });
        inner.last_used = Some(now);
        Ok(())
    }

    /// Records a wrong PIN for `person` (and, when further attempts must now wait, that a
    /// lockout began) in the lock screen's event file: the store is closed. A failure to
    /// write is logged; the unlock's answer is the same.
    fn note_failed_unlock(&self, person: Uuid, e: &CoreError, now: DateTime<Utc>) {
        let CoreError::Locked { failures, retry_in } = e else {
            return;
        };
        let log = LockScreenLog::for_store(&config::db_path(&self.dir));
        let mut kinds = vec![DeviceEventKind::UnlockFailed];
        if retry_in.is_some() {
            kinds.push(DeviceEventKind::LockedOut);
        }
        for kind in kinds {
            let ev = events::event(self.env.new_id(), kind, Some(person), now, *failures);
            if let Err(err) = log.append(&ev) {
                tracing::warn!(error = %err, "could not record a failed unlock");
            }
        }
    }

    /// Records `kind` (a lock) for the unlocked person in the store, before it closes.
    fn note_lock(&self, inner: &mut Inner, kind: DeviceEventKind) {
        let now = self.env.now();
        let id = self.env.new_id();
        if let Some(u) = inner.unlocked.as_mut() {
            let ev = events::event(id, kind, Some(u.me.id), now, 0);
            if let Err(e) = u.store.record_events(&[ev]) {
                tracing::warn!(error = %e, "could not record a lock");
            }
        }
    }

    /// Reads the unlocked person's name, role and schools from the reference data, and
    /// keeps the names on the unlock screen current.
    fn refresh_me(&self, inner: &mut Inner) -> Result<()> {
        let Some(u) = inner.unlocked.as_mut() else {
            return Ok(());
        };
        let reference = u.store.reference_data()?;
        if let Some(p) = reference.people.iter().find(|p| p.id == u.me.id) {
            u.me.name = p.name.clone();
            u.me.role = p.role;
            // In the person's own order (as the district lists them), not by name: the first
            // is the school their forms start with.
            u.me.schools = p
                .schools
                .iter()
                .filter_map(|id| reference.schools.iter().find(|s| s.id == *id))
                .cloned()
                .collect();
        }
        let me = u.me.clone();
        if let Some(config) = inner.config.as_mut()
            && let Some(m) = config.people.iter_mut().find(|m| m.id == me.id)
            && !me.name.is_empty()
            && (m.name != me.name || m.role != me.role)
        {
            m.name = me.name.clone();
            m.role = me.role;
            config::save(&self.dir, config)?;
        }
        Ok(())
    }

    /// Who a contact note of the unlocked person reached, other than them (its disclosure
    /// log, kept by the server: this asks it, so it needs a connection).
    pub fn note_disclosures(
        &self,
        a: crate::record_types::IdArgs,
    ) -> Result<Vec<client::NoteDisclosure>> {
        let (server, token) = {
            let mut inner = self.lock_inner();
            self.expire(&mut inner);
            let server = inner
                .config
                .as_ref()
                .map(|c| c.server.clone())
                .ok_or_else(AppError::not_set_up)?;
            let u = inner.unlocked.as_ref().ok_or_else(AppError::locked)?;
            let session: Session = u
                .store
                .sync_value(&session_key(u.me.id))?
                .and_then(|v| serde_json::from_str(&v).ok())
                .ok_or_else(|| {
                    AppError::new(Kind::SignInAgain, "Sign in again to ask the server.")
                })?;
            (server, session.token)
        };
        // Asked without holding the app's lock: the screens stay usable meanwhile.
        Ok(client::note_disclosures(&server, &token, a.id)?)
    }

    /// Locks the screens and stops background sync.
    pub fn lock(&self) -> Result<AppState> {
        let mut inner = self.lock_inner();
        self.note_lock(&mut inner, DeviceEventKind::Locked);
        inner.unlocked = None;
        inner.worker = None;
        Ok(self.state_of(&inner))
    }

    /// Adds another person to a shared device: they sign in once (online) and choose their
    /// own PIN; the unlocked person authorises it with theirs.
    pub fn add_person(&self, a: AddPersonArgs) -> Result<AppState> {
        check_pin("pin", &a.pin)?;
        let mut inner = self.lock_inner();
        self.expire(&mut inner);
        let config = inner.config.clone().ok_or_else(AppError::not_set_up)?;
        let now = self.env.now();
        let monotonic = self.env.monotonic();
        if inner.unlocked.is_none() {
            return Err(AppError::locked());
        }
        let mut lockout = self.take_lockout(&mut inner)?;
        let out = self.add_person_with(&mut inner, &mut lockout, a, config, now, monotonic);
        inner.lockout = Some(lockout);
        out
    }

    fn add_person_with(
        &self,
        inner: &mut Inner,
        lockout: &mut Lockout,
        a: AddPersonArgs,
        config: DeviceConfig,
        now: DateTime<Utc>,
        monotonic: std::time::Instant,
    ) -> Result<AppState> {
        let u = inner.unlocked.as_mut().ok_or_else(AppError::locked)?;
        let enrollment: Enrollment = u
            .store
            .sync_value("device")?
            .and_then(|v| serde_json::from_str(&v).ok())
            .ok_or_else(|| AppError::internal("reading the device credential", "missing"))?;
        let signing = SigningSecret::generate(self.env.entropy().as_mut());
        let session = client::sign_in(
            &config.server,
            a.username.trim(),
            &a.password,
            &enrollment,
            &signing.public(),
        )?;
        u.store
            .add_person(
                &Secret::new(a.current_pin.as_str()),
                session.person_id,
                &Secret::new(a.pin.as_str()),
                self.kdf,
                lockout,
                monotonic,
                self.env.entropy().as_mut(),
                &signing,
            )
            .map_err(|e| AppError::from_core_at(e, now))?;
        u.store
            .set_sync_value(&session_key(session.person_id), &json(&session)?)?;
        let name = u
            .store
            .reference_data()?
            .people
            .into_iter()
            .find(|p| p.id == session.person_id)
            .map(|p| p.name)
            .unwrap_or_else(|| a.username.trim().to_string());
        let mut config = config;
        config.people.retain(|p| p.id != session.person_id);
        config.people.push(Member {
            id: session.person_id,
            username: a.username.trim().to_string(),
            name,
            role: session.role,
        });
        config::save(&self.dir, &config)?;
        inner.config = Some(config);
        inner.last_used = Some(now);
        Ok(self.state_of(inner))
    }

    /// The unlocked person chooses a new PIN or passphrase, authorised by their current one
    /// (a wrong one counts as a failed attempt, like at the unlock screen).
    pub fn change_pin(&self, a: ChangePinArgs) -> Result<AppState> {
        check_pin("new_pin", &a.new_pin)?;
        let mut inner = self.lock_inner();
        self.expire(&mut inner);
        let now = self.env.now();
        let monotonic = self.env.monotonic();
        if inner.unlocked.is_none() {
            return Err(AppError::locked());
        }
        let mut lockout = self.take_lockout(&mut inner)?;
        let changed = inner
            .unlocked
            .as_mut()
            .ok_or_else(AppError::locked)
            .and_then(|u| {
                u.store
                    .change_secret(
                        &Secret::new(a.current_pin.as_str()),
                        &Secret::new(a.new_pin.as_str()),
                        self.kdf,
                        &mut lockout,
                        monotonic,
                        self.env.entropy().as_mut(),
                    )
                    .map_err(|e: CoreError| AppError::from_core_at(e, now))
            });
        inner.lockout = Some(lockout);
        changed?;
        if let Some(u) = inner.unlocked.as_mut() {
            u.weak_pin = false;
        }
        inner.last_used = Some(now);
        Ok(self.state_of(&inner))
    }

    /// Signs the unlocked person in again after their session expired, then syncs.
    pub fn sign_in_again(&self, a: SignInArgs) -> Result<SyncInfo> {
        let server = self
            .lock_inner()
            .config
            .as_ref()
            .map(|c| c.server.clone())
            .ok_or_else(AppError::not_set_up)?;
        let (enrollment, username, signing_key) = self.with_store(|u, _| {
            let e: Enrollment = u
                .store
                .sync_value("device")?
                .and_then(|v| serde_json::from_str(&v).ok())
                .ok_or_else(|| AppError::internal("reading the device credential", "missing"))?;
            let key = u
                .store
                .signing_key()
                .ok_or_else(|| AppError::internal("reading your signing key", "missing"))?;
            Ok((e, u.me.id, key))
        })?;
        let username = self
            .lock_inner()
            .config
            .as_ref()
            .and_then(|c| c.people.iter().find(|p| p.id == username))
            .map(|m| m.username.clone())
            .ok_or_else(|| AppError::internal("finding your username", "missing"))?;
        let session: Session =
            client::sign_in(&server, &username, &a.password, &enrollment, &signing_key)?;
        self.with_store(|u, _| {
            u.store
                .set_sync_value(&session_key(session.person_id), &json(&session)?)
                .map_err(AppError::from)
        })?;
        self.sync_now()
    }

    /// Syncs now and waits for the outcome (at most a minute).
    pub fn sync_now(&self) -> Result<SyncInfo> {
        let handle = {
            let inner = self.lock_inner();
            if inner.unlocked.is_none() {
                return Err(AppError::locked());
            }
            inner.worker.as_ref().map(SyncWorker::handle)
        };
        // Wait without holding the app's lock, so the screens stay usable meanwhile.
        let outcome = handle.and_then(|h| h.sync_and_wait(SYNC_WAIT));
        if let Some(Err(p @ client::SyncProblem::Wipe { .. })) = outcome {
            let mut inner = self.lock_inner();
            self.erase_if_asked(&mut inner);
            return Err(AppError::from(p));
        }
        if matches!(outcome, Some(Ok(ref r)) if r.reference_updated) {
            let mut inner = self.lock_inner();
            self.refresh_me(&mut inner)?;
        }
        self.sync_info()
    }
}

/// Removes the settings and every file of the store in `dir` (`device.db` and everything
/// beside it named after it: the journal, the key slots, the lock screen's events, copies set
/// aside); nothing else in the folder is touched.
fn erase(dir: &Path) -> std::io::Result<()> {
    let store = config::db_path(dir);
    let name = store
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("device.db")
        .to_string();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if file == "app.json" || file.starts_with(&name) {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Renames the store at `path` and every file beside it that belongs to it to
/// `<name>.set-aside-<time>...`, keeping them for recovery.
fn set_aside(path: &Path, now: DateTime<Utc>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("device.db");
    let stamp = now.format("%Y%m%dT%H%M%S");
    let entries =
        std::fs::read_dir(dir).map_err(|e| AppError::internal("setting an old store aside", e))?;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        if let Some(rest) = file.strip_prefix(name)
            && !rest.contains(".set-aside-")
        {
            let to = dir.join(format!("{name}.set-aside-{stamp}{rest}"));
            std::fs::rename(entry.path(), &to)
                .map_err(|e| AppError::internal("setting an old store aside", e))?;
            tracing::warn!(from = %entry.path().display(), to = %to.display(), "a store without settings was set aside");
        }
    }
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| AppError::internal("saving a credential", e))
}
