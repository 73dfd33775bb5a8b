//! Time, ids and randomness for the app, passed in so tests can fix them.
//!
//! [`RealEnv`] is the one place the app reads the wall clock, makes UUIDv7s and draws OS
//! randomness; everything below it takes these as arguments. Unlock waits are measured on
//! [`Env::monotonic`], which the person cannot move by setting the device's clock.

use std::time::Instant;

use chrono::{DateTime, Utc};
use rounds_core::entropy::{Entropy, OsEntropy};
use uuid::Uuid;

/// Where the app gets the time, new ids and randomness.
pub trait Env: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// A new record id (UUIDv7: sortable by creation time).
    fn new_id(&self) -> Uuid;
    /// A source of randomness for keys.
    fn entropy(&self) -> Box<dyn Entropy>;
    /// The monotonic clock (never moved by changing the device's time): unlock waits.
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// The real clock, ids and randomness.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealEnv;

#[allow(
    clippy::disallowed_methods,
    reason = "the app's edge: the one place that reads the real clock and makes ids"
)]
impl Env for RealEnv {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }

    fn entropy(&self) -> Box<dyn Entropy> {
        Box::new(OsEntropy)
    }
}
