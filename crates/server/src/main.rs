//! `rounds-server`: the district server, and its administration command line.

#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a command-line edge program"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use rounds_domain::entropy::OsEntropy;
use rounds_domain::model::{Checkpoint, Post, Role, Schedule, School};
use rounds_server::admin::{self, PersonInput};
use rounds_server::console::{Locale, pdf};
use rounds_server::console_key;
use rounds_server::signin::SignInPolicy;
use rounds_server::storage::{self as storage, DatabaseUrl, SqliteStorage, Storage};
use rounds_server::{AppState, compaction, seed};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "rounds-server", about = "Rounds district server")]
struct Cli {
    /// Folder holding the server's database.
    #[arg(
        long,
        env = "ROUNDS_DATA",
        default_value = "rounds-data",
        global = true
    )]
    data: PathBuf,
    /// Where the server keeps its state: `sqlite:<folder>` (the embedded store; the default is
    /// `sqlite:` and the `--data` folder) or `postgres://user@host:port/database`, which several
    /// server processes may share (see docs/deploy.md).
    #[arg(long, env = "ROUNDS_DATABASE", global = true)]
    database: Option<DatabaseUrl>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROUNDS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Load the demo district first.
        #[arg(long)]
        seed_demo: bool,
        /// The district's time zone (an IANA name such as `America/Chicago`): the console's
        /// days run from local midnight to midnight and it shows local clock times.
        #[arg(long, env = "ROUNDS_TIME_ZONE", default_value = "UTC", value_parser = time_zone)]
        time_zone: Tz,
        /// Seconds to wait for a request's head (and for the next request on an idle
        /// connection) before closing the connection.
        #[arg(long, env = "ROUNDS_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout_secs: u64,
        /// Seconds to wait for the next bytes of a request body before refusing the request.
        #[arg(long, env = "ROUNDS_BODY_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        body_timeout_secs: u64,
        /// Most connections open at once from one client address.
        #[arg(long, env = "ROUNDS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_connections_per_address: u64,
        /// How long a failed sign-in or enrollment counts against its name and network (the
        /// throttle's window; 5 failures per name, 50 per network, 10 enrollments per network).
        #[arg(long, env = "ROUNDS_SIGN_IN_WINDOW_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u32).range(1..))]
        sign_in_window_seconds: u32,
        /// Password hashes run at once (19 MiB each); 0: one per core.
        #[arg(long, env = "ROUNDS_HASH_SLOTS", default_value_t = 0)]
        hash_slots: usize,
        /// How the console writes dates and times: en-US (12/01/2026, 2:05 PM), en-GB
        /// (01/12/2026, 14:05) or de-DE (01.12.2026, 14:05).
        #[arg(long, env = "ROUNDS_LOCALE", default_value = "en-US")]
        locale: Locale,
        /// Folder holding the report PDF's fonts (Noto Sans, Noto Sans Arabic, Noto Sans CJK;
        /// found anywhere below it). Debian's fonts-noto-core and fonts-noto-cjk put them under
        /// the default.
        #[arg(long, env = "ROUNDS_FONTS", default_value = pdf::DEFAULT_FONT_DIR)]
        fonts: PathBuf,
        /// A reverse proxy's address whose `X-Forwarded-For` names the client (repeat, or
        /// comma-separate in the variable, for several); from anyone else it is ignored.
        #[arg(
            long = "trusted-proxy",
            env = "ROUNDS_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// The console is reached over HTTPS (TLS at the proxy): its cookie is marked
        /// `Secure`.
        #[arg(long, env = "ROUNDS_HTTPS")]
        https: bool,
        /// Seconds between background compaction passes (docs/storage.md); 0: none.
        #[arg(long, env = "ROUNDS_COMPACT_EVERY_SECONDS", default_value_t = 600)]
        compact_every_seconds: u64,
        /// Ended shifts and approved incidents unchanged this long are compacted.
        #[arg(
            long,
            env = "ROUNDS_COMPACT_CLOSED_AFTER_SECONDS",
            default_value_t = 3600
        )]
        compact_closed_after_seconds: u64,
        /// Any document unchanged this long is compacted.
        #[arg(long, env = "ROUNDS_COMPACT_IDLE_AFTER_SECONDS", default_value_t = 7 * 24 * 3600)]
        compact_idle_after_seconds: u64,
        /// The console's signing key, a file apart from the database that only the server's
        /// user may read (`rounds-server console-key new FILE`); every process of a district
        /// uses the same. Without it each process makes a key of its own at start.
        #[arg(long, env = "ROUNDS_CONSOLE_KEY_FILE")]
        console_key_file: Option<PathBuf>,
    },
    /// Write a verifiable export bundle of a record (docs/evidence.md); the export is
    /// recorded in the audit trail.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Check an export bundle with no network and no database, and say what it proves.
    /// Exits non-zero, naming the first broken part, if it does not verify.
    Verify {
        /// The bundle.
        file: PathBuf,
    },
    /// The console's signing key file (docs/signing.md).
    ConsoleKey {
        #[command(subcommand)]
        what: ConsoleKeyCommand,
    },
    /// Compact documents now, a few per short transaction, while the server may keep serving
    /// (docs/storage.md): settled ones, or with --all every document with change rows. It
    /// pauses after each batch as long as the batch took, as the server's own pass does.
    Compact {
        /// Every document, settled or not.
        #[arg(long)]
        all: bool,
        /// No pause between batches: for a store no server is serving (twice as fast).
        #[arg(long)]
        no_pause: bool,
        /// Ended shifts and approved incidents unchanged this long count as settled.
        #[arg(long, default_value_t = 3600)]
        closed_after_seconds: u64,
        /// Any document unchanged this long counts as settled.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        idle_after_seconds: u64,
    },
    /// Write a consistent backup of the data folder's store and photos to one file, while the
    /// server may keep serving (see docs/deploy.md).
    Backup {
        /// The backup file to write (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the data folder, which must hold no store yet.
    Restore {
        /// The backup file to read.
        #[arg(long)]
        from: PathBuf,
    },
    /// Copy a district from the embedded store to PostgreSQL: everything, verified at the
    /// end; safe to run again after an interruption (with --resume). Stop the server on the
    /// source first (see docs/deploy.md).
    Migrate {
        /// The embedded store to copy, as sqlite:<folder>.
        #[arg(long)]
        from: DatabaseUrl,
        /// The PostgreSQL database to copy into, as postgres://user@host:port/database.
        #[arg(long)]
        to: DatabaseUrl,
        /// The target holds an interrupted migration's rows: copy what is missing.
        #[arg(long)]
        resume: bool,
    },
    /// Administer the district directly on the data folder.
    Admin {
        #[command(subcommand)]
        what: AdminCommand,
    },
    /// The audit trail (docs/audit.md).
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
}

/// Where an export goes and what it is made with.
#[derive(clap::Args)]
struct BundleArgs {
    /// Where to write the bundle (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// The district's console key, which signs the bundle.
    #[arg(long, env = "ROUNDS_CONSOLE_KEY_FILE")]
    console_key_file: PathBuf,
    /// Folder holding the report fonts.
    #[arg(long, env = "ROUNDS_FONTS", default_value = pdf::DEFAULT_FONT_DIR)]
    fonts: PathBuf,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// An incident: its report (JSON and PDF), every change with its signature, its photos
    /// and the audit entries about it, signed with the district's console key.
    Incident {
        /// The incident's id.
        id: Uuid,
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// A day's activity report: its CSV and PDF and every shift and incident it counts, each
    /// with every change and its signature, signed with the district's console key.
    Day {
        /// The day, YYYY-MM-DD, in the district's time zone.
        date: chrono::NaiveDate,
        /// Only this school (default: the whole district).
        #[arg(long)]
        school: Option<Uuid>,
        #[command(flatten)]
        bundle: BundleArgs,
        /// The district's time zone (where the day runs midnight to midnight).
        #[arg(long, env = "ROUNDS_TIME_ZONE", default_value = "UTC", value_parser = time_zone)]
        time_zone: Tz,
        /// How the report writes dates and times.
        #[arg(long, env = "ROUNDS_LOCALE", default_value = "en-US")]
        locale: Locale,
    },
}

#[derive(Subcommand)]
enum ConsoleKeyCommand {
    /// Write a new key to FILE (mode 600; an existing file is never replaced) and print its
    /// public half.
    New { file: PathBuf },
    /// Print the public half of the key in FILE, to publish beside exported reports.
    Public { file: PathBuf },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole chain: every entry's hash, its link to the one before it and its
    /// columns against its body. Names the first broken entry and exits non-zero if any is.
    Verify,
    /// Print entries as JSON lines, oldest first.
    List {
        /// Only entries after this position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Load the demo district (schools, posts, checkpoints, a person of every role).
    SeedDemo,
    /// Add or rename a school.
    School {
        #[arg(long)]
        name: String,
        #[arg(long)]
        id: Option<Uuid>,
    },
    /// Add or change a post.
    Post {
        #[arg(long)]
        school: Uuid,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        orders: String,
        #[arg(long)]
        id: Option<Uuid>,
    },
    /// Add or change a checkpoint.
    Checkpoint {
        #[arg(long)]
        post: Uuid,
        #[arg(long)]
        name: String,
        #[arg(long)]
        tag: String,
        #[arg(long)]
        position: u32,
        #[arg(long, default_value_t = 60)]
        interval_minutes: u32,
        #[arg(long, default_value_t = 10)]
        grace_minutes: u32,
        #[arg(long, default_value_t = 0)]
        first_due_minutes: u32,
        #[arg(long)]
        id: Option<Uuid>,
    },
    /// Add or change a person.
    Person {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        /// guard, sro, supervisor or admin.
        #[arg(long)]
        role: String,
        /// A school id (repeat for several).
        #[arg(long = "school")]
        schools: Vec<Uuid>,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        id: Option<Uuid>,
    },
    /// Issue a one-time device enrollment code.
    EnrollCode {
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// List enrolled devices.
    Devices,
    /// Revoke a device.
    Revoke {
        device: Uuid,
        /// Also ask it to erase itself: `after-push` (once what waits on it has arrived) or
        /// `now` (what it has not synced is lost: for a lost or stolen phone).
        #[arg(long, value_parser = ["after-push", "now"])]
        wipe: Option<String>,
    },
    /// Show the reference data.
    Reference,
}

/// Parses `--time-zone`: an IANA time zone name.
fn time_zone(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>().map_err(|_| {
        format!(
            "{s:?} is not an IANA time zone name (such as UTC, America/Chicago or Europe/Berlin)"
        )
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let database = cli
        .database
        .clone()
        .unwrap_or_else(|| DatabaseUrl::Sqlite(cli.data.clone()));
    let embedded = match &database {
        DatabaseUrl::Sqlite(dir) => Some(dir.clone()),
        DatabaseUrl::Postgres(_) => None,
    };
    if matches!(
        cli.command,
        Some(Command::Backup { .. } | Command::Restore { .. })
    ) && embedded.is_none()
    {
        eprintln!(
            "rounds-server: backup and restore are for the embedded store; back up PostgreSQL with pg_dump (docs/deploy.md)"
        );
        std::process::exit(2);
    }
    if let Some(Command::Migrate { from, to, resume }) = &cli.command {
        let (DatabaseUrl::Sqlite(dir), DatabaseUrl::Postgres(url)) = (from, to) else {
            eprintln!(
                "rounds-server: migrate copies from sqlite:<folder> to postgres://…, not {from} to {to}"
            );
            std::process::exit(2);
        };
        let r = storage::migrate::sqlite_to_postgres(dir, url, *resume, &mut |line| {
            eprintln!("{line}")
        })?;
        let rows: u64 = r.tables.iter().map(|t| t.1).sum();
        let new: u64 = r.tables.iter().map(|t| t.2).sum();
        println!(
            "migrated {rows} rows ({new} new this run) and {} photos ({} without a file) to {to}; verified; the feed continues at {}",
            r.photos_copied, r.photos_missing, r.next_feed_position
        );
        return Ok(());
    }
    if let Some(Command::Verify { file }) = &cli.command {
        // Needs no store, and no network.
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("rounds-server: {}: {e}", file.display());
                std::process::exit(2);
            }
        };
        match rounds_server::evidence::verify(&bytes) {
            Ok(proof) => print!("{}", proof.summary()),
            Err(e) => {
                eprintln!("bundle NOT verified: {e}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    if let Some(Command::ConsoleKey { what }) = &cli.command {
        // Needs no store.
        let made = match what {
            ConsoleKeyCommand::New { file } => console_key::create(file, &mut OsEntropy),
            ConsoleKeyCommand::Public { file } => console_key::load(file),
        };
        match made {
            Ok(key) => println!("{}", hex::encode(key.public())),
            Err(e) => {
                eprintln!("rounds-server: {e}");
                std::process::exit(2);
            }
        }
        return Ok(());
    }
    if let (Some(Command::Restore { from }), Some(dir)) = (&cli.command, &embedded) {
        // Before the store is opened: opening would create an empty one.
        let s = SqliteStorage::restore_from(from, dir)?;
        println!(
            "restored {} documents and {} photos into {}",
            s.documents,
            s.photos,
            dir.display()
        );
        return Ok(());
    }
    if let (Some(Command::Backup { to }), Some(dir)) = (&cli.command, &embedded) {
        let s = SqliteStorage::open(dir)?.backup_to(to)?;
        println!(
            "backed up {} documents and {} photos to {}{}",
            s.documents,
            s.photos,
            to.display(),
            if s.photos_missing > 0 {
                format!(
                    " ({} photos the sweep removed meanwhile left out)",
                    s.photos_missing
                )
            } else {
                String::new()
            }
        );
        return Ok(());
    }
    let storage = storage::open(&database)?;
    let defaults = rounds_server::ConnectionLimits::default();
    match cli.command.unwrap_or(Command::Serve {
        listen: "127.0.0.1:8080".parse()?,
        seed_demo: false,
        time_zone: Tz::UTC,
        header_timeout_secs: defaults.header_timeout.as_secs(),
        body_timeout_secs: defaults.body_timeout.as_secs(),
        max_connections_per_address: defaults.per_address as u64,
        sign_in_window_seconds: 900,
        hash_slots: 0,
        locale: Locale::default(),
        fonts: PathBuf::from(pdf::DEFAULT_FONT_DIR),
        trusted_proxies: Vec::new(),
        https: false,
        compact_every_seconds: 600,
        compact_closed_after_seconds: 3600,
        compact_idle_after_seconds: 7 * 24 * 3600,
        console_key_file: None,
    }) {
        Command::Serve {
            listen,
            seed_demo,
            time_zone,
            header_timeout_secs,
            body_timeout_secs,
            max_connections_per_address,
            sign_in_window_seconds,
            hash_slots,
            locale,
            fonts,
            trusted_proxies,
            https,
            compact_every_seconds,
            compact_closed_after_seconds,
            compact_idle_after_seconds,
            console_key_file,
        } => {
            // Read now, so a missing or open key file stops the server here with the reason.
            let console_key = match console_key_file.as_deref().map(console_key::load) {
                Some(Ok(k)) => Some(k),
                Some(Err(e)) => {
                    eprintln!("rounds-server: {e}");
                    std::process::exit(2);
                }
                None => None,
            };
            let compaction = (compact_every_seconds > 0).then(|| rounds_server::Compaction {
                every: std::time::Duration::from_secs(compact_every_seconds),
                policy: compaction::Policy {
                    closed_quiet: std::time::Duration::from_secs(compact_closed_after_seconds),
                    idle_quiet: std::time::Duration::from_secs(compact_idle_after_seconds),
                },
            });
            let limits = rounds_server::ConnectionLimits {
                header_timeout: std::time::Duration::from_secs(header_timeout_secs),
                body_timeout: std::time::Duration::from_secs(body_timeout_secs),
                per_address: usize::try_from(max_connections_per_address)?,
            };
            let mut policy = SignInPolicy {
                window: chrono::Duration::seconds(i64::from(sign_in_window_seconds)),
                ..SignInPolicy::default()
            };
            if hash_slots > 0 {
                policy.hash_slots = hash_slots;
            }
            // The report fonts are read now, so a missing one stops the server here with the
            // file and its package rather than failing the first PDF download.
            let fonts = match pdf::ReportFonts::load(&fonts) {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    eprintln!("rounds-server: {e}");
                    std::process::exit(2);
                }
            };
            if seed_demo {
                seed::demo_district(storage.as_ref(), &mut OsEntropy, Utc::now())?;
            }
            let docs = storage.document_count()?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                let addr = listener.local_addr()?;
                tracing::info!(%addr, database = %database, documents = docs, time_zone = %time_zone, locale = locale.tag(), "rounds-server listening");
                // Scripts read this line to find the port when listening on port 0.
                println!("listening on http://{addr}");
                tracing::info!(window_s = sign_in_window_seconds, hash_slots = policy.hash_slots, "sign-in throttle");
                let mut state = AppState::new(storage);
                if let Some(c) = compaction {
                    state = state.with_compaction(c);
                }
                match console_key {
                    Some(k) => state = state.with_console_key(k),
                    None => tracing::warn!("no --console-key-file: this process signs console reviews with a key of its own, made now"),
                }
                tracing::info!(public_key = %hex::encode(state.console_key().public()), "console key");
                let state = state
                    .with_time_zone(time_zone)
                    .with_sign_in_policy(policy)
                    .with_locale(locale)
                    .with_fonts(fonts)
                    .with_proxy(rounds_server::ProxyPolicy {
                        trusted: trusted_proxies,
                        https,
                    });
                rounds_server::serve_with(listener, state, limits, shutdown()).await?;
                tracing::info!("stopped");
                Ok::<_, Box<dyn std::error::Error>>(())
            })?;
        }
        Command::Export {
            what: ExportCommand::Incident { id, bundle },
        } => {
            let (key, fonts) = export_inputs(&bundle);
            let out = bundle.out;
            let now = Utc::now();
            let export = rounds_server::evidence::export_incident(
                storage.as_ref(),
                id,
                &key,
                &fonts,
                None,
                now,
            )
            .unwrap_or_else(|e| fail(&e));
            // Recorded before the file exists (an export that then fails to be written is
            // still in the trail, never the reverse); written beside its place and renamed
            // when whole.
            storage.append_audit(&[rounds_server::audit::NewEntry::exported(
                now,
                None,
                id,
                &export.manifest_sha256,
                "cli",
            )])?;
            write_bundle(&out, &export.bytes)?;
            println!(
                "exported incident {id} to {} ({} bytes, manifest {})",
                out.display(),
                export.bytes.len(),
                hex::encode(export.manifest_sha256)
            );
        }
        Command::Export {
            what:
                ExportCommand::Day {
                    date,
                    school,
                    bundle,
                    time_zone,
                    locale,
                },
        } => {
            let (key, fonts) = export_inputs(&bundle);
            let out = bundle.out;
            let now = Utc::now();
            let district = rounds_server::access::Viewer {
                person: Uuid::nil(),
                role: Role::Admin,
                schools: vec![],
            };
            let reference = storage.reference_for(&district)?;
            let when = rounds_server::console::When {
                tz: time_zone,
                locale,
            };
            let report = rounds_server::console::reports::build(
                storage.as_ref(),
                &district,
                &reference,
                school,
                date,
                when,
                now,
            )
            .unwrap_or_else(|e| fail(&e));
            let export = rounds_server::evidence::day::export_day(
                storage.as_ref(),
                &report,
                school,
                &key,
                &fonts,
                None,
                now,
            )
            .unwrap_or_else(|e| fail(&e));
            let docs = rounds_server::evidence::day::record_ids(&report);
            // Recorded before the file exists, as for an incident.
            storage.append_audit(&[rounds_server::audit::NewEntry::exported_day(
                now,
                None,
                date,
                &docs,
                &export.manifest_sha256,
                "cli",
            )])?;
            write_bundle(&out, &export.bytes)?;
            println!(
                "exported the daily activity report of {date} ({} records) to {} ({} bytes, manifest {})",
                docs.len(),
                out.display(),
                export.bytes.len(),
                hex::encode(export.manifest_sha256)
            );
        }
        Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Migrate { .. }
        | Command::Verify { .. }
        | Command::ConsoleKey { .. } => {
            unreachable!("handled before the store is opened")
        }
        Command::Compact {
            all,
            no_pause,
            closed_after_seconds,
            idle_after_seconds,
        } => {
            let policy = compaction::Policy {
                closed_quiet: std::time::Duration::from_secs(closed_after_seconds),
                idle_quiet: std::time::Duration::from_secs(idle_after_seconds),
            };
            let rule = policy.at(Utc::now());
            let before = storage.storage_size()?;
            let mut pause = compaction::paced();
            let p = compaction::run_pass(
                storage.as_ref(),
                (!all).then_some(&rule),
                usize::MAX,
                || {
                    if !no_pause {
                        pause();
                    }
                },
            )?;
            let after = storage.storage_size()?;
            println!(
                "compacted {} documents ({} change rows folded{}); change rows {} -> {}, saved parts {} bytes",
                p.documents,
                p.folded,
                if p.damaged > 0 {
                    format!(", {} left as rows: see the log", p.damaged)
                } else {
                    String::new()
                },
                before.change_rows,
                after.change_rows,
                after.saved_bytes
            );
        }
        Command::Admin { what } => admin_command(storage.as_ref(), what)?,
        Command::Audit {
            what: AuditCommand::Verify,
        } => match rounds_server::audit::verify_stored(storage.as_ref()) {
            Ok((n, head)) => println!(
                "audit trail verified: {n} entries, head {}",
                head.map_or_else(|| "(empty)".into(), hex::encode)
            ),
            Err(e) => {
                eprintln!("audit trail NOT verified: {e}");
                std::process::exit(1);
            }
        },
        Command::Audit {
            what: AuditCommand::List { after, limit },
        } => {
            for e in storage.audit_entries(after, limit)? {
                println!("{}", e.body);
            }
        }
    }
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Stops the program with `e` (exit status 2): a command's input is wrong.
fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("rounds-server: {e}");
    std::process::exit(2);
}

/// An export's console key and fonts, and a check that its file does not exist yet.
fn export_inputs(b: &BundleArgs) -> (rounds_domain::signing::SigningSecret, pdf::ReportFonts) {
    let key = console_key::load(&b.console_key_file).unwrap_or_else(|e| fail(&e));
    let fonts = pdf::ReportFonts::load(&b.fonts).unwrap_or_else(|e| fail(&e));
    if b.out.exists() {
        fail(&format!("{} exists; choose a new file", b.out.display()));
    }
    (key, fonts)
}

/// Writes a bundle beside `out` and renames it there once whole (after its audit entry is
/// stored: an export that then fails to be written is still in the trail, never the reverse).
fn write_bundle(out: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = out.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, out)
}

fn admin_command(st: &dyn Storage, what: AdminCommand) -> Result<(), Box<dyn std::error::Error>> {
    let id = |i: Option<Uuid>| i.unwrap_or_else(Uuid::now_v7);
    let actor = admin::Actor {
        by: None,
        at: Utc::now(),
    };
    match what {
        AdminCommand::SeedDemo => {
            seed::demo_district(st, &mut OsEntropy, actor.at)?;
            println!("demo district loaded (see the README for its people and passwords)");
        }
        AdminCommand::School { name, id: i } => {
            let s = School { id: id(i), name };
            admin::put_school(st, actor, &s)?;
            println!("school {}", s.id);
        }
        AdminCommand::Post {
            school,
            name,
            orders,
            id: i,
        } => {
            let p = Post {
                id: id(i),
                school_id: school,
                name,
                orders,
            };
            admin::put_post(st, actor, &p)?;
            println!("post {}", p.id);
        }
        AdminCommand::Checkpoint {
            post,
            name,
            tag,
            position,
            interval_minutes,
            grace_minutes,
            first_due_minutes,
            id: i,
        } => {
            let c = Checkpoint {
                id: id(i),
                post_id: post,
                name,
                tag_code: tag,
                position,
                schedule: Schedule {
                    first_due_minutes,
                    interval_minutes,
                    grace_minutes,
                },
            };
            admin::put_checkpoint(st, actor, &c)?;
            println!("checkpoint {}", c.id);
        }
        AdminCommand::Person {
            username,
            name,
            role,
            schools,
            password,
            id: i,
        } => {
            let p = PersonInput {
                id: id(i),
                username,
                name,
                role: Role::parse(&role, "role")?,
                schools,
                password,
                active: true,
            };
            admin::put_person(st, actor, &p, &mut OsEntropy)?;
            println!("person {}", p.id);
        }
        AdminCommand::EnrollCode { hours } => {
            let admin_id = st
                .people()?
                .into_iter()
                .find(|p| p.role == Role::Admin)
                .map(|p| p.id)
                .unwrap_or_default();
            let c = admin::issue_code(st, admin_id, actor.at, hours, &mut OsEntropy)?;
            println!(
                "{}  (valid until {})",
                c.code,
                c.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        AdminCommand::Devices => {
            for d in st.devices()? {
                let state = d.revoked_at.map_or("active".to_string(), |t| {
                    format!("revoked {}", t.format("%Y-%m-%d %H:%M"))
                });
                println!(
                    "{}  {:<30} enrolled {}  {state}",
                    d.id,
                    d.name,
                    d.enrolled_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        AdminCommand::Revoke { device, wipe } => {
            let wipe = match wipe.as_deref() {
                Some("after-push") => admin::Wipe::AfterPush,
                Some(_) => admin::Wipe::Now,
                None => admin::Wipe::No,
            };
            admin::revoke_with(st, device, None, actor.at, wipe)?;
            println!("device {device} revoked");
        }
        AdminCommand::Reference => {
            let all = rounds_server::access::Viewer {
                person: Uuid::nil(),
                role: Role::Admin,
                schools: vec![],
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&st.reference_for(&all)?)?
            );
        }
    }
    Ok(())
}
