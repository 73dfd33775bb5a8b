//! Verifiable exports: one file that proves, with no network and no database, who wrote an
//! incident report, what they wrote and when, and who reviewed it
//! (`rounds-server export incident ID --out FILE`, the console's incident page; checked by
//! `rounds-server verify FILE`). See docs/evidence.md.
//!
//! A bundle is a tar archive (any archive tool opens it):
//!
//! - `manifest.json`: the format, when and by whom it was made, the record's header and heads,
//!   the names of the people in it, the district's console key, and every other file with its
//!   size and SHA-256;
//! - `manifest.sig`: the console key's signature over the manifest's SHA-256
//!   (`rounds_domain::signing::sign_bundle`), so no file can be added, dropped or changed,
//!   and no audit entry left out, without it failing;
//! - `changes/<hash>.amc`: every automerge change of the record, as pushed (its hash is over
//!   its bytes and its dependencies' hashes);
//! - `signatures.json`: every stored signature over them, each with the signer's public key;
//! - `report.json`: the report as the changes give it; `report.pdf`: the same, printable;
//! - `photos/<sha256>.jpg`: its photos;
//! - `audit.jsonl`: the audit entries that name the record, each with its hash and the hash
//!   of the entry before it.
//!
//! What the people's signatures prove is the changes (and so `report.json`, which verify
//! recomputes from them); the PDF, the audit entries and the names rest on the district's
//! signature over the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use automerge::{Automerge, Change, ReadDoc};
use chrono::{DateTime, Utc};
use rounds_domain::document::{self, Header, IncidentBody};
use rounds_domain::model::DocKind;
use rounds_domain::signing::{self, PublicKey, SigningSecret};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::console::incidents::{HistoryEntry, action_label, history};
use crate::console::pdf::{MARGIN, Pdf, ReportFonts, TEXT_WIDTH};
use crate::storage::{Storage, StorageError};

pub mod day;

/// The bundle format this code writes and reads.
pub const FORMAT: &str = "rounds-evidence-v1";

/// The most a bundle may hold, as `verify` reads it: files, and bytes in all.
pub const MAX_FILES: usize = 20_000;
/// See [`MAX_FILES`].
pub const MAX_BYTES: u64 = 1 << 30;

/// The manifest (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// When the bundle was made.
    pub made_at: DateTime<Utc>,
    /// Who made it (`None`: the server's command line).
    pub made_by: Option<Uuid>,
    /// The record's header.
    pub header: Header,
    /// Its heads when exported (hex).
    pub heads: Vec<String>,
    /// The names of the people the bundle names (authors, signers, reviewers).
    pub people: BTreeMap<Uuid, String>,
    /// The district's console key, which signs the manifest (hex).
    pub console_key: String,
    /// Photos the record names that the server did not hold when it was exported (still
    /// uploading, or never received).
    pub photos_missing: Vec<String>,
    /// Every file of the bundle but the manifest and its signature.
    pub files: Vec<ManifestFile>,
}

/// One file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Its path in the archive.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// One signature in `signatures.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    /// The signed change (hex).
    pub change: String,
    /// The signer.
    pub person: Uuid,
    /// The device the key is recorded on (the server's, for the console key).
    pub device: Uuid,
    /// The key (hex).
    pub public_key: String,
    /// The signature (hex).
    pub signature: String,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
}

/// One line of `audit.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleAuditEntry {
    /// Its position in the district's trail.
    pub seq: u64,
    /// The hash of the entry before it (hex).
    pub prev: String,
    /// Its hash (hex).
    pub hash: String,
    /// The JSON text hashed.
    pub body: String,
}

/// Why an export was not made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No such record.
    #[error("no incident {0}")]
    NotFound(Uuid),
    /// The record is not an incident.
    #[error("{0} is not an incident")]
    NotAnIncident(Uuid),
    /// The stored record does not read back.
    #[error("the stored record does not read back: {0}")]
    Damaged(String),
    /// Reading storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The PDF could not be made.
    #[error("the report PDF: {0}")]
    Pdf(String),
}

/// A bundle made: its bytes and its manifest's SHA-256 (which the export's audit entry names).
#[derive(Debug, Clone)]
pub struct Export {
    /// The tar archive.
    pub bytes: Vec<u8>,
    /// The manifest's SHA-256.
    pub manifest_sha256: [u8; 32],
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Every audit entry about `id`, oldest first (from the trail's index by document).
fn audit_about(storage: &dyn Storage, id: Uuid) -> Result<Vec<BundleAuditEntry>, StorageError> {
    Ok(storage
        .audit_about(id)?
        .into_iter()
        .map(|e| BundleAuditEntry {
            seq: e.seq,
            prev: hex::encode(e.prev),
            hash: hex::encode(e.hash),
            body: e.body,
        })
        .collect())
}

/// Makes the bundle of incident `id`, signed with the district's console `key`.
pub fn export_incident(
    storage: &dyn Storage,
    id: Uuid,
    key: &SigningSecret,
    fonts: &ReportFonts,
    made_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Export, ExportError> {
    let stored = storage.document(id)?.ok_or(ExportError::NotFound(id))?;
    if stored.header.kind != DocKind::Incident {
        return Err(ExportError::NotAnIncident(id));
    }
    let (am, changes) = stored
        .to_automerge_and_changes()
        .map_err(ExportError::Damaged)?;
    let body = document::read_incident(&am).map_err(|e| ExportError::Damaged(e.to_string()))?;
    let signatures = storage.change_signatures(id)?;
    let audit = audit_about(storage, id)?;

    let mut files = record_files("", &changes, &signatures);
    let json = |v: &dyn erased::Json| v.pretty();
    files.push(("report.json".into(), json(&body)));
    let mut photos_missing = Vec::new();
    for h in &body.photos {
        match storage.photo_bytes().read(h) {
            Ok(Some(b)) => files.push((format!("photos/{h}.jpg"), b)),
            Ok(None) => photos_missing.push(h.clone()),
            Err(e) => return Err(ExportError::Storage(StorageError::Backend(Box::new(e)))),
        }
    }
    let mut audit_text = String::new();
    for e in &audit {
        audit_text.push_str(&serde_json::to_string(e).expect("plain JSON"));
        audit_text.push('\n');
    }
    files.push(("audit.jsonl".into(), audit_text.into_bytes()));

    let steps = history(&changes);
    let mut people = BTreeMap::new();
    let mut ids: BTreeSet<Uuid> = steps.iter().filter_map(|s| s.by).collect();
    ids.insert(stored.header.author_id);
    ids.extend(signatures.iter().map(|s| s.person_id));
    ids.extend(body.supplements.iter().map(|s| s.author_id));
    ids.extend(made_by);
    for p in ids {
        if let Some(r) = storage.person(p)? {
            people.insert(p, r.name);
        }
    }
    let pdf = report_pdf(&stored.header, &body, &steps, &people, fonts, now)?;
    files.push(("report.pdf".into(), pdf));

    let manifest = Manifest {
        format: FORMAT.into(),
        made_at: now,
        made_by,
        header: stored.header.clone(),
        heads: am.get_heads().iter().map(|h| hex::encode(h.0)).collect(),
        people,
        console_key: hex::encode(key.public()),
        photos_missing,
        files: files
            .iter()
            .map(|(path, b)| ManifestFile {
                path: path.clone(),
                bytes: b.len() as u64,
                sha256: hex::encode(sha256(b)),
            })
            .collect(),
    };
    pack(&json(&manifest), &files, key, now)
}

/// A record's files under `prefix`: `changes/<hash>.amc` for each change, and
/// `signatures.json` with every stored signature over them and the signers' keys.
fn record_files(
    prefix: &str,
    changes: &[Change],
    signatures: &[crate::storage::StoredSignature],
) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = changes
        .iter()
        .map(|c| {
            (
                format!("{prefix}changes/{}.amc", hex::encode(c.hash().0)),
                c.raw_bytes().to_vec(),
            )
        })
        .collect();
    let sigs: Vec<BundleSignature> = signatures
        .iter()
        .map(|s| BundleSignature {
            change: hex::encode(s.change),
            person: s.person_id,
            device: s.device_id,
            public_key: hex::encode(s.public_key),
            signature: hex::encode(&s.signature),
            received_at: s.received_at,
        })
        .collect();
    files.push((
        format!("{prefix}signatures.json"),
        erased::Json::pretty(&sigs),
    ));
    files
}

/// The archive of a bundle: the manifest, its signature by the console `key`, and `files`.
fn pack(
    manifest_bytes: &[u8],
    files: &[(String, Vec<u8>)],
    key: &SigningSecret,
    now: DateTime<Utc>,
) -> Result<Export, ExportError> {
    let digest = sha256(manifest_bytes);
    let sig = format!("{}\n", hex::encode(key.sign_bundle(&digest)));
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(now.timestamp().max(0) as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append_data(&mut h, path, bytes)
    };
    let io = |e: std::io::Error| ExportError::Storage(StorageError::Backend(Box::new(e)));
    add("manifest.json", manifest_bytes).map_err(io)?;
    add("manifest.sig", sig.as_bytes()).map_err(io)?;
    for (path, b) in files {
        add(path, b).map_err(io)?;
    }
    let bytes = tar.into_inner().map_err(io)?;
    Ok(Export {
        bytes,
        manifest_sha256: digest,
    })
}

mod erased {
    //! Pretty JSON of any serializable value, behind one object-safe trait.
    pub trait Json {
        fn pretty(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> Vec<u8> {
            let mut v = serde_json::to_vec_pretty(self).expect("plain JSON");
            v.push(b'\n');
            v
        }
    }
}

fn name_of(people: &BTreeMap<Uuid, String>, id: Option<Uuid>) -> String {
    match id {
        Some(p) => people
            .get(&p)
            .cloned()
            .unwrap_or_else(|| format!("person {p}")),
        None => "(nobody named)".into(),
    }
}

/// The report as a printable PDF: the record, its history, and what signs it.
fn report_pdf(
    header: &Header,
    body: &IncidentBody,
    steps: &[HistoryEntry],
    people: &BTreeMap<Uuid, String>,
    fonts: &ReportFonts,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, ExportError> {
    let title = format!("Incident report {}", header.id);
    let mut p = Pdf::new(fonts, &title, now);
    let line = |p: &mut Pdf<'_>, text: &str, size: f32, bold: bool| {
        p.paragraph(MARGIN, TEXT_WIDTH, text, size, bold);
    };
    line(&mut p, "Incident report", 16.0, true);
    line(&mut p, &format!("Record {}", header.id), 9.0, false);
    p.gap(6.0);
    for (k, v) in [
        ("Type", body.incident_type.label().to_string()),
        ("Where", body.location.clone()),
        (
            "When",
            body.occurred_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        (
            "Reported",
            body.reported_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("Reported by", name_of(people, Some(header.author_id))),
        ("Status", body.status.label().to_string()),
    ] {
        line(&mut p, &format!("{k}: {v}"), 10.0, false);
    }
    if !body.people.is_empty() {
        p.gap(6.0);
        line(&mut p, "People involved", 12.0, true);
        for person in &body.people {
            line(
                &mut p,
                &format!(
                    "{} ({:?}, {:?}{})",
                    person.name,
                    person.category,
                    person.involvement,
                    if person.juvenile { ", juvenile" } else { "" }
                ),
                10.0,
                false,
            );
        }
    }
    p.gap(6.0);
    line(&mut p, "What happened", 12.0, true);
    line(&mut p, &body.narrative, 10.0, false);
    if !body.actions.is_empty() {
        p.gap(6.0);
        line(&mut p, "Actions taken", 12.0, true);
        line(&mut p, &body.actions, 10.0, false);
    }
    for s in &body.supplements {
        p.gap(6.0);
        line(
            &mut p,
            &format!(
                "Supplement by {}, {}",
                name_of(people, Some(s.author_id)),
                s.at.format("%Y-%m-%d %H:%M UTC")
            ),
            12.0,
            true,
        );
        line(&mut p, &s.text, 10.0, false);
    }
    if let Some(c) = body.review_comment.as_deref().filter(|c| !c.is_empty()) {
        p.gap(6.0);
        line(&mut p, &format!("Review comment: {c}"), 10.0, false);
    }
    if !body.photos.is_empty() {
        p.gap(6.0);
        line(&mut p, "Photos (SHA-256)", 12.0, true);
        for h in &body.photos {
            line(&mut p, h, 8.0, false);
        }
    }
    p.gap(8.0);
    line(&mut p, "History", 12.0, true);
    for s in steps {
        line(
            &mut p,
            &format!(
                "{} - {} by {} ({}){}",
                s.at.format("%Y-%m-%d %H:%M:%S UTC"),
                action_label(&s.action),
                name_of(people, s.by),
                s.hash,
                if s.effect.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.effect)
                }
            ),
            9.0,
            false,
        );
    }
    p.gap(8.0);
    line(
        &mut p,
        "Every change above is signed by the person who made it; `rounds-server verify` checks the signatures, the hashes and the audit entries in this bundle with no network.",
        8.0,
        false,
    );
    p.finish().map_err(|e| ExportError::Pdf(e.0))
}

/// Why a bundle does not verify: the part, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {why}")]
pub struct Broken {
    /// The file (or part of one) that fails.
    pub part: String,
    /// What is wrong.
    pub why: String,
}

fn broken(part: impl Into<String>, why: impl Into<String>) -> Broken {
    Broken {
        part: part.into(),
        why: why.into(),
    }
}

/// What a verified bundle proves.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The manifest.
    pub manifest: Manifest,
    /// The record's history, oldest first, each change with who signed it.
    pub history: Vec<(HistoryEntry, String)>,
    /// Signatures checked.
    pub signatures: usize,
    /// Photos checked against their hashes.
    pub photos: usize,
    /// Audit entries checked, and how many links between consecutive ones.
    pub audit: (usize, usize),
    /// The report as the changes give it.
    pub report: IncidentBody,
}

impl Proof {
    /// What the bundle proves, in words.
    pub fn summary(&self) -> String {
        let m = &self.manifest;
        let names = |id: Option<Uuid>| name_of(&m.people, id);
        let mut out = String::new();
        out.push_str(&format!(
            "Bundle verified: incident {} ({}, {}), exported {} by {}.\n",
            m.header.id,
            self.report.incident_type.label(),
            self.report.status.label(),
            m.made_at.format("%Y-%m-%d %H:%M:%S UTC"),
            m.made_by
                .map_or("the server's command line".into(), |p| names(Some(p)))
        ));
        out.push_str(&format!(
            "Its {} changes are complete (every dependency present, heads as exported) and each is signed by the person who made it ({} signatures checked):\n",
            self.history.len(),
            self.signatures
        ));
        for (s, key) in &self.history {
            out.push_str(&format!(
                "  {}  {} by {} (key {}){}\n",
                s.at.format("%Y-%m-%d %H:%M:%S UTC"),
                action_label(&s.action),
                names(s.by),
                key,
                if s.effect.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.effect)
                }
            ));
        }
        let reviewers: BTreeSet<String> = self
            .history
            .iter()
            .filter(|(s, _)| s.action == "review_incident")
            .map(|(s, _)| names(s.by))
            .collect();
        out.push_str(&format!(
            "Reviewed by: {}.\n",
            if reviewers.is_empty() {
                "nobody yet".to_string()
            } else {
                reviewers.into_iter().collect::<Vec<_>>().join(", ")
            }
        ));
        out.push_str(
            "report.json is what the signed changes say; report.pdf and the names rest on the district's signature.\n",
        );
        out.push_str(&format!(
            "Photos: {} checked against their SHA-256{}.\n",
            self.photos,
            if m.photos_missing.is_empty() {
                String::new()
            } else {
                format!(
                    "; not held by the server at export: {}",
                    m.photos_missing.join(", ")
                )
            }
        ));
        out.push_str(&format!(
            "Audit entries: {}, each hash checked, {} links between consecutive entries checked.\n",
            self.audit.0, self.audit.1
        ));
        out.push_str(&format!(
            "The manifest is signed by the district console key {} (compare it with the key the district publishes).\n",
            m.console_key
        ));
        out
    }
}

fn hex32(part: &str, s: &str) -> Result<[u8; 32], Broken> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(s, &mut b)
        .map_err(|_| broken(part, format!("{s:?} is not 32 bytes of hex")))?;
    Ok(b)
}

/// Reads the archive's files, refusing anything but plain files with plain paths, a path
/// twice, and more than [`MAX_FILES`] or [`MAX_BYTES`].
fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, Broken> {
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let mut archive = tar::Archive::new(bytes);
    let entries = archive
        .entries()
        .map_err(|e| broken("the archive", e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| broken("the archive", e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| broken("the archive", e.to_string()))?
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| broken("the archive", "a path that is not UTF-8"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(broken(path, "not a plain file"));
        }
        if path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(broken(path, "not a plain path"));
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if files.len() >= MAX_FILES || total > MAX_BYTES {
            return Err(broken("the archive", "more than a bundle may hold"));
        }
        let mut b = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut b)
            .map_err(|e| broken(path.clone(), e.to_string()))?;
        if files.insert(path.clone(), b).is_some() {
            return Err(broken(path, "in the archive twice"));
        }
    }
    Ok(files)
}

/// Checks a bundle: every file against the manifest, the manifest against the console key's
/// signature, every change's hash and dependency, every signature and that each change is
/// covered by one of its maker's, `report.json` against the changes, every photo against its
/// hash, and every audit entry's hash and its link to the one before it where both are
/// present. The first failure is named.
pub fn verify(bytes: &[u8]) -> Result<Verified, Broken> {
    let mut files = read_archive(bytes)?;
    let manifest_bytes = files
        .remove("manifest.json")
        .ok_or_else(|| broken("manifest.json", "missing"))?;
    let format = serde_json::from_slice::<serde_json::Value>(&manifest_bytes)
        .ok()
        .and_then(|m| m.get("format")?.as_str().map(str::to_string))
        .unwrap_or_default();
    if format == day::DAY_FORMAT {
        return day::verify_day(files, &manifest_bytes).map(|p| Verified::Day(Box::new(p)));
    }
    verify_incident(files, &manifest_bytes).map(|p| Verified::Incident(Box::new(p)))
}

/// What a bundle proves, by kind.
#[derive(Debug, Clone)]
pub enum Verified {
    /// An incident's bundle.
    Incident(Box<Proof>),
    /// A day's activity report's bundle.
    Day(Box<day::DayProof>),
}

impl Verified {
    /// What the bundle proves, in words.
    pub fn summary(&self) -> String {
        match self {
            Verified::Incident(p) => p.summary(),
            Verified::Day(p) => p.summary(),
        }
    }
}

/// Checks `manifest.sig` against `console_key` (hex) over `manifest_bytes`, and that `files`
/// are exactly the manifest's `listed` files with their sizes and hashes.
fn check_signed_files(
    files: &mut BTreeMap<String, Vec<u8>>,
    manifest_bytes: &[u8],
    console_key: &str,
    listed: &[ManifestFile],
) -> Result<(), Broken> {
    let sig_text = files
        .remove("manifest.sig")
        .ok_or_else(|| broken("manifest.sig", "missing"))?;
    let sig = std::str::from_utf8(&sig_text)
        .ok()
        .and_then(|t| hex::decode(t.trim()).ok())
        .ok_or_else(|| broken("manifest.sig", "not a signature in hex"))?;
    let console_key: PublicKey = hex32("manifest.json console_key", console_key)?;
    signing::verify_bundle(&console_key, &sha256(manifest_bytes), &sig).map_err(|_| {
        broken(
            "manifest.sig",
            "the district's signature over manifest.json does not verify",
        )
    })?;
    let mut seen = BTreeSet::new();
    for f in listed {
        let b = files
            .get(&f.path)
            .ok_or_else(|| broken(&f.path, "listed in the manifest but not in the bundle"))?;
        if b.len() as u64 != f.bytes || hex::encode(sha256(b)) != f.sha256 {
            return Err(broken(&f.path, "its SHA-256 is not the manifest's"));
        }
        seen.insert(f.path.clone());
    }
    if let Some(extra) = files.keys().find(|p| !seen.contains(*p)) {
        return Err(broken(extra, "in the bundle but not in the manifest"));
    }
    Ok(())
}

/// [`verify`] of an incident's bundle.
fn verify_incident(
    mut files: BTreeMap<String, Vec<u8>>,
    manifest_bytes: &[u8],
) -> Result<Proof, Broken> {
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| broken("manifest.json", format!("not a manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(broken(
            "manifest.json",
            format!(
                "format {:?}, not {FORMAT} or {}",
                manifest.format,
                day::DAY_FORMAT
            ),
        ));
    }
    check_signed_files(
        &mut files,
        manifest_bytes,
        &manifest.console_key,
        &manifest.files,
    )?;
    let header = &manifest.header;
    let Checked {
        am,
        signatures,
        history: history_keys,
    } = check_record(&files, "", header, &manifest.heads, &manifest.people)?;

    // The report is what the changes say.
    let report = document::read_incident(&am)
        .map_err(|e| broken("changes", format!("do not read as an incident: {e}")))?;
    let stated: serde_json::Value = serde_json::from_slice(
        files
            .get("report.json")
            .ok_or_else(|| broken("report.json", "missing"))?,
    )
    .map_err(|e| broken("report.json", format!("not JSON: {e}")))?;
    if stated != serde_json::to_value(&report).expect("plain JSON") {
        return Err(broken("report.json", "is not what the signed changes say"));
    }
    if !files.contains_key("report.pdf") {
        return Err(broken("report.pdf", "missing"));
    }

    // Photos.
    let mut photos = 0;
    for h in &report.photos {
        let path = format!("photos/{h}.jpg");
        match files.get(&path) {
            Some(b) if hex::encode(sha256(b)) == *h => photos += 1,
            Some(_) => return Err(broken(path, "its bytes are not its SHA-256")),
            None if manifest.photos_missing.contains(h) => {}
            None => return Err(broken(path, "missing")),
        }
    }

    // Audit entries.
    let text = files
        .get("audit.jsonl")
        .ok_or_else(|| broken("audit.jsonl", "missing"))?;
    let text = std::str::from_utf8(text).map_err(|_| broken("audit.jsonl", "not UTF-8"))?;
    let mut before: Option<BundleAuditEntry> = None;
    let (mut entries, mut links) = (0, 0);
    for (i, l) in text.lines().enumerate() {
        let part = format!("audit.jsonl line {}", i + 1);
        let e: BundleAuditEntry =
            serde_json::from_str(l).map_err(|e| broken(&part, format!("not an entry: {e}")))?;
        let prev = hex32(&part, &e.prev)?;
        if hex::encode(crate::audit::hash(&prev, &e.body)) != e.hash {
            return Err(broken(
                &part,
                format!("entry {}: its hash is not over its body", e.seq),
            ));
        }
        let body: serde_json::Value =
            serde_json::from_str(&e.body).map_err(|_| broken(&part, "its body is not JSON"))?;
        if body["seq"].as_u64() != Some(e.seq) {
            return Err(broken(
                &part,
                format!("entry {}: its body says another position", e.seq),
            ));
        }
        if !e.body.contains(&header.id.to_string()) {
            return Err(broken(
                &part,
                format!("entry {} is not about this record", e.seq),
            ));
        }
        if let Some(b) = &before {
            if e.seq <= b.seq {
                return Err(broken(
                    &part,
                    format!("entry {} after entry {}: out of order", e.seq, b.seq),
                ));
            }
            if e.seq == b.seq + 1 {
                if e.prev != b.hash {
                    return Err(broken(
                        &part,
                        format!("entry {} does not link to entry {}", e.seq, b.seq),
                    ));
                }
                links += 1;
            }
        }
        entries += 1;
        before = Some(e);
    }
    Ok(Proof {
        history: history_keys,
        signatures,
        photos,
        audit: (entries, links),
        report,
        manifest,
    })
}

/// One record of a bundle, checked.
struct Checked {
    /// The record, rebuilt from its changes.
    am: Automerge,
    /// Signatures checked.
    signatures: usize,
    /// Its history, oldest first, each change with the key that covers it.
    history: Vec<(HistoryEntry, String)>,
}

/// Checks one record's files under `prefix` (`changes/<hash>.amc`, `signatures.json`): each
/// change's hash is its name, every dependency is present, the heads are `heads_stated`, the
/// changes are `header`'s record, every signature verifies and every change is covered by a
/// signature of its maker.
fn check_record(
    files: &BTreeMap<String, Vec<u8>>,
    prefix: &str,
    header: &Header,
    heads_stated: &[String],
    people: &BTreeMap<Uuid, String>,
) -> Result<Checked, Broken> {
    let changes_dir = format!("{prefix}changes/");
    let changes_part = format!("{prefix}changes");
    let sigs_path = format!("{prefix}signatures.json");
    // The changes: each hash over its bytes, the history complete, the heads as exported.
    let mut changes = Vec::new();
    for (path, b) in files.iter().filter(|(p, _)| p.starts_with(&changes_dir)) {
        let c = Change::from_bytes(b.clone())
            .map_err(|e| broken(path, format!("not an automerge change: {e}")))?;
        if path != &format!("{changes_dir}{}.amc", hex::encode(c.hash().0)) {
            return Err(broken(path, "its hash is not its name"));
        }
        changes.push(c);
    }
    let known: BTreeSet<[u8; 32]> = changes.iter().map(|c| c.hash().0).collect();
    for c in &changes {
        if let Some(d) = c.deps().iter().find(|d| !known.contains(&d.0)) {
            return Err(broken(
                format!("{changes_dir}{}.amc", hex::encode(c.hash().0)),
                format!("depends on {} which is not in the bundle", hex::encode(d.0)),
            ));
        }
    }
    let mut am = Automerge::new();
    am.apply_changes(changes.iter().cloned())
        .map_err(|e| broken(&changes_part, format!("do not apply: {e}")))?;
    let mut heads: Vec<String> = am.get_heads().iter().map(|h| hex::encode(h.0)).collect();
    let mut expected = heads_stated.to_vec();
    heads.sort();
    expected.sort();
    if heads != expected {
        return Err(broken(&changes_part, "their heads are not the manifest's"));
    }
    document::check_header(&am, header)
        .map_err(|e| broken(&changes_part, format!("not this record's: {e}")))?;
    // In causal order, as the history reads.
    let ordered: Vec<Change> = am.get_changes(&[]);

    // Signatures: each verifies, and every change is covered by its maker's.
    let sigs: Vec<BundleSignature> = serde_json::from_slice(
        files
            .get(&sigs_path)
            .ok_or_else(|| broken(&sigs_path, "missing"))?,
    )
    .map_err(|e| broken(&sigs_path, format!("not a list of signatures: {e}")))?;
    let mut signed = Vec::new();
    for (i, s) in sigs.iter().enumerate() {
        let part = format!("{sigs_path} entry {}", i + 1);
        let change = hex32(&part, &s.change)?;
        let key = hex32(&part, &s.public_key)?;
        let sig = hex::decode(&s.signature).map_err(|_| broken(&part, "signature not hex"))?;
        signing::verify_change(&key, header.id, s.person, &change, &sig).map_err(|_| {
            broken(
                &part,
                format!(
                    "the signature by {} over change {} does not verify",
                    name_of(people, Some(s.person)),
                    &s.change[..12.min(s.change.len())]
                ),
            )
        })?;
        signed.push((change, s.person));
    }
    if let Some(c) = signing::uncovered(&ordered, &signed) {
        return Err(broken(
            format!("{changes_dir}{}.amc", hex::encode(c.hash().0)),
            format!(
                "not covered by a signature of its maker ({})",
                name_of(people, signing::change_by(c))
            ),
        ));
    }
    // The key that covers each change: a signature of its maker over it or a change after it.
    let reach: Vec<(BTreeSet<[u8; 32]>, Uuid, String)> = sigs
        .iter()
        .zip(&signed)
        .map(|(s, (change, person))| {
            (
                ancestry(&am, change),
                *person,
                s.public_key[..16].to_string(),
            )
        })
        .collect();
    let steps = history(&ordered);
    let history_keys = steps
        .into_iter()
        .zip(&ordered)
        .map(|(s, c)| {
            let key = reach
                .iter()
                .find(|(set, p, _)| Some(*p) == s.by && set.contains(&c.hash().0))
                .map_or_else(|| "?".to_string(), |(_, _, k)| format!("{k}…"));
            (s, key)
        })
        .collect();

    Ok(Checked {
        am,
        signatures: sigs.len(),
        history: history_keys,
    })
}

/// `signed` and every change it depends on, directly or not (what a signature over it covers).
fn ancestry(am: &Automerge, signed: &[u8; 32]) -> BTreeSet<[u8; 32]> {
    let mut stack = vec![automerge::ChangeHash(*signed)];
    let mut seen = BTreeSet::new();
    while let Some(h) = stack.pop() {
        if !seen.insert(h.0) {
            continue;
        }
        if let Some(ch) = am.get_change_by_hash(&h) {
            stack.extend(ch.deps().iter().copied());
        }
    }
    seen
}
