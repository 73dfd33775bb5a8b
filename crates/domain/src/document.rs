//! Records as automerge documents.
//!
//! Every record is one automerge document whose root map holds:
//! - `header`: a map written once, in the document's first change: `id`, `kind`, `school`,
//!   `author`, `device`, `created_at`, `classification`. Nothing may change it afterwards;
//!   [`check_header`] is how the store refuses changes from elsewhere that touch it.
//! - the body, whose shape depends on the kind (see [`ShiftBody`], [`IncidentBody`],
//!   [`NoteBody`]). Lists that only grow (patrol checks, supplements, photos) are automerge
//!   lists of maps; free text that several officers may edit offline (an incident's narrative
//!   and actions) is automerge text, so concurrent edits merge character by character. A patrol
//!   check never changes once recorded, so each is one JSON string in the shift's `checks` list
//!   (one automerge operation instead of ten: recording a check stays fast).
//!
//! This module only builds and reads documents; it knows nothing of SQLite. Each write function
//! runs inside an automerge transaction whose commit carries the action's time and a small
//! JSON message (`{"action":..,"by":..}`) so the history says who did what, when.
//!
//! **Why one file:** the schema of every record's automerge document, written and read side by
//! side (each kind's `init_*`/`edit_*` beside its `read_*`), so a field's name in a write is
//! checked against the read a few lines away; the server's rules ([`crate::rules`]) read the
//! same names.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::*;

/// The immutable part of every record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Document id (UUIDv7).
    pub id: Uuid,
    /// What the record is.
    pub kind: DocKind,
    /// The school it belongs to.
    pub school_id: Uuid,
    /// The person who created it.
    pub author_id: Uuid,
    /// The device it was created on.
    pub device_id: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its handling class.
    pub classification: Classification,
}

/// The automerge actor a device writes with: its device id, so the history shows which device
/// made each change.
pub fn actor_for(device_id: Uuid) -> ActorId {
    ActorId::from(device_id.as_bytes().as_slice())
}

/// Starts a document: its first change writes the header, then `body` fills the rest.
pub fn create(
    header: &Header,
    person: Uuid,
    action: &str,
    body: impl FnOnce(&mut Transaction<'_>) -> Result<()>,
) -> Result<Automerge> {
    let mut doc = Automerge::new().with_actor(actor_for(header.device_id));
    change(&mut doc, header.created_at, person, action, |tx| {
        let h = tx.put_object(ROOT, "header", ObjType::Map)?;
        tx.put(&h, "id", header.id.to_string())?;
        tx.put(&h, "kind", header.kind.code())?;
        tx.put(&h, "school", header.school_id.to_string())?;
        tx.put(&h, "author", header.author_id.to_string())?;
        tx.put(&h, "device", header.device_id.to_string())?;
        tx.put(&h, "created_at", ts(header.created_at))?;
        tx.put(&h, "classification", header.classification.code())?;
        body(tx)
    })?;
    Ok(doc)
}

/// Runs one change against `doc`, committed with the action's time and author. If `f` fails,
/// the document is left exactly as it was.
pub fn change(
    doc: &mut Automerge,
    at: DateTime<Utc>,
    person: Uuid,
    action: &str,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<()>,
) -> Result<()> {
    let message = serde_json::json!({ "action": action, "by": person.to_string() }).to_string();
    doc.transact_with(
        |_| {
            CommitOptions::default()
                .with_message(message)
                .with_time(at.timestamp())
        },
        f,
    )
    .map(|_| ())
    .map_err(|failure| failure.error)
}

/// Reads the header back out of a document.
pub fn read_header(doc: &Automerge) -> Result<Header> {
    let h = obj(doc, &ROOT, "header", "header")?;
    Ok(Header {
        id: uuid(doc, &h, "id", "header.id")?,
        kind: DocKind::parse(&string(doc, &h, "kind", "header.kind")?, "header.kind")?,
        school_id: uuid(doc, &h, "school", "header.school")?,
        author_id: uuid(doc, &h, "author", "header.author")?,
        device_id: uuid(doc, &h, "device", "header.device")?,
        created_at: time(doc, &h, "created_at", "header.created_at")?,
        classification: Classification::parse(
            &string(doc, &h, "classification", "header.classification")?,
            "header.classification",
        )?,
    })
}

/// Refuses a document whose header differs from `expected` in any field, or was written more
/// than once (concurrent writes to a header field are a change to it, too).
pub fn check_header(doc: &Automerge, expected: &Header) -> Result<()> {
    let changed = |field: &str| Error::HeaderChanged {
        doc: expected.id,
        field: field.to_string(),
    };
    // One lookup per key: `get_all` both proves there is exactly one value (no concurrent
    // write) and gives it. The server runs this on every pushed document.
    let all = doc.get_all(ROOT, "header")?;
    let [(Value::Object(_), h)] = all.as_slice() else {
        return Err(changed("header"));
    };
    if doc.length(h) != 7 {
        return Err(changed("header"));
    }
    let text = |s: String| ScalarValue::Str(s.into());
    let wanted = [
        ("id", text(expected.id.to_string())),
        ("kind", text(expected.kind.code().to_string())),
        ("school", text(expected.school_id.to_string())),
        ("author", text(expected.author_id.to_string())),
        ("device", text(expected.device_id.to_string())),
        (
            "created_at",
            ScalarValue::Timestamp(expected.created_at.timestamp_millis()),
        ),
        (
            "classification",
            text(expected.classification.code().to_string()),
        ),
    ];
    for (key, want) in wanted {
        match doc.get_all(h, key)?.as_slice() {
            [(Value::Scalar(v), _)] if v.as_ref() == &want => {}
            _ => return Err(changed(key)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Shift
// ---------------------------------------------------------------------------------------

/// A patrol check as stored in a shift document: what the guard recorded and who recorded it.
/// (As JSON, the check's fields and `recorded_by` side by side.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The check as recorded.
    #[serde(flatten)]
    pub check: CheckInput,
    /// Who recorded it.
    pub recorded_by: Uuid,
}

/// The body of a shift document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftBody {
    /// The post.
    pub post_id: Uuid,
    /// When the shift started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Patrol checks in the order they were appended (merged lists interleave by automerge's
    /// list order; readers sort by time).
    pub checks: Vec<CheckRecord>,
}

/// Writes a new shift's body.
pub fn init_shift(
    tx: &mut Transaction<'_>,
    post_id: Uuid,
    started_at: DateTime<Utc>,
) -> Result<()> {
    tx.put(ROOT, "post", post_id.to_string())?;
    tx.put(ROOT, "started_at", ts(started_at))?;
    tx.put(ROOT, "ended_at", ScalarValue::Null)?;
    tx.put_object(ROOT, "checks", ObjType::List)?;
    Ok(())
}

/// A check as stored in the shift's `checks` list: one JSON string per check. A check never
/// changes once recorded, so it needs no per-field automerge history; one scalar is a single
/// operation, which keeps recording a check fast (see `docs/performance.md`).
#[derive(Serialize, Deserialize)]
struct StoredCheck {
    id: Uuid,
    cp: Uuid,
    m: CheckMethod,
    r: CheckResult,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    n: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    p: Vec<String>,
    at: i64,
    by: Uuid,
}

/// The record a check input becomes.
pub fn check_record(check: &CheckInput, by: Uuid) -> CheckRecord {
    CheckRecord {
        check: check.clone(),
        recorded_by: by,
    }
}

/// Appends a patrol check.
pub fn append_check(tx: &mut Transaction<'_>, check: &CheckInput, by: Uuid) -> Result<()> {
    let checks = obj(tx, &ROOT, "checks", "checks")?;
    let len = tx.length(&checks);
    let stored = StoredCheck {
        id: check.id,
        cp: check.checkpoint_id,
        m: check.method,
        r: check.result,
        n: check.note.clone(),
        p: check.photos.clone(),
        at: check.at.timestamp_millis(),
        by,
    };
    let json =
        serde_json::to_string(&stored).map_err(|e| Error::internal("encoding a check", e))?;
    tx.insert(&checks, len, json)?;
    Ok(())
}

/// How many checks a shift holds (without reading them).
pub fn check_count(doc: &Automerge) -> Result<usize> {
    Ok(doc.length(obj(doc, &ROOT, "checks", "checks")?))
}

/// Marks the shift ended.
pub fn end_shift(tx: &mut Transaction<'_>, at: DateTime<Utc>) -> Result<()> {
    tx.put(ROOT, "ended_at", ts(at))?;
    Ok(())
}

/// Reads a shift's body.
pub fn read_shift(doc: &Automerge) -> Result<ShiftBody> {
    let checks_obj = obj(doc, &ROOT, "checks", "checks")?;
    let mut checks = Vec::with_capacity(doc.length(&checks_obj));
    // One pass over the list (indexing each element would walk it again every time).
    for (i, item) in doc.list_range(&checks_obj, ..).enumerate() {
        let value: Value<'static> = item.value.into();
        checks.push(read_check(value, i)?);
    }
    Ok(ShiftBody {
        post_id: uuid(doc, &ROOT, "post", "post")?,
        started_at: time(doc, &ROOT, "started_at", "started_at")?,
        ended_at: opt_time(doc, &ROOT, "ended_at", "ended_at")?,
        checks,
    })
}

fn read_check(value: Value<'_>, i: usize) -> Result<CheckRecord> {
    let field = format!("checks[{i}]");
    let Some(json) = value.as_str() else {
        return Err(wrong(&field));
    };
    check_from_json(json, &field)
}

/// Reads one element of a shift's `checks` list (the JSON string a check is stored as).
pub fn parse_check(json: &str) -> Result<CheckRecord> {
    check_from_json(json, "check")
}

fn check_from_json(json: &str, field: &str) -> Result<CheckRecord> {
    let c: StoredCheck = serde_json::from_str(json)
        .map_err(|e| Error::invalid(format!("document.{field}"), format!("is not a check: {e}")))?;
    Ok(CheckRecord {
        check: CheckInput {
            id: c.id,
            checkpoint_id: c.cp,
            method: c.m,
            result: c.r,
            note: c.n,
            photos: c.p,
            at: Utc
                .timestamp_millis_opt(c.at)
                .single()
                .ok_or_else(|| wrong(&format!("{field}.at")))?,
        },
        recorded_by: c.by,
    })
}

// ---------------------------------------------------------------------------------------
// Incident
// ---------------------------------------------------------------------------------------

/// A supplement added to an incident after it was submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplement {
    /// Supplement id.
    pub id: Uuid,
    /// Who wrote it.
    pub author_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// What it says.
    pub text: String,
}

/// The body of an incident document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentBody {
    /// Type.
    pub incident_type: IncidentType,
    /// Where.
    pub location: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was first reported (document creation).
    pub reported_at: DateTime<Utc>,
    /// Review status.
    pub status: IncidentStatus,
    /// When it was last submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The supervisor's last review comment.
    pub review_comment: Option<String>,
    /// People involved.
    pub people: Vec<InvolvedPerson>,
    /// What happened.
    pub narrative: String,
    /// Actions taken.
    pub actions: String,
    /// Supplements.
    pub supplements: Vec<Supplement>,
    /// Photo hashes.
    pub photos: Vec<String>,
}

/// Writes a new incident's body.
pub fn init_incident(
    tx: &mut Transaction<'_>,
    i: &IncidentInput,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.put(ROOT, "type", i.incident_type.code())?;
    tx.put(ROOT, "location", i.location.as_str())?;
    tx.put(ROOT, "occurred_at", ts(i.occurred_at))?;
    tx.put(ROOT, "reported_at", ts(now))?;
    tx.put(ROOT, "status", IncidentStatus::Draft.code())?;
    tx.put(ROOT, "submitted_at", ScalarValue::Null)?;
    tx.put(ROOT, "review_comment", ScalarValue::Null)?;
    let people = tx.put_object(ROOT, "people", ObjType::List)?;
    for p in &i.people {
        insert_person(tx, &people, p)?;
    }
    let n = tx.put_object(ROOT, "narrative", ObjType::Text)?;
    tx.splice_text(&n, 0, 0, &i.narrative)?;
    let a = tx.put_object(ROOT, "actions", ObjType::Text)?;
    tx.splice_text(&a, 0, 0, &i.actions)?;
    tx.put_object(ROOT, "supplements", ObjType::List)?;
    put_string_list(tx, &ROOT, "photos", &i.photos)?;
    Ok(())
}

fn insert_person(tx: &mut Transaction<'_>, list: &ObjId, p: &InvolvedPerson) -> Result<()> {
    let len = tx.length(list);
    let o = tx.insert_object(list, len, ObjType::Map)?;
    tx.put(&o, "id", p.id.to_string())?;
    tx.put(&o, "name", p.name.as_str())?;
    tx.put(&o, "category", p.category.code())?;
    tx.put(&o, "involvement", p.involvement.code())?;
    tx.put(&o, "juvenile", p.juvenile)?;
    match &p.reference {
        Some(r) => tx.put(&o, "reference", r.as_str())?,
        None => tx.put(&o, "reference", ScalarValue::Null)?,
    }
    Ok(())
}

/// Applies an edit to an incident's body.
pub fn edit_incident(tx: &mut Transaction<'_>, e: &IncidentEdit) -> Result<()> {
    if let Some(t) = e.incident_type {
        tx.put(ROOT, "type", t.code())?;
    }
    if let Some(l) = &e.location {
        tx.put(ROOT, "location", l.as_str())?;
    }
    if let Some(t) = e.occurred_at {
        tx.put(ROOT, "occurred_at", ts(t))?;
    }
    let narrative = obj(tx, &ROOT, "narrative", "narrative")?;
    if let Some(n) = &e.narrative {
        tx.update_text(&narrative, n)?;
    }
    if let Some(more) = &e.append_narrative {
        let len = tx.length(&narrative);
        let sep = if len == 0 { "" } else { "\n" };
        tx.splice_text(&narrative, len, 0, &format!("{sep}{more}"))?;
    }
    if let Some(a) = &e.actions {
        let actions = obj(tx, &ROOT, "actions", "actions")?;
        tx.update_text(&actions, a)?;
    }
    let people = obj(tx, &ROOT, "people", "people")?;
    for id in &e.remove_people {
        let idx = (0..tx.length(&people)).find(|&i| {
            tx.get(&people, i)
                .ok()
                .flatten()
                .and_then(|(_, o)| tx.get(&o, "id").ok().flatten())
                .and_then(|(v, _)| v.as_str().map(|s| s == id.to_string()))
                .unwrap_or(false)
        });
        match idx {
            Some(i) => tx.delete(&people, i)?,
            None => return Err(Error::not_found("person entry", id)),
        }
    }
    for p in &e.add_people {
        insert_person(tx, &people, p)?;
    }
    if !e.add_photos.is_empty() {
        let photos = obj(tx, &ROOT, "photos", "photos")?;
        for p in &e.add_photos {
            let len = tx.length(&photos);
            tx.insert(&photos, len, p.as_str())?;
        }
    }
    Ok(())
}

/// Sets an incident's status (with the submission time or review comment that goes with it).
pub fn set_incident_status(
    tx: &mut Transaction<'_>,
    status: IncidentStatus,
    at: DateTime<Utc>,
    comment: Option<&str>,
) -> Result<()> {
    // Writing the value a key already holds records no operation; a second approval of an
    // amended report must be an operation of its own (it is what marks the edits as seen), so
    // the old value is removed first.
    if string(tx, &ROOT, "status", "status").ok().as_deref() == Some(status.code()) {
        tx.delete(ROOT, "status")?;
    }
    tx.put(ROOT, "status", status.code())?;
    if status == IncidentStatus::Submitted {
        tx.put(ROOT, "submitted_at", ts(at))?;
    }
    if let Some(c) = comment {
        tx.put(ROOT, "review_comment", c)?;
    }
    Ok(())
}

/// Appends a supplement.
pub fn add_supplement(tx: &mut Transaction<'_>, s: &Supplement) -> Result<()> {
    let list = obj(tx, &ROOT, "supplements", "supplements")?;
    let len = tx.length(&list);
    let o = tx.insert_object(&list, len, ObjType::Map)?;
    tx.put(&o, "id", s.id.to_string())?;
    tx.put(&o, "author", s.author_id.to_string())?;
    tx.put(&o, "at", ts(s.at))?;
    tx.put(&o, "text", s.text.as_str())?;
    Ok(())
}

/// Reads an incident's body.
pub fn read_incident(doc: &Automerge) -> Result<IncidentBody> {
    let people_obj = obj(doc, &ROOT, "people", "people")?;
    let mut people = Vec::new();
    for i in 0..doc.length(&people_obj) {
        let field = format!("people[{i}]");
        let o = obj(doc, &people_obj, i, &field)?;
        let f = |k: &str| format!("{field}.{k}");
        people.push(InvolvedPerson {
            id: uuid(doc, &o, "id", &f("id"))?,
            name: string(doc, &o, "name", &f("name"))?,
            category: PersonCategory::parse(
                &string(doc, &o, "category", &f("category"))?,
                &f("category"),
            )?,
            involvement: Involvement::parse(
                &string(doc, &o, "involvement", &f("involvement"))?,
                &f("involvement"),
            )?,
            juvenile: boolean(doc, &o, "juvenile", &f("juvenile"))?,
            reference: opt_string(doc, &o, "reference", &f("reference"))?,
        });
    }
    let sup_obj = obj(doc, &ROOT, "supplements", "supplements")?;
    let mut supplements = Vec::new();
    for i in 0..doc.length(&sup_obj) {
        let field = format!("supplements[{i}]");
        let o = obj(doc, &sup_obj, i, &field)?;
        let f = |k: &str| format!("{field}.{k}");
        supplements.push(Supplement {
            id: uuid(doc, &o, "id", &f("id"))?,
            author_id: uuid(doc, &o, "author", &f("author"))?,
            at: time(doc, &o, "at", &f("at"))?,
            text: string(doc, &o, "text", &f("text"))?,
        });
    }
    Ok(IncidentBody {
        incident_type: IncidentType::parse(&string(doc, &ROOT, "type", "type")?, "type")?,
        location: string(doc, &ROOT, "location", "location")?,
        occurred_at: time(doc, &ROOT, "occurred_at", "occurred_at")?,
        reported_at: time(doc, &ROOT, "reported_at", "reported_at")?,
        status: effective_status(doc)?,
        submitted_at: opt_time(doc, &ROOT, "submitted_at", "submitted_at")?,
        review_comment: opt_string(doc, &ROOT, "review_comment", "review_comment")?,
        people,
        narrative: text_of(doc, "narrative")?,
        actions: text_of(doc, "actions")?,
        supplements,
        photos: string_list(doc, &ROOT, "photos", "photos")?,
    })
}

/// An incident's status as people see it: the stored status, except that an approved
/// incident with an edit the approval did not see (made offline on a draft or returned report
/// and merged after the approval) reads as [`IncidentStatus::Amended`] and waits for review
/// again (see [`crate::rules`]).
fn effective_status(doc: &Automerge) -> Result<IncidentStatus> {
    let stored = IncidentStatus::parse(&string(doc, &ROOT, "status", "status")?, "status")?;
    if stored == IncidentStatus::Approved && amended_after_approval(doc)? {
        return Ok(IncidentStatus::Amended);
    }
    Ok(stored)
}

/// An incident's status (as [`read_incident`] derives it) in the state at `heads`, or `None`
/// when that state has no readable status. Reads the one key at `heads`; only an approval
/// needs the state itself, to tell whether it was amended afterwards.
pub fn incident_status_at(doc: &Automerge, heads: &[ChangeHash]) -> Option<IncidentStatus> {
    let stored = match doc.get_at(ROOT, "status", heads).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => IncidentStatus::parse(s, "status").ok()?,
            _ => return None,
        },
        _ => return None,
    };
    if stored != IncidentStatus::Approved {
        return Some(stored);
    }
    let then = doc.fork_at(heads).ok()?;
    effective_status(&then).ok()
}

/// Whether a change to the report's content is missing from the history of the change that
/// approved it, i.e. was made concurrently and merged later.
fn amended_after_approval(doc: &Automerge) -> Result<bool> {
    let Some((_, status)) = doc.get(ROOT, "status")? else {
        return Ok(false);
    };
    let Some(approval) = doc.hash_for_opid(&status) else {
        return Ok(false);
    };
    let content = |k: &str| -> Result<Option<automerge::ObjId>> {
        Ok(match doc.get(ROOT, k)? {
            Some((Value::Object(_), id)) => Some(id),
            _ => None,
        })
    };
    let objects: Vec<automerge::ObjId> = ["people", "narrative", "actions", "photos"]
        .into_iter()
        .map(content)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let unseen = doc.get_changes(&[approval]);
    Ok(unseen.iter().any(|c| {
        c.decode().operations.iter().any(|op| match &op.obj {
            automerge::legacy::ObjectId::Root => matches!(
                &op.key,
                automerge::legacy::Key::Map(k) if matches!(k.as_str(), "type" | "location" | "occurred_at")
            ),
            automerge::legacy::ObjectId::Id(id) => objects.iter().any(|o| {
                matches!(o, automerge::ObjId::Id(c, a, _) if *c == id.0 && *a == id.1)
            }),
        })
    }))
}

// ---------------------------------------------------------------------------------------
// Contact note
// ---------------------------------------------------------------------------------------

/// The body of a contact note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteBody {
    /// District student id.
    pub student_ref: String,
    /// Student's name.
    pub student_name: String,
    /// Kind of contact.
    pub contact_type: ContactType,
    /// Why.
    pub reason: String,
    /// What came of it.
    pub outcome: String,
    /// Referral.
    pub referral: Referral,
    /// Follow-up date.
    pub follow_up_on: Option<NaiveDate>,
    /// People it is shared with.
    pub shared_with: Vec<Uuid>,
    /// When the contact happened.
    pub contacted_at: DateTime<Utc>,
}

/// Writes a new note's body.
pub fn init_note(tx: &mut Transaction<'_>, n: &NoteInput) -> Result<()> {
    tx.put(ROOT, "student_ref", n.student_ref.as_str())?;
    tx.put(ROOT, "student_name", n.student_name.as_str())?;
    tx.put(ROOT, "contact_type", n.contact_type.code())?;
    tx.put(ROOT, "reason", n.reason.as_str())?;
    tx.put(ROOT, "outcome", n.outcome.as_str())?;
    tx.put(ROOT, "referral", n.referral.code())?;
    put_date(tx, n.follow_up_on)?;
    let shared: Vec<String> = n.shared_with.iter().map(Uuid::to_string).collect();
    put_string_list(tx, &ROOT, "shared_with", &shared)?;
    tx.put(ROOT, "contacted_at", ts(n.contacted_at))?;
    Ok(())
}

fn put_date(tx: &mut Transaction<'_>, d: Option<NaiveDate>) -> Result<()> {
    match d {
        Some(d) => tx.put(ROOT, "follow_up_on", d.to_string())?,
        None => tx.put(ROOT, "follow_up_on", ScalarValue::Null)?,
    }
    Ok(())
}

/// Applies an edit to a note.
pub fn edit_note(tx: &mut Transaction<'_>, e: &NoteEdit) -> Result<()> {
    if let Some(r) = &e.reason {
        tx.put(ROOT, "reason", r.as_str())?;
    }
    if let Some(o) = &e.outcome {
        tx.put(ROOT, "outcome", o.as_str())?;
    }
    if let Some(r) = e.referral {
        tx.put(ROOT, "referral", r.code())?;
    }
    if let Some(d) = e.follow_up_on {
        put_date(tx, d)?;
    }
    if !e.share_with.is_empty() {
        let list = obj(tx, &ROOT, "shared_with", "shared_with")?;
        let existing = string_list(tx, &ROOT, "shared_with", "shared_with")?;
        for p in &e.share_with {
            let p = p.to_string();
            if !existing.contains(&p) {
                let len = tx.length(&list);
                tx.insert(&list, len, p)?;
            }
        }
    }
    Ok(())
}

/// Reads a note's body.
pub fn read_note(doc: &Automerge) -> Result<NoteBody> {
    let follow_up_on = match opt_string(doc, &ROOT, "follow_up_on", "follow_up_on")? {
        Some(s) => Some(
            s.parse::<NaiveDate>()
                .map_err(|_| Error::invalid("follow_up_on", "is not a date"))?,
        ),
        None => None,
    };
    let mut shared_with = Vec::new();
    for s in string_list(doc, &ROOT, "shared_with", "shared_with")? {
        shared_with.push(
            s.parse()
                .map_err(|_| Error::invalid("shared_with", "holds something that is not an id"))?,
        );
    }
    Ok(NoteBody {
        student_ref: string(doc, &ROOT, "student_ref", "student_ref")?,
        student_name: string(doc, &ROOT, "student_name", "student_name")?,
        contact_type: ContactType::parse(
            &string(doc, &ROOT, "contact_type", "contact_type")?,
            "contact_type",
        )?,
        reason: string(doc, &ROOT, "reason", "reason")?,
        outcome: string(doc, &ROOT, "outcome", "outcome")?,
        referral: Referral::parse(&string(doc, &ROOT, "referral", "referral")?, "referral")?,
        follow_up_on,
        shared_with,
        contacted_at: time(doc, &ROOT, "contacted_at", "contacted_at")?,
    })
}

// ---------------------------------------------------------------------------------------
// Typed access to automerge values
// ---------------------------------------------------------------------------------------

fn ts(t: DateTime<Utc>) -> ScalarValue {
    ScalarValue::Timestamp(t.timestamp_millis())
}

fn wrong(field: &str) -> Error {
    Error::invalid(
        format!("document.{field}"),
        "is missing or has the wrong type",
    )
}

fn scalar<R: ReadDoc>(
    doc: &R,
    o: &ObjId,
    key: impl Into<automerge::Prop>,
    field: &str,
) -> Result<ScalarValue> {
    match doc.get(o, key)? {
        Some((Value::Scalar(v), _)) => Ok(v.into_owned()),
        _ => Err(wrong(field)),
    }
}

fn obj<R: ReadDoc>(
    doc: &R,
    o: &ObjId,
    key: impl Into<automerge::Prop>,
    field: &str,
) -> Result<ObjId> {
    match doc.get(o, key)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(wrong(field)),
    }
}

fn string<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<String> {
    match scalar(doc, o, key, field)? {
        ScalarValue::Str(s) => Ok(s.to_string()),
        _ => Err(wrong(field)),
    }
}

fn opt_string<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<Option<String>> {
    match scalar(doc, o, key, field)? {
        ScalarValue::Str(s) => Ok(Some(s.to_string())),
        ScalarValue::Null => Ok(None),
        _ => Err(wrong(field)),
    }
}

fn boolean<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<bool> {
    match scalar(doc, o, key, field)? {
        ScalarValue::Boolean(b) => Ok(b),
        _ => Err(wrong(field)),
    }
}

fn uuid<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<Uuid> {
    string(doc, o, key, field)?
        .parse()
        .map_err(|_| Error::invalid(format!("document.{field}"), "is not an id"))
}

fn time<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<DateTime<Utc>> {
    opt_time(doc, o, key, field)?.ok_or_else(|| wrong(field))
}

fn opt_time<R: ReadDoc>(
    doc: &R,
    o: &ObjId,
    key: &str,
    field: &str,
) -> Result<Option<DateTime<Utc>>> {
    match scalar(doc, o, key, field)? {
        ScalarValue::Timestamp(ms) => Utc
            .timestamp_millis_opt(ms)
            .single()
            .map(Some)
            .ok_or_else(|| wrong(field)),
        ScalarValue::Null => Ok(None),
        _ => Err(wrong(field)),
    }
}

fn text_of(doc: &Automerge, key: &str) -> Result<String> {
    let o = obj(doc, &ROOT, key, key)?;
    match doc.object_type(&o)? {
        ObjType::Text => Ok(doc.text(&o)?),
        _ => Err(wrong(key)),
    }
}

fn put_string_list(tx: &mut Transaction<'_>, o: &ObjId, key: &str, items: &[String]) -> Result<()> {
    let list = tx.put_object(o, key, ObjType::List)?;
    for (i, s) in items.iter().enumerate() {
        tx.insert(&list, i, s.as_str())?;
    }
    Ok(())
}

fn string_list<R: ReadDoc>(doc: &R, o: &ObjId, key: &str, field: &str) -> Result<Vec<String>> {
    let list = obj(doc, o, key, field)?;
    let mut out = Vec::with_capacity(doc.length(&list));
    for i in 0..doc.length(&list) {
        match doc.get(&list, i)? {
            Some((Value::Scalar(v), _)) => match v.as_ref() {
                ScalarValue::Str(s) => out.push(s.to_string()),
                _ => return Err(wrong(field)),
            },
            _ => return Err(wrong(field)),
        }
    }
    Ok(out)
}
