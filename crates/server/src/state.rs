//! What every handler shares: the storage handle, the clock, the district's zone and locale,
//! the sign-in guard, the photo and fetch-page numbers, the report fonts ([`AppState`]); and the
//! id maker for what the server itself creates.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::console;
use crate::photos;
use crate::signin::{SignInGuard, SignInPolicy};
use crate::storage::Storage;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    time_zone: Tz,
    /// The sign-in throttle and hash slots.
    pub sign_in: Arc<SignInGuard>,
    locale: console::Locale,
    fonts: Option<Arc<console::pdf::ReportFonts>>,
    photos: photos::PhotoPolicy,
    fetch_page_bytes: usize,
    proxy: ProxyPolicy,
    compaction: Option<Compaction>,
    /// The key console actions (a review) are signed with: kept by the process, never in the
    /// database (see [`AppState::with_console_key`]).
    console_key: Arc<rounds_domain::signing::SigningSecret>,
}

/// The background compaction's schedule (see [`crate::compaction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// What counts as settled.
    pub policy: crate::compaction::Policy,
    /// Time between passes.
    pub every: std::time::Duration,
}

/// What the server trusts of a reverse proxy in front of it (see `docs/deploy.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyPolicy {
    /// Peers whose `X-Forwarded-For` names the client: the sign-in throttle then counts the
    /// client's network, not the proxy's. From any other peer the header is ignored (anyone
    /// can write it).
    pub trusted: Vec<std::net::IpAddr>,
    /// Whether the console is reached over HTTPS (TLS at the proxy): its cookie is then
    /// `Secure`, never sent over plain HTTP.
    pub https: bool,
}

impl AppState {
    /// State over a storage, reading the system clock.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "the server's edge reads the real clock"
        )]
        let clock = Arc::new(Utc::now);
        Self::with_clock(storage, clock)
    }

    /// State with a clock of the caller's (tests of expiry).
    pub fn with_clock(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Self {
        AppState {
            storage,
            clock,
            time_zone: Tz::UTC,
            sign_in: Arc::new(SignInGuard::new(SignInPolicy::default())),
            locale: console::Locale::default(),
            fonts: None,
            photos: photos::PhotoPolicy::default(),
            fetch_page_bytes: rounds_protocol::PAGE_BYTES as usize,
            proxy: ProxyPolicy::default(),
            compaction: None,
            console_key: Arc::new(rounds_domain::signing::SigningSecret::generate(
                &mut rounds_domain::entropy::OsEntropy,
            )),
        }
    }

    /// The same state signing console actions with `key` (`rounds-server serve` loads it from
    /// `ROUNDS_CONSOLE_KEY_FILE`; without one, each process makes its own at start).
    pub fn with_console_key(mut self, key: rounds_domain::signing::SigningSecret) -> Self {
        self.console_key = Arc::new(key);
        self
    }

    /// The key console actions are signed with.
    pub fn console_key(&self) -> Arc<rounds_domain::signing::SigningSecret> {
        Arc::clone(&self.console_key)
    }

    /// The same state compacting settled documents in the background on `schedule` while it
    /// serves (`rounds-server serve` does by default; tests compact when they choose).
    pub fn with_compaction(mut self, schedule: Compaction) -> Self {
        self.compaction = Some(schedule);
        self
    }

    /// The background compaction's schedule, if it runs.
    pub fn compaction(&self) -> Option<Compaction> {
        self.compaction
    }

    /// The same state behind the reverse proxy `proxy` describes.
    pub fn with_proxy(mut self, proxy: ProxyPolicy) -> Self {
        self.proxy = proxy;
        self
    }

    /// What the server trusts of a proxy in front of it.
    pub fn proxy(&self) -> &ProxyPolicy {
        &self.proxy
    }

    /// The same state answering fetches in pages of at most `bytes` of changes (default and
    /// most: [`rounds_protocol::PAGE_BYTES`]). Tests of paging use small pages, so that a
    /// history larger than one answer need not be megabytes built edit by edit.
    pub fn with_fetch_page_bytes(mut self, bytes: usize) -> Self {
        self.fetch_page_bytes = bytes.clamp(1, rounds_protocol::PAGE_BYTES as usize);
        self
    }

    /// The most bytes of changes one fetch answer carries.
    pub fn fetch_page_bytes(&self) -> usize {
        self.fetch_page_bytes
    }

    /// The same state with other sign-in numbers (`rounds-server serve --sign-in-window-seconds`,
    /// `--hash-slots`; tests).
    pub fn with_sign_in_policy(mut self, policy: SignInPolicy) -> Self {
        self.sign_in = Arc::new(SignInGuard::new(policy));
        self
    }

    /// The same state with other photo numbers (tests of the quota and the sweep).
    pub fn with_photo_policy(mut self, policy: photos::PhotoPolicy) -> Self {
        self.photos = policy;
        self
    }

    /// The photo quota and grace period.
    pub fn photo_policy(&self) -> photos::PhotoPolicy {
        self.photos
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The same state in the district's time zone (the console's days and clock times; UTC
    /// unless set).
    pub fn with_time_zone(mut self, tz: Tz) -> Self {
        self.time_zone = tz;
        self
    }

    /// The district's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The same state writing the console's dates and times in `locale` (en-US unless set).
    pub fn with_locale(mut self, locale: console::Locale) -> Self {
        self.locale = locale;
        self
    }

    /// The district's zone and locale, as the console shows times.
    pub fn when(&self) -> console::When {
        console::When {
            tz: self.time_zone,
            locale: self.locale,
        }
    }

    /// The same state printing reports with `fonts` (loaded at start-up by `serve`).
    pub fn with_fonts(mut self, fonts: Arc<console::pdf::ReportFonts>) -> Self {
        self.fonts = Some(fonts);
        self
    }

    /// The report fonts: those given with [`AppState::with_fonts`], or else those of
    /// [`console::pdf::DEFAULT_FONT_DIR`], loaded once per process (tests).
    pub fn fonts(&self) -> Result<Arc<console::pdf::ReportFonts>, console::pdf::FontError> {
        match &self.fonts {
            Some(f) => Ok(f.clone()),
            None => console::pdf::ReportFonts::shared_default(),
        }
    }
}

/// A new id for something the server creates (devices).
#[allow(
    clippy::disallowed_methods,
    reason = "ids are made at the server's edge"
)]
pub(crate) fn new_id() -> Uuid {
    Uuid::now_v7()
}
