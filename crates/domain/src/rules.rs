//! Who may see and change what: the one table of the rules, run by the device before it
//! records a change (so an honest app never makes a change the server would refuse) and by the
//! district server on every change of every push (which is the defence: the device's check is
//! a convenience).
//!
//! ## Who receives a record ([`may_read`])
//!
//! | kind | guard | SRO | supervisor | admin |
//! | --- | --- | --- | --- | --- |
//! | shift | own shifts | — | shifts at their schools | all |
//! | incident | at their schools | at their schools | at their schools | all |
//! | contact note | never | own, and notes shared with them | only when shared with them | never |
//!
//! "Readers" of a contact note are its author and the people its author shared it with.
//!
//! ## Who changes what ([`check_change`])
//!
//! A change is judged against the state of the record it was made on (the change's
//! dependencies), never against today's state, so work done offline in good faith is not
//! refused because of what someone else did meanwhile. Every `by`, author and actor inside a
//! change must be the session's person and device.
//!
//! | kind | field | who | in which state (at the change's dependencies) |
//! | --- | --- | --- | --- |
//! | shift | `checks` (append only; each check's `by` is the writer) | its guard | not ended |
//! | shift | `ended_at` (set once, to a time) | its guard | not ended |
//! | incident | type, location, occurred_at, people, narrative, actions, photos (append) | guards, SROs and supervisors of its school | draft or returned |
//! | incident | status → submitted (with `submitted_at`) | the same writers | draft or returned |
//! | incident | status → approved or returned (with `review_comment`) | a supervisor of its school who is not its author | submitted, or amended after approval |
//! | incident | `supplements` (append only; each one's `author` is the writer) | the same writers | anything but draft |
//! | contact note | reason, outcome, referral, follow_up_on | its author | any |
//! | contact note | `shared_with` (who may read it) | its author | any |
//! | any | the header, and every field not listed | nobody (set when the record is created) | — |
//!
//! Nobody sets an incident back to draft or writes the derived status `amended`; administrators
//! change no field record. A record's first change is its creation: it must be made by its
//! author on the device named in its header and start in its initial state (a shift not ended
//! with no checks; an incident as a draft with no review and no supplements).
//!
//! **Amended after approval.** An edit made while an incident was a draft or returned that
//! reaches the server after a supervisor approved it is kept (it was honest); the incident
//! then reads as [`IncidentStatus::Amended`] and waits for review again (see
//! [`crate::document::read_incident`]).
//!
//! **Why one file:** this is the one table of who may change what and its interpreter, which
//! both the device and the server run; a reviewer must be able to read every rule, and the code
//! that classifies each automerge operation into a field the rules name, without leaving the
//! file.

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{Automerge, Change, ObjId, ROOT, ReadDoc, ScalarValue, Value};
use uuid::Uuid;

use crate::document::{self, Header};
use crate::model::{Classification, DocKind, IncidentStatus, Role};

/// The person a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Person id.
    pub person: Uuid,
    /// Their role.
    pub role: Role,
    /// Schools they are assigned to.
    pub schools: Vec<Uuid>,
}

impl Viewer {
    fn at(&self, school: Uuid) -> bool {
        self.schools.contains(&school)
    }
}

/// May `v` receive this document? `readers` are a contact note's author and the people it is
/// shared with (ignored for other kinds).
pub fn may_read(v: &Viewer, h: &Header, readers: &[Uuid]) -> bool {
    match (h.kind, v.role) {
        (DocKind::Shift, Role::Guard) => h.author_id == v.person,
        (DocKind::Shift, Role::Sro) => false,
        (DocKind::Shift, Role::Supervisor) => v.at(h.school_id),
        (DocKind::Shift, Role::Admin) => true,
        (DocKind::Incident, Role::Admin) => true,
        (DocKind::Incident, _) => v.at(h.school_id),
        (DocKind::ContactNote, Role::Sro | Role::Supervisor) => readers.contains(&v.person),
        (DocKind::ContactNote, Role::Guard | Role::Admin) => false,
    }
}

/// May `v` create this document from `device`? `Err` says why not.
pub fn may_create(v: &Viewer, h: &Header, device: Uuid) -> Result<(), &'static str> {
    if h.author_id != v.person {
        return Err("a new record must be authored by the signed-in person");
    }
    if h.device_id != device {
        return Err("a new record must come from the device it was created on");
    }
    if !v.at(h.school_id) {
        return Err("the record's school is not one of the person's schools");
    }
    let class_ok = match h.kind {
        DocKind::Shift => h.classification == Classification::Internal,
        DocKind::Incident => h.classification == Classification::Confidential,
        DocKind::ContactNote => h.classification.is_restricted(),
    };
    if !class_ok {
        return Err("the classification does not fit the kind of record");
    }
    let role_ok = match h.kind {
        DocKind::Shift => matches!(v.role, Role::Guard | Role::Supervisor),
        DocKind::Incident => matches!(v.role, Role::Guard | Role::Sro | Role::Supervisor),
        DocKind::ContactNote => v.role == Role::Sro,
    };
    if !role_ok {
        return Err("this role does not create this kind of record");
    }
    Ok(())
}

/// May `v` add changes of any kind to this existing document? A coarse first check (the
/// server runs it before loading a document); [`check_change`] then judges every field.
pub fn may_write(v: &Viewer, h: &Header) -> bool {
    match (h.kind, v.role) {
        (_, Role::Admin) => false,
        (DocKind::Shift, _) => h.author_id == v.person,
        (DocKind::Incident, _) => v.at(h.school_id),
        (DocKind::ContactNote, _) => h.author_id == v.person,
    }
}

/// Why a change is refused: a closed set the server reports as the push's rejection kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The person may not change this record at all.
    Forbidden,
    /// The person may change the record, but not this field (or not to this value).
    ForbiddenField,
    /// The move does not fit the record's state when the change was made (approving a draft,
    /// editing a submitted report, recording on an ended shift).
    WrongState,
    /// A `by`, author or actor in the change is not the session's person or device.
    Impersonation,
    /// The change writes into the record's header, which never changes after creation.
    HeaderChanged,
    /// Not a change any version of the app makes (an unknown field, a wrong type, a second
    /// creation, an unreadable message).
    Malformed,
}

/// A refused change: its kind and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The kind.
    pub kind: RefusalKind,
    /// Why, in plain words.
    pub message: String,
}

fn refuse<T>(kind: RefusalKind, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        kind,
        message: message.into(),
    })
}

/// Who makes a change: the session's person and the device they push from.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The person, their role and schools.
    pub viewer: &'a Viewer,
    /// Other people whose changes this push may carry: on a shared phone, a session pushes
    /// the waiting work of everyone signed in on the device. A change naming one of them
    /// (its `by`) is judged as theirs; the server proves it is theirs by their signature
    /// with their key on this device, checked after the rules. Empty everywhere else.
    pub carried: &'a [Viewer],
    /// The device the change must have been made on.
    pub device: Uuid,
}

impl<'a> Writer<'a> {
    /// A writer carrying nobody else's changes.
    pub fn only(viewer: &'a Viewer, device: Uuid) -> Writer<'a> {
        Writer {
            viewer,
            carried: &[],
            device,
        }
    }

    /// The writer `change` is judged as: the carried person its message names, or else the
    /// session's person (whose checks then refuse a change that names anyone else).
    fn of(self, change: &Change) -> Writer<'a> {
        if self.carried.is_empty() {
            return self;
        }
        let Some(by) = message_by(change) else {
            return self;
        };
        match self.carried.iter().find(|v| v.person == by) {
            Some(viewer) => Writer {
                viewer,
                carried: &[],
                device: self.device,
            },
            None => self,
        }
    }
}

/// Judges one change of the document `header` against the rules.
///
/// `doc` must hold every dependency of `change` and nothing else; it may already hold `change`
/// itself (the device checks a change it has just made). Decisions that depend on the record's
/// state read that state at the change's dependencies.
pub fn check_change(
    doc: &Automerge,
    header: &Header,
    who: Writer<'_>,
    change: &Change,
) -> Result<(), Refusal> {
    if change.deps().is_empty() {
        let heads = doc.get_heads();
        if !(heads.is_empty() || heads == [change.hash()]) {
            return refuse(RefusalKind::Malformed, "a record is created once");
        }
    }
    judge(doc, &Now::of(doc, header.kind), header, who, change)
}

/// Applies a push's changes of the document `header` to `doc` in one call and judges them:
/// `doc` holds the stored history (or nothing, for a new record) and `new` are the changes not
/// stored before, in causal order. Applying them together is several times faster than one call
/// per change; it is the server's push path. On a refusal `doc` is to be discarded.
///
/// Each change is judged exactly as [`check_change`] judges it, against the state at its own
/// dependencies; the first refusal is returned. Nothing in the rules reads the document's
/// state after a change, so the changes applied after it do not alter its verdict. (The roots'
/// objects are read from the current state: only a record's creation makes objects at its
/// root keys, and any later change that does is refused, so they are the same at every state.)
pub fn apply_and_check(
    doc: &mut Automerge,
    header: &Header,
    who: Writer<'_>,
    new: &[Change],
) -> Result<(), Refusal> {
    let stored = !doc.get_heads().is_empty();
    let creations = new.iter().filter(|c| c.deps().is_empty()).count();
    if creations > usize::from(!stored) {
        return refuse(RefusalKind::Malformed, "a record is created once");
    }
    if let Err(e) = doc.apply_changes(new.iter().cloned()) {
        return refuse(
            RefusalKind::Malformed,
            format!("the changes cannot be applied: {e}"),
        );
    }
    let now = Now::of(doc, header.kind);
    new.iter()
        .try_for_each(|c| judge(doc, &now, header, who, c))
}

/// What the rules read from the document as it stands (after the judged changes are
/// applied), read once for all the changes of a push: lookups in the root map cost about a
/// microsecond each, as much as applying a small change.
struct Now {
    /// The objects kept at the body's root keys ([`root_objects`]).
    roots: Vec<(ObjId, &'static str)>,
    /// Whether a shift has ended (see [`ended_at_deps`]).
    ended: bool,
}

impl Now {
    fn of(doc: &Automerge, kind: DocKind) -> Now {
        Now {
            roots: root_objects(doc, kind),
            ended: kind == DocKind::Shift && is_ended(doc.get(ROOT, "ended_at").ok().flatten()),
        }
    }
}

/// [`check_change`] and [`apply_and_check`] after their creation-once checks.
fn judge(
    doc: &Automerge,
    now: &Now,
    header: &Header,
    who: Writer<'_>,
    change: &Change,
) -> Result<(), Refusal> {
    let who = who.of(change);
    if change.actor_id() != &document::actor_for(who.device) {
        return refuse(
            RefusalKind::Impersonation,
            "changes must be made on the device that sends them",
        );
    }
    if change.deps().is_empty() {
        check_message(change, who.viewer.person)?;
        return check_creation(doc, header, who, change);
    }
    let expanded = change.decode();
    if !may_write(who.viewer, header) {
        return refuse(RefusalKind::Forbidden, not_yours(header));
    }
    let ops = Ops {
        roots: &now.roots,
        kind: header.kind,
        actor: change.actor_id(),
        start: change.start_op().get(),
        created: Vec::new(),
    };
    let fields = ops.classify(&expanded.operations)?;
    check_message(change, who.viewer.person)?;
    match header.kind {
        DocKind::Shift => check_shift(doc, now, who.viewer, change, &fields),
        DocKind::Incident => check_incident(doc, header, who.viewer, change, &fields),
        // Only the author writes a note (`may_write`), and every listed field is theirs.
        DocKind::ContactNote => Ok(()),
    }
}

fn not_yours(h: &Header) -> &'static str {
    match h.kind {
        DocKind::Shift => "this shift belongs to another guard",
        DocKind::Incident => "you may not change incidents of this school",
        DocKind::ContactNote => "only the note's author changes it",
    }
}

/// The person a change's message names, if it is well formed.
fn message_by(change: &Change) -> Option<Uuid> {
    #[derive(serde::Deserialize)]
    struct Message {
        #[allow(dead_code)]
        action: String,
        by: Uuid,
    }
    change
        .message()
        .and_then(|m| serde_json::from_str::<Message>(m).ok())
        .map(|m| m.by)
}

/// Every change carries `{"action": .., "by": <person>}` (see [`document::change`]).
fn check_message(change: &Change, person: Uuid) -> Result<(), Refusal> {
    let Some(by) = message_by(change) else {
        return refuse(
            RefusalKind::Malformed,
            "every change must say which action made it and who by",
        );
    };
    if by != person {
        return refuse(
            RefusalKind::Impersonation,
            "a change must be made by the person who sends it",
        );
    }
    Ok(())
}

/// What one operation of a change writes, in the terms of the table.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    // shift
    ShiftEnd,
    Check(Box<document::CheckRecord>),
    // incident
    Content,
    Status(IncidentStatus),
    /// The status is removed so that the same value can be written again as a new operation
    /// (a second approval of an amended report); only together with a new status.
    StatusReplaced,
    SubmittedAt,
    ReviewComment,
    Supplement,
    SupplementAuthor(Uuid),
    // note
    NoteText,
    NoteReaders,
}

/// Where an operation lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The root map.
    Root,
    /// An object kept at this root key (the `checks` list, the narrative text...).
    RootObject(&'static str),
    /// An object this change inserted into the list kept at this root key (a new person or
    /// supplement).
    NewItem(&'static str),
    /// Anything else: the header map, an entry recorded earlier, a nested object.
    Elsewhere,
}

/// The root keys of each kind's body that hold objects.
fn object_keys(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Shift => &["header", "checks"],
        DocKind::Incident => &[
            "header",
            "people",
            "narrative",
            "actions",
            "supplements",
            "photos",
        ],
        DocKind::ContactNote => &["header", "shared_with"],
    }
}

fn same(ex: &ObjId, id: &OpId) -> bool {
    matches!(ex, ObjId::Id(counter, actor, _) if *counter == id.0 && *actor == id.1)
}

/// The objects kept at the body's root keys (every value, conflicts included), looked up once
/// per change rather than once per operation: a narrative edit is one operation per character.
fn root_objects(doc: &Automerge, kind: DocKind) -> Vec<(ObjId, &'static str)> {
    let mut roots = Vec::new();
    for key in object_keys(kind) {
        if let Ok(all) = doc.get_all(ROOT, *key) {
            roots.extend(
                all.into_iter()
                    .filter(|(v, _)| matches!(v, Value::Object(_)))
                    .map(|(_, ex)| (ex, *key)),
            );
        }
    }
    roots
}

struct Ops<'a> {
    roots: &'a [(ObjId, &'static str)],
    kind: DocKind,
    actor: &'a automerge::ActorId,
    start: u64,
    /// Objects this change made, by op counter, and where.
    created: Vec<(u64, Target)>,
}

impl Ops<'_> {
    fn target(&self, obj: &ObjectId) -> Target {
        let ObjectId::Id(id) = obj else {
            return Target::Root;
        };
        if &id.1 == self.actor && id.0 >= self.start {
            return self
                .created
                .iter()
                .find(|(c, _)| *c == id.0)
                .map_or(Target::Elsewhere, |(_, t)| *t);
        }
        self.roots
            .iter()
            .find(|(ex, _)| same(ex, id))
            .map_or(Target::Elsewhere, |(_, key)| Target::RootObject(key))
    }

    /// Maps every operation to the field it writes, refusing any operation the table has no
    /// row for.
    fn classify(mut self, ops: &[automerge::legacy::Op]) -> Result<Vec<Field>, Refusal> {
        let mut fields = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let target = self.target(&op.obj);
            if let OpType::Make(_) = op.action {
                let made = match (target, &op.key) {
                    (Target::Root, Key::Map(k)) => object_keys(self.kind)
                        .iter()
                        .find(|o| **o == k.as_str())
                        .map_or(Target::Elsewhere, |k| Target::RootObject(k)),
                    (Target::RootObject(k), Key::Seq(_)) if op.insert => Target::NewItem(k),
                    _ => Target::Elsewhere,
                };
                self.created.push((self.start + i as u64, made));
            }
            fields.push(field(self.kind, target, op)?);
        }
        Ok(fields)
    }
}

fn str_value(op: &automerge::legacy::Op) -> Option<&str> {
    match &op.action {
        OpType::Put(ScalarValue::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn is_time(op: &automerge::legacy::Op) -> bool {
    matches!(op.action, OpType::Put(ScalarValue::Timestamp(_)))
}

fn field(kind: DocKind, target: Target, op: &automerge::legacy::Op) -> Result<Field, Refusal> {
    let key = match &op.key {
        Key::Map(k) => Some(k.as_str()),
        Key::Seq(_) => None,
    };
    let bad = |what: &str| {
        refuse(
            RefusalKind::ForbiddenField,
            format!("{what} may not be changed this way"),
        )
    };
    match (kind, target, key) {
        (_, Target::Root, Some("header"))
        | (_, Target::RootObject("header") | Target::NewItem("header"), _) => refuse(
            RefusalKind::HeaderChanged,
            "the header is written once, when the record is created",
        ),
        (DocKind::Shift, Target::Root, Some("ended_at")) if is_time(op) => Ok(Field::ShiftEnd),
        (DocKind::Shift, Target::RootObject("checks"), None) => {
            let Some(json) = str_value(op).filter(|_| op.insert) else {
                return refuse(
                    RefusalKind::ForbiddenField,
                    "a recorded check never changes; checks are only added",
                );
            };
            match document::parse_check(json) {
                Ok(c) => Ok(Field::Check(Box::new(c))),
                Err(e) => refuse(RefusalKind::Malformed, format!("a check: {e}")),
            }
        }
        (DocKind::Shift, _, k) => bad(&format!(
            "the shift's {}",
            k.unwrap_or("lists (only checks are added)")
        )),

        (DocKind::Incident, Target::Root, Some(k)) => match k {
            "type" | "location" if str_value(op).is_some() => Ok(Field::Content),
            "occurred_at" if is_time(op) => Ok(Field::Content),
            "status" if matches!(op.action, OpType::Delete) => Ok(Field::StatusReplaced),
            "status" => match str_value(op).map(|s| IncidentStatus::parse(s, "status")) {
                Some(Ok(s)) => Ok(Field::Status(s)),
                _ => refuse(RefusalKind::Malformed, "status is not an incident status"),
            },
            "submitted_at" if is_time(op) => Ok(Field::SubmittedAt),
            "review_comment" if str_value(op).is_some() => Ok(Field::ReviewComment),
            other => bad(&format!("the incident's {other}")),
        },
        (DocKind::Incident, Target::RootObject("narrative" | "actions"), None) => {
            match &op.action {
                OpType::Put(ScalarValue::Str(_)) if op.insert => Ok(Field::Content),
                OpType::Delete => Ok(Field::Content),
                _ => bad("the incident's text"),
            }
        }
        (DocKind::Incident, Target::RootObject("people"), None) => match &op.action {
            OpType::Make(automerge::ObjType::Map) if op.insert => Ok(Field::Content),
            OpType::Delete => Ok(Field::Content),
            _ => bad("the list of people involved"),
        },
        (DocKind::Incident, Target::NewItem("people"), Some(_)) => match op.action {
            OpType::Put(_) => Ok(Field::Content),
            _ => bad("a person involved"),
        },
        (DocKind::Incident, Target::RootObject("photos"), None) => {
            match str_value(op).filter(|_| op.insert) {
                Some(p) if crate::model::is_photo_hash(p) => Ok(Field::Content),
                Some(_) => refuse(
                    RefusalKind::Malformed,
                    "a photo reference must be a SHA-256 hash",
                ),
                None => bad("the incident's photos (they are only added)"),
            }
        }
        (DocKind::Incident, Target::RootObject("supplements"), None) => match &op.action {
            OpType::Make(automerge::ObjType::Map) if op.insert => Ok(Field::Supplement),
            _ => bad("a supplement (they are only added)"),
        },
        (DocKind::Incident, Target::NewItem("supplements"), Some(k)) => match (k, &op.action) {
            ("author", OpType::Put(ScalarValue::Str(s))) => match s.parse() {
                Ok(id) => Ok(Field::SupplementAuthor(id)),
                Err(_) => refuse(RefusalKind::Malformed, "a supplement's author is not an id"),
            },
            ("id" | "at" | "text", OpType::Put(_)) => Ok(Field::Supplement),
            _ => bad("a supplement"),
        },
        (DocKind::Incident, _, k) => bad(&format!(
            "the incident's {}",
            k.unwrap_or("entries recorded earlier")
        )),

        (DocKind::ContactNote, Target::Root, Some(k)) => match k {
            "reason" | "outcome" | "referral" if str_value(op).is_some() => Ok(Field::NoteText),
            "follow_up_on"
                if str_value(op).is_some()
                    || matches!(op.action, OpType::Put(ScalarValue::Null)) =>
            {
                Ok(Field::NoteText)
            }
            other => bad(&format!("the note's {other}")),
        },
        (DocKind::ContactNote, Target::RootObject("shared_with"), None) => match &op.action {
            OpType::Put(ScalarValue::Str(s)) if op.insert && s.parse::<Uuid>().is_ok() => {
                Ok(Field::NoteReaders)
            }
            OpType::Delete => Ok(Field::NoteReaders),
            _ => refuse(RefusalKind::Malformed, "a note is shared with people by id"),
        },
        (DocKind::ContactNote, _, k) => bad(&format!("the note's {}", k.unwrap_or("lists"))),
    }
}

/// The body keys a kind's first change writes at the root (besides `header`).
fn body_keys(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Shift => &["post", "started_at", "ended_at", "checks"],
        DocKind::Incident => &[
            "type",
            "location",
            "occurred_at",
            "reported_at",
            "status",
            "submitted_at",
            "review_comment",
            "people",
            "narrative",
            "actions",
            "supplements",
            "photos",
        ],
        DocKind::ContactNote => &[
            "student_ref",
            "student_name",
            "contact_type",
            "reason",
            "outcome",
            "referral",
            "follow_up_on",
            "shared_with",
            "contacted_at",
        ],
    }
}

fn check_creation(
    doc: &Automerge,
    header: &Header,
    who: Writer<'_>,
    change: &Change,
) -> Result<(), Refusal> {
    if header.author_id != who.viewer.person || header.device_id != who.device {
        return refuse(
            RefusalKind::Impersonation,
            "a new record must be authored by the signed-in person on this device",
        );
    }
    if let Err(why) = may_create(who.viewer, header, who.device) {
        return refuse(RefusalKind::Forbidden, why);
    }
    // The record as this one change leaves it must be in its kind's initial state (read from
    // `doc` when it holds just this change, as it does once the device has applied it, or the
    // server a new record pushed in one change).
    let mut built = None;
    let fresh: &Automerge = if doc.get_heads() == [change.hash()] {
        doc
    } else {
        let mut d = Automerge::new();
        if let Err(e) = d.apply_changes([change.clone()]) {
            return refuse(RefusalKind::Malformed, format!("unreadable: {e}"));
        }
        built.insert(d)
    };
    // Every root key it leaves is the header or a key of the kind's body (read from the state,
    // not by expanding the change's operations: that costs more than the rest of the check).
    if let Some(k) = fresh
        .keys(ROOT)
        .find(|k| k != "header" && !body_keys(header.kind).contains(&k.as_str()))
    {
        return refuse(
            RefusalKind::Malformed,
            format!("a {} has no field {k}", header.kind),
        );
    }
    if let Err(e) = document::check_header(fresh, header) {
        return refuse(RefusalKind::Malformed, e.to_string());
    }
    let initial = match header.kind {
        DocKind::Shift => document::read_shift(fresh)
            .map(|b| b.ended_at.is_none() && b.checks.is_empty())
            .map_err(|e| e.to_string()),
        DocKind::Incident => document::read_incident(fresh)
            .map(|b| {
                b.status == IncidentStatus::Draft
                    && b.submitted_at.is_none()
                    && b.review_comment.is_none()
                    && b.supplements.is_empty()
            })
            .map_err(|e| e.to_string()),
        DocKind::ContactNote => document::read_note(fresh)
            .map(|_| true)
            .map_err(|e| e.to_string()),
    };
    match initial {
        Ok(true) => Ok(()),
        Ok(false) => refuse(
            RefusalKind::WrongState,
            format!("a new {} must start in its initial state", header.kind),
        ),
        Err(e) => refuse(RefusalKind::Malformed, e),
    }
}

fn check_shift(
    doc: &Automerge,
    now: &Now,
    viewer: &Viewer,
    change: &Change,
    fields: &[Field],
) -> Result<(), Refusal> {
    for f in fields {
        if let Field::Check(c) = f {
            if c.recorded_by != viewer.person {
                return refuse(
                    RefusalKind::Impersonation,
                    "a check must be recorded by the person who sends it",
                );
            }
            // The same check, and message, as the body limits (`crate::limits`).
            if let Err(e) = crate::limits::photo_refs("shift.checks[].photos", &c.check.photos) {
                return refuse(RefusalKind::Malformed, e.to_string());
            }
        }
    }
    if !fields.is_empty() && now.ended && ended_at_deps(doc, change) {
        return refuse(RefusalKind::WrongState, "the shift had already ended");
    }
    Ok(())
}

/// Whether an `ended_at` value is a time (a shift has ended).
fn is_ended(v: Option<(Value<'_>, ObjId)>) -> bool {
    matches!(v, Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Timestamp(_)))
}

/// Whether the shift had ended in the state `change` was made on. `ended_at` is only ever set
/// (never cleared: the table allows no `Null`), so when the document as it stands has not
/// ended ([`Now::ended`]), no earlier state had either; only otherwise is the history
/// consulted, which this does.
fn ended_at_deps(doc: &Automerge, change: &Change) -> bool {
    is_ended(doc.get_at(ROOT, "ended_at", change.deps()).ok().flatten())
}

fn check_incident(
    doc: &Automerge,
    header: &Header,
    viewer: &Viewer,
    change: &Change,
    fields: &[Field],
) -> Result<(), Refusal> {
    if fields.is_empty() {
        return Ok(());
    }
    let Some(state) = document::incident_status_at(doc, change.deps()) else {
        return refuse(
            RefusalKind::Malformed,
            "the incident cannot be read at this change's dependencies",
        );
    };
    let editable = matches!(state, IncidentStatus::Draft | IncidentStatus::Returned);
    let status = fields.iter().find_map(|f| match f {
        Field::Status(s) => Some(*s),
        _ => None,
    });
    for f in fields {
        match f {
            Field::Content if !editable => {
                return refuse(
                    RefusalKind::WrongState,
                    format!(
                        "this incident was {state}; only a draft or a returned report is edited (add a supplement instead)"
                    ),
                );
            }
            Field::Status(IncidentStatus::Submitted) if !editable => {
                return refuse(
                    RefusalKind::WrongState,
                    format!("this incident was {state}, not a draft or returned"),
                );
            }
            Field::Status(IncidentStatus::Approved | IncidentStatus::Returned) => {
                if viewer.role != Role::Supervisor {
                    return refuse(
                        RefusalKind::ForbiddenField,
                        "only a supervisor of the school reviews incidents",
                    );
                }
                if header.author_id == viewer.person {
                    return refuse(
                        RefusalKind::ForbiddenField,
                        "nobody reviews their own report",
                    );
                }
                if !matches!(state, IncidentStatus::Submitted | IncidentStatus::Amended) {
                    return refuse(
                        RefusalKind::WrongState,
                        format!("this incident was {state}; only a submitted report is reviewed"),
                    );
                }
            }
            Field::Status(s @ (IncidentStatus::Draft | IncidentStatus::Amended)) => {
                return refuse(
                    RefusalKind::ForbiddenField,
                    format!("nobody sets an incident to {s}"),
                );
            }
            Field::StatusReplaced if status.is_none() => {
                return refuse(
                    RefusalKind::ForbiddenField,
                    "an incident's status is replaced, never removed",
                );
            }
            Field::SubmittedAt if status != Some(IncidentStatus::Submitted) => {
                return refuse(
                    RefusalKind::ForbiddenField,
                    "the submission time is set only by submitting",
                );
            }
            Field::ReviewComment
                if !matches!(
                    status,
                    Some(IncidentStatus::Approved | IncidentStatus::Returned)
                ) =>
            {
                return refuse(
                    RefusalKind::ForbiddenField,
                    "the review comment is written only by a review",
                );
            }
            Field::Supplement if state == IncidentStatus::Draft => {
                return refuse(
                    RefusalKind::WrongState,
                    "a draft is edited, not supplemented",
                );
            }
            Field::SupplementAuthor(a) if *a != viewer.person => {
                return refuse(
                    RefusalKind::Impersonation,
                    "a supplement must be written by the person who sends it",
                );
            }
            Field::SupplementAuthor(_) if state == IncidentStatus::Draft => {
                return refuse(
                    RefusalKind::WrongState,
                    "a draft is edited, not supplemented",
                );
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Header;
    use crate::model::Classification;
    use chrono::TimeZone;

    const ME: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);
    const MINE: Uuid = Uuid::from_u128(10);
    const THEIRS: Uuid = Uuid::from_u128(11);

    fn header(kind: DocKind, school: Uuid, author: Uuid) -> Header {
        Header {
            id: Uuid::from_u128(99),
            kind,
            school_id: school,
            author_id: author,
            device_id: Uuid::from_u128(7),
            created_at: chrono::Utc
                .timestamp_millis_opt(0)
                .single()
                .unwrap_or_default(),
            classification: match kind {
                DocKind::Shift => Classification::Internal,
                DocKind::Incident => Classification::Confidential,
                DocKind::ContactNote => Classification::RestrictedLawEnforcement,
            },
        }
    }

    fn viewer(role: Role) -> Viewer {
        Viewer {
            person: ME,
            role,
            schools: vec![MINE],
        }
    }

    #[test]
    fn the_design_table_row_by_row() {
        use DocKind::*;
        use Role::*;
        // (role, kind, school, author, shared with me, may read)
        let cases = [
            (Guard, Shift, MINE, ME, false, true),
            (Guard, Shift, MINE, OTHER, false, false),
            (Sro, Shift, MINE, OTHER, false, false),
            (Supervisor, Shift, MINE, OTHER, false, true),
            (Supervisor, Shift, THEIRS, OTHER, false, false),
            (Admin, Shift, THEIRS, OTHER, false, true),
            (Guard, Incident, MINE, OTHER, false, true),
            (Guard, Incident, THEIRS, OTHER, false, false),
            (Sro, Incident, MINE, OTHER, false, true),
            (Sro, Incident, THEIRS, ME, false, false),
            (Supervisor, Incident, THEIRS, OTHER, false, false),
            (Admin, Incident, THEIRS, OTHER, false, true),
            (Guard, ContactNote, MINE, OTHER, true, false),
            (Sro, ContactNote, MINE, ME, false, true),
            (Sro, ContactNote, MINE, OTHER, false, false),
            (Sro, ContactNote, THEIRS, OTHER, true, true),
            (Supervisor, ContactNote, MINE, OTHER, false, false),
            (Supervisor, ContactNote, MINE, OTHER, true, true),
            (Admin, ContactNote, MINE, OTHER, false, false),
            (Admin, ContactNote, MINE, OTHER, true, false),
        ];
        for (role, kind, school, author, shared, want) in cases {
            let h = header(kind, school, author);
            let mut readers = vec![author];
            if shared {
                readers.push(ME);
            }
            assert_eq!(
                may_read(&viewer(role), &h, &readers),
                want,
                "{role} reading a {kind} at {school} by {author} (shared: {shared})"
            );
        }
    }

    #[test]
    fn creating_needs_own_authorship_own_device_own_school_and_the_right_role() {
        let dev = Uuid::from_u128(7);
        let ok = header(DocKind::Incident, MINE, ME);
        assert!(may_create(&viewer(Role::Sro), &ok, dev).is_ok());
        assert!(
            may_create(
                &viewer(Role::Sro),
                &header(DocKind::Incident, MINE, OTHER),
                dev
            )
            .is_err()
        );
        assert!(
            may_create(
                &viewer(Role::Sro),
                &header(DocKind::Incident, THEIRS, ME),
                dev
            )
            .is_err()
        );
        assert!(may_create(&viewer(Role::Sro), &ok, Uuid::from_u128(8)).is_err());
        assert!(
            may_create(
                &viewer(Role::Guard),
                &header(DocKind::ContactNote, MINE, ME),
                dev
            )
            .is_err()
        );
        assert!(may_create(&viewer(Role::Admin), &ok, dev).is_err());
        let mut wrong_class = ok.clone();
        wrong_class.classification = Classification::Internal;
        assert!(may_create(&viewer(Role::Sro), &wrong_class, dev).is_err());
    }
}
