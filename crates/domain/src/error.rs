//! The core's one error type.
//!
//! Every fallible call in `rounds-domain` and `rounds-core` returns [`Error`]. Its variants are the closed set of
//! situations a caller (the Tauri shell, the sync client) can branch on; [`Error::kind`] maps
//! each to a stable [`ErrorKind`] string that crosses IPC unchanged. Causes from SQLite,
//! automerge or the file system are kept as sources so logs show the whole chain.

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value the caller supplied is not acceptable; nothing was changed.
    #[error("{field}: {reason}")]
    Invalid {
        /// Dotted path of the offending field, e.g. `check.note` or `people[1].name`.
        field: String,
        /// Why it was refused, in plain words.
        reason: String,
    },
    /// A referenced record does not exist on this device.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing was looked up (`shift`, `checkpoint`, ...).
        what: &'static str,
        /// The id or key that was looked up.
        id: String,
    },
    /// The action does not fit the record's current state (a second open shift, editing a
    /// submitted incident, ...).
    #[error("{0}")]
    Conflict(String),
    /// The unlocked person may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A change received from elsewhere tried to alter a document's immutable header.
    #[error("document {doc}: header field {field} may not change")]
    HeaderChanged {
        /// The document the change was meant for.
        doc: uuid::Uuid,
        /// The header field that would have changed.
        field: String,
    },
    /// Wrong passphrase or PIN, or the person has no key slot on this device.
    #[error("wrong passphrase or PIN ({failures} failed attempts)")]
    Locked {
        /// Consecutive failed attempts so far, this one included.
        failures: u32,
        /// How long until the next attempt is checked, if attempts are now being delayed
        /// (measured on the monotonic clock, so changing the device's clock does not move it).
        retry_in: Option<std::time::Duration>,
    },
    /// Too many failed attempts: no attempt is checked for `retry_in`.
    #[error("too many failed attempts; try again in {} s", .retry_in.as_secs())]
    LockedOut {
        /// Consecutive failed attempts so far.
        failures: u32,
        /// How long until the next attempt is checked.
        retry_in: std::time::Duration,
    },
    /// The database file is damaged or is not a Rounds database; it was left untouched.
    #[error("the store at {path} is damaged or is not a Rounds database: {detail}")]
    Corrupt {
        /// The file that was refused.
        path: String,
        /// What was found wrong.
        detail: String,
    },
    /// The database was written by a newer version of Rounds; it was left untouched.
    #[error(
        "the store was written by a newer version of Rounds (schema {found}, this build knows up to {supported}); update the app"
    )]
    NewerVersion {
        /// Schema version found in the file.
        found: i64,
        /// Highest schema version this build understands.
        supported: i64,
    },
    /// A lower layer failed (disk full, I/O error, a bug). Not the caller's fault.
    #[error("internal error: {context}")]
    Internal {
        /// What the core was doing.
        context: String,
        /// The underlying cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The stable, documented set of error kinds the UI and the sync client branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad input: show the message next to `field`.
    Invalid,
    /// Something referenced is missing.
    NotFound,
    /// The action does not fit the current state.
    Conflict,
    /// Not allowed for this person.
    Forbidden,
    /// Wrong passphrase/PIN.
    Locked,
    /// Too many wrong attempts; wait.
    LockedOut,
    /// The store file is damaged (or a change tried to alter a header).
    Corrupt,
    /// The store is from a newer app version.
    NewerVersion,
    /// Anything else; not the user's fault.
    Internal,
}

impl Error {
    /// The kind a caller branches on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::HeaderChanged { .. } => ErrorKind::Forbidden,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::LockedOut { .. } => ErrorKind::LockedOut,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::NewerVersion { .. } => ErrorKind::NewerVersion,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// Wraps a lower-layer failure with what the core was doing.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: source.into(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal("database", e)
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::internal("document", e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::internal("file", e)
    }
}
