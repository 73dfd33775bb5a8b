//! The verifiable export of a day's activity report (`rounds-server export day DATE`, the
//! console's reports page): the report as CSV and PDF, exactly as the console gives them, and
//! every record it counts (the day's shifts and incidents), each with all its changes and their
//! signatures, under a manifest signed by the district's console key. `rounds-server verify`
//! checks every file's hash, the manifest's signature, and each record as an incident bundle's
//! record is checked (hashes, dependencies, heads, header, every signature, every change
//! covered by its maker's); it then says who recorded each record.
//!
//! Layout: `manifest.json`, `manifest.sig`, `report.csv`, `report.pdf`, and for each record
//! `records/<id>/changes/<hash>.amc` and `records/<id>/signatures.json`.
//!
//! What the people's signatures prove is the records; the report's figures (on time, late,
//! missed) are computed from them and the district's schedules, and rest on the district's
//! signature over the manifest.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rounds_domain::document::{self, Header};
use rounds_domain::model::DocKind;
use rounds_domain::signing::SigningSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Broken, Export, ExportError, ManifestFile, broken, check_record, check_signed_files, erased,
    name_of, pack, record_files, sha256,
};
use crate::console::incidents::action_label;
use crate::console::pdf::ReportFonts;
use crate::console::reports::{Report, to_csv, to_pdf};
use crate::storage::Storage;

/// The day bundle format this code writes and reads.
pub const DAY_FORMAT: &str = "rounds-evidence-day-v1";

/// One record of a day's bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRecord {
    /// Its header.
    pub header: Header,
    /// Its heads when exported (hex).
    pub heads: Vec<String>,
}

/// A day bundle's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayManifest {
    /// [`DAY_FORMAT`].
    pub format: String,
    /// When the bundle was made.
    pub made_at: DateTime<Utc>,
    /// Who made it (`None`: the server's command line).
    pub made_by: Option<Uuid>,
    /// The report's day (in the district's zone).
    pub date: NaiveDate,
    /// What the report covers (a school, the district, a supervisor's schools).
    pub scope: String,
    /// The school asked for, if one was.
    pub school: Option<Uuid>,
    /// Every record the report counts.
    pub records: Vec<DayRecord>,
    /// The names of the people the bundle names.
    pub people: BTreeMap<Uuid, String>,
    /// The district's console key, which signs the manifest (hex).
    pub console_key: String,
    /// Every file of the bundle but the manifest and its signature.
    pub files: Vec<ManifestFile>,
}

/// The records a day's report counts (its shifts and incidents), by id.
pub fn record_ids(report: &Report) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = report
        .days
        .iter()
        .flat_map(|d| d.shifts.iter().map(|s| s.row.header.id))
        .chain(report.incidents.iter().map(|h| h.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Makes the bundle of `report` (built by [`crate::console::reports::build`]), signed with
/// the district's console `key`.
pub fn export_day(
    storage: &dyn Storage,
    report: &Report,
    school: Option<Uuid>,
    key: &SigningSecret,
    fonts: &ReportFonts,
    made_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Export, ExportError> {
    let ids = record_ids(report);
    let mut files = vec![
        ("report.csv".to_string(), to_csv(report).into_bytes()),
        (
            "report.pdf".to_string(),
            to_pdf(report, fonts).map_err(|e| ExportError::Pdf(e.to_string()))?,
        ),
    ];
    let mut records = Vec::with_capacity(ids.len());
    let mut people_ids: BTreeSet<Uuid> = made_by.into_iter().collect();
    for id in ids {
        let stored = storage.document(id)?.ok_or(ExportError::NotFound(id))?;
        let (am, changes) = stored
            .to_automerge_and_changes()
            .map_err(ExportError::Damaged)?;
        let signatures = storage.change_signatures(id)?;
        people_ids.insert(stored.header.author_id);
        people_ids.extend(signatures.iter().map(|s| s.person_id));
        people_ids.extend(changes.iter().filter_map(rounds_domain::signing::change_by));
        files.extend(record_files(
            &format!("records/{id}/"),
            &changes,
            &signatures,
        ));
        records.push(DayRecord {
            header: stored.header.clone(),
            heads: am.get_heads().iter().map(|h| hex::encode(h.0)).collect(),
        });
    }
    let mut people = BTreeMap::new();
    for p in people_ids {
        if let Some(r) = storage.person(p)? {
            people.insert(p, r.name);
        }
    }
    let manifest = DayManifest {
        format: DAY_FORMAT.into(),
        made_at: now,
        made_by,
        date: report.date,
        scope: report.scope.clone(),
        school,
        records,
        people,
        console_key: hex::encode(key.public()),
        files: files
            .iter()
            .map(|(path, b)| ManifestFile {
                path: path.clone(),
                bytes: b.len() as u64,
                sha256: hex::encode(sha256(b)),
            })
            .collect(),
    };
    pack(&erased::Json::pretty(&manifest), &files, key, now)
}

/// One record of a verified day bundle.
#[derive(Debug, Clone)]
pub struct DayRecordProof {
    /// Its header.
    pub header: Header,
    /// How many changes it has.
    pub changes: usize,
    /// The makers of its changes, in the order of their first change.
    pub makers: Vec<Option<Uuid>>,
    /// What its last change did.
    pub last_action: String,
}

/// What a verified day bundle proves.
#[derive(Debug, Clone)]
pub struct DayProof {
    /// The manifest.
    pub manifest: DayManifest,
    /// Each record.
    pub records: Vec<DayRecordProof>,
    /// Signatures checked, over all records.
    pub signatures: usize,
}

impl DayProof {
    /// What the bundle proves, in words.
    pub fn summary(&self) -> String {
        let m = &self.manifest;
        let names = |id: Option<Uuid>| name_of(&m.people, id);
        let count = |k: DocKind| self.records.iter().filter(|r| r.header.kind == k).count();
        let mut out = format!(
            "Bundle verified: daily activity report of {} for {}, exported {} by {}.\n",
            m.date,
            m.scope,
            m.made_at.format("%Y-%m-%d %H:%M:%S UTC"),
            m.made_by
                .map_or("the server's command line".into(), |p| names(Some(p)))
        );
        out.push_str(&format!(
            "It covers {} shifts and {} incidents. Every change of each is present (heads as exported) and signed by the person who made it ({} signatures checked):\n",
            count(DocKind::Shift),
            count(DocKind::Incident),
            self.signatures
        ));
        for r in &self.records {
            let makers: Vec<String> = r.makers.iter().map(|p| names(*p)).collect();
            out.push_str(&format!(
                "  {} {}: {} changes by {}; last: {}\n",
                r.header.kind.label(),
                r.header.id,
                r.changes,
                makers.join(", "),
                action_label(&r.last_action)
            ));
        }
        out.push_str(
            "report.csv and report.pdf (the figures, computed from these records and the district's schedules) and the names rest on the district's signature.\n",
        );
        out.push_str(&format!(
            "The manifest is signed by the district console key {} (compare it with the key the district publishes).\n",
            m.console_key
        ));
        out
    }
}

/// [`super::verify`] of a day's bundle.
pub fn verify_day(
    mut files: BTreeMap<String, Vec<u8>>,
    manifest_bytes: &[u8],
) -> Result<DayProof, Broken> {
    let manifest: DayManifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| broken("manifest.json", format!("not a manifest: {e}")))?;
    check_signed_files(
        &mut files,
        manifest_bytes,
        &manifest.console_key,
        &manifest.files,
    )?;
    for part in ["report.csv", "report.pdf"] {
        if !files.contains_key(part) {
            return Err(broken(part, "missing"));
        }
    }
    // No record's files without the record in the manifest.
    let named: BTreeSet<String> = manifest
        .records
        .iter()
        .map(|r| format!("records/{}/", r.header.id))
        .collect();
    if let Some(stray) = files
        .keys()
        .filter(|p| p.starts_with("records/"))
        .find(|p| !named.iter().any(|n| p.starts_with(n.as_str())))
    {
        return Err(broken(stray, "belongs to no record of the manifest"));
    }
    let mut records = Vec::with_capacity(manifest.records.len());
    let mut signatures = 0;
    for r in &manifest.records {
        let prefix = format!("records/{}/", r.header.id);
        let checked = check_record(&files, &prefix, &r.header, &r.heads, &manifest.people)?;
        let readable = match r.header.kind {
            DocKind::Shift => document::read_shift(&checked.am).map(|_| ()),
            DocKind::Incident => document::read_incident(&checked.am).map(|_| ()),
            DocKind::ContactNote => Err(rounds_domain::Error::invalid(
                "kind",
                "a daily report holds no contact notes",
            )),
        };
        readable.map_err(|e| broken(format!("{prefix}changes"), format!("do not read: {e}")))?;
        signatures += checked.signatures;
        let mut makers = Vec::new();
        for (s, _) in &checked.history {
            if !makers.contains(&s.by) {
                makers.push(s.by);
            }
        }
        records.push(DayRecordProof {
            header: r.header.clone(),
            changes: checked.history.len(),
            makers,
            last_action: checked
                .history
                .last()
                .map(|(s, _)| s.action.clone())
                .unwrap_or_default(),
        });
    }
    Ok(DayProof {
        manifest,
        records,
        signatures,
    })
}
