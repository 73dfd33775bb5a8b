//! Sync: push, pull and fetch (see `rounds_protocol` for the exchange).
//!
//! Every decision about a document is made from its header (and, for contact notes, its
//! readers) before its changes are loaded or sent. A push is processed document by document:
//! refused documents are reported and the rest still commit, so one bad record never blocks a
//! guard's whole shift from reaching the district.
//!
//! Limits (`rounds_domain::limits`, listed in `docs/sync.md`): [`parse`] checks every change as
//! sent (size compressed and inflated, operations, predecessors, operations per push) before
//! automerge parses it, and refuses the whole request with 413 on a breach; a document whose
//! history would pass its cap, or whose body after the merge has a field past its cap or a
//! photo reference that is not a hash ([`project`]), is refused alone, with kind `invalid`.
//!
//! **Why one file:** the three halves of the exchange (push, pull, fetch) share the decoding,
//! the limits, the causal ordering and the projection of a merged document; kept together so a
//! reader follows a change from the wire to the feed.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use automerge::{Automerge, Change, ChangeHash};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rounds_domain::document::{self, Header};
use rounds_domain::limits::{self, LimitError};
use rounds_domain::model::DocKind;
use rounds_domain::rules::{self, RefusalKind};
use rounds_domain::wire;
use rounds_protocol::{
    DecodeError, DocChanges, FetchRequest, FetchResponse, PullResponse, PushRequest, PushResponse,
    RejectKind, Rejection, SavedDoc,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::access::{self, Viewer};
use crate::auth::DeviceSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Query};
use crate::storage::{
    CheckRow, Commit, CommitOutcome, Projection, SigningKeyRecord, Storage, StoredDoc,
    StoredSignature,
};

/// Documents a fetch loads from storage at a time.
const FETCH_BATCH: usize = 64;

/// Most documents in one push or fetch request.
pub const MAX_DOCS_PER_REQUEST: usize = 2_000;

pub(crate) fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> ApiResult<T> {
    rounds_protocol::decode(b).map_err(|e| match e {
        DecodeError::TooLarge(_) => ApiError::TooLarge,
        e => ApiError::BadRequest(e.to_string()),
    })
}

pub(crate) fn binary(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-rounds")], bytes).into_response()
}

/// `POST /v1/sync/push`.
pub async fn push(
    State(state): State<AppState>,
    session: DeviceSession,
    Body(b): Body,
) -> ApiResult<Response> {
    let req: PushRequest = decode(&b)?;
    if req.docs.len() > MAX_DOCS_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_DOCS_PER_REQUEST} documents per push"
        )));
    }
    let push = parse(req)?;
    let storage = state.storage.clone();
    let now = state.now();
    let resp = tokio::task::spawn_blocking(move || {
        // The keys recorded for this device: one read per push.
        let keys = storage.signing_keys(session.device_id)?;
        process_push(storage.as_ref(), &session, push, &keys, now)
    })
    .await??;
    Ok(binary(rounds_protocol::encode(&resp)))
}

/// A push, parsed once.
#[derive(Debug, Default)]
pub struct ParsedPush {
    /// Each document's header and changes.
    pub docs: Vec<(Header, Vec<Change>)>,
    /// The signatures, by document.
    pub signatures: HashMap<Uuid, Vec<PushedSignature>>,
}

impl ParsedPush {
    /// A push of these documents without signatures.
    pub fn unsigned(docs: Vec<(Header, Vec<Change>)>) -> ParsedPush {
        ParsedPush {
            docs,
            signatures: HashMap::new(),
        }
    }
}

/// A signature as a push carries it, its sizes checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedSignature {
    /// The signed change's hash.
    pub change: [u8; 32],
    /// The signer.
    pub person: Uuid,
    /// Their key.
    pub key: rounds_domain::signing::PublicKey,
    /// The signature.
    pub signature: Vec<u8>,
}

/// Most signatures a push may carry for one document: one per person who changed it on the
/// device is what an honest device sends.
pub const MAX_SIGNATURES_PER_DOC: usize = 16;

/// Parses a push. Malformed input (unknown codes in a header, bytes that are not automerge
/// changes) is a client bug: the whole request is refused with 400 before anything is stored.
/// A change over a limit (its size as sent or inflated, its operations or predecessors, or the
/// push's operations in all) refuses the whole request with 413, also before anything is
/// stored: no honest device makes such a change (see `rounds_domain::limits`).
pub fn parse(req: PushRequest) -> ApiResult<ParsedPush> {
    let signatures = parse_signatures(&req)?;
    let mut out = Vec::with_capacity(req.docs.len());
    let mut ops = 0u64;
    for (i, d) in req.docs.into_iter().enumerate() {
        let header = wire::header_from_wire(&d.header)
            .map_err(|e| ApiError::BadRequest(format!("docs[{i}]: {e}")))?;
        if d.changes.is_empty() {
            return Err(ApiError::BadRequest(format!("docs[{i}]: no changes")));
        }
        let mut changes = Vec::with_capacity(d.changes.len());
        for (j, c) in d.changes.into_iter().enumerate() {
            let change = limits::parse_change(&format!("docs[{i}].changes[{j}]"), c.into_vec())
                .map_err(limit_error)?;
            ops += change.len() as u64;
            if ops > limits::MAX_OPS_PER_PUSH {
                return Err(ApiError::OverLimit(format!(
                    "the push holds more than {} operations; push fewer changes at once",
                    limits::MAX_OPS_PER_PUSH
                )));
            }
            changes.push(change);
        }
        out.push((header, changes));
    }
    Ok(ParsedPush {
        docs: out,
        signatures,
    })
}

/// A push's signatures by document: each for a document of the push, with a 32-byte key and
/// a 64-byte signature, at most [`MAX_SIGNATURES_PER_DOC`] a document (400 otherwise; whether
/// they verify is judged per document).
fn parse_signatures(req: &PushRequest) -> ApiResult<HashMap<Uuid, Vec<PushedSignature>>> {
    let docs: HashSet<Uuid> = req.docs.iter().map(|d| d.header.id).collect();
    let mut out: HashMap<Uuid, Vec<PushedSignature>> = HashMap::new();
    for (i, sig) in req.signatures.iter().enumerate() {
        let bad = |why: &str| ApiError::BadRequest(format!("signatures[{i}]: {why}"));
        if !docs.contains(&sig.doc) {
            return Err(bad("for a document the push does not carry"));
        }
        let key: rounds_domain::signing::PublicKey = sig
            .key
            .as_slice()
            .try_into()
            .map_err(|_| bad("a key is 32 bytes"))?;
        if sig.signature.len() != 64 {
            return Err(bad("a signature is 64 bytes"));
        }
        let list = out.entry(sig.doc).or_default();
        if list.len() == MAX_SIGNATURES_PER_DOC {
            return Err(bad(&format!(
                "at most {MAX_SIGNATURES_PER_DOC} signatures a document"
            )));
        }
        list.push(PushedSignature {
            change: sig.change,
            person: sig.person,
            key,
            signature: sig.signature.to_vec(),
        });
    }
    Ok(out)
}

/// A limit breach of a whole request: 413 for a size, 400 for bytes that are not a change.
fn limit_error(e: LimitError) -> ApiError {
    if e.is_size() {
        ApiError::OverLimit(e.to_string())
    } else {
        ApiError::BadRequest(e.to_string())
    }
}

/// Refuses a document whose history, `stored` and `new` changes together, would pass the
/// caps on one document's bytes or operations (`rounds_domain::limits::history`). Operations are
/// counted from the changes' column headers, so this costs a scan of the bytes, not a parse.
fn check_history(
    header: &Header,
    stored: Option<&StoredDoc>,
    new: &[([u8; 32], Vec<u8>)],
) -> Result<(), LimitError> {
    let (mut bytes, mut ops) = match stored {
        Some(s) => s.history_size()?,
        None => (0, 0),
    };
    for b in new.iter().map(|(_, b)| b) {
        bytes += b.len() as u64;
        ops += limits::change_ops("change", b)?.ops;
    }
    limits::history(header.kind.code(), bytes, ops)
}

/// Applies a push received at `now`; pure of HTTP so tests and benchmarks can call it.
///
/// Every document is checked and applied in memory first; the documents that pass are then
/// committed together in one storage transaction (one durable write for the whole push).
/// Documents that lost a race with another commit are reloaded and tried again.
///
/// `keys` are the signing keys recorded for the session's device (revoked ones included:
/// their signatures are refused with [`RejectKind::UnknownKey`]).
pub fn process_push(
    storage: &dyn Storage,
    session: &DeviceSession,
    push: ParsedPush,
    keys: &[SigningKeyRecord],
    now: DateTime<Utc>,
) -> ApiResult<PushResponse> {
    let ParsedPush { docs, signatures } = push;
    let viewer = session.viewer();
    let carried = carried_people(storage, session, keys)?;
    let mut resp = PushResponse::default();
    // What each document's push brought, for the audit trail (as sent: the changes already
    // stored are part of what the device pushed).
    let pushed: HashMap<Uuid, crate::audit::Pushed> = docs
        .iter()
        .map(|(h, c)| (h.id, crate::audit::Pushed::of(c)))
        .collect();
    let mut todo: Vec<(Header, Vec<Change>, Vec<[u8; 32]>)> = docs
        .into_iter()
        .map(|(h, c)| {
            let hashes = c.iter().map(|c| c.hash().0).collect();
            (h, c, hashes)
        })
        .collect();
    // Optimistic concurrency: reload and retry the documents another commit got to first.
    for _ in 0..16 {
        let mut commits = Vec::new();
        let mut waiting = Vec::new();
        let ids: Vec<Uuid> = todo.iter().map(|(h, _, _)| h.id).collect();
        let stored = storage.documents(&ids)?;
        for ((header, changes, hashes), stored) in todo.into_iter().zip(stored) {
            let signed = Signed {
                signatures: signatures.get(&header.id).map_or(&[][..], Vec::as_slice),
                keys,
                device: session.device_id,
                only: carried.is_empty().then_some(session.person.id),
            };
            let writer = rules::Writer {
                viewer: &viewer,
                carried: &carried,
                device: session.device_id,
            };
            match prepare(stored, writer, &header, changes, hashes, &signed, now)? {
                Prepared::Done(hashes) => resp.committed.extend(hashes),
                Prepared::Refused(kind, message) => {
                    tracing::info!(doc = %header.id, ?kind, %message, person = %viewer.person, "push refused");
                    resp.rejected.push(Rejection {
                        doc: header.id,
                        kind,
                        message,
                    });
                }
                Prepared::Commit(commit, hashes) => {
                    commits.push(*commit);
                    waiting.push((header, hashes));
                }
            }
        }
        if commits.is_empty() {
            return Ok(resp);
        }
        todo = Vec::new();
        // The push's audit entry (which documents and changes, from whom), in the commit's
        // own transaction.
        let outcomes = storage.commit_all_audited(&commits, &|outcomes| {
            let docs: Vec<(Uuid, crate::audit::Pushed)> = commits
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| **o == CommitOutcome::Committed)
                .filter_map(|(cm, _)| Some((cm.header.id, pushed.get(&cm.header.id)?.clone())))
                .collect();
            (!docs.is_empty()).then(|| {
                crate::audit::NewEntry::push(now, session.person.id, Some(session.device_id), &docs)
            })
        })?;
        for (((header, hashes), outcome), commit) in waiting.into_iter().zip(outcomes).zip(commits)
        {
            match outcome {
                CommitOutcome::Committed => resp.committed.extend(hashes),
                CommitOutcome::Stale => {
                    // Try again with the changes that were new then (the others are stored).
                    let again = commit
                        .changes
                        .into_iter()
                        .map(|(_, b)| {
                            Change::from_bytes(b).map_err(|e| ApiError::Internal(e.to_string()))
                        })
                        .collect::<ApiResult<Vec<_>>>()?;
                    todo.push((header, again, hashes));
                }
            }
        }
        if todo.is_empty() {
            return Ok(resp);
        }
    }
    Err(ApiError::Conflict(
        "the record is being changed by many devices at once; try again".into(),
    ))
}

/// The people besides the session's whose waiting changes this device's push may carry:
/// everyone else with an unrevoked signing key on the device who is still active (a shared
/// phone). Their changes are judged as theirs, and accepted only with their signature
/// ([`Signed::judge`]). Nobody on a phone one person uses, at no cost.
fn carried_people(
    storage: &dyn Storage,
    session: &DeviceSession,
    keys: &[SigningKeyRecord],
) -> ApiResult<Vec<Viewer>> {
    let others: BTreeSet<Uuid> = keys
        .iter()
        .filter(|k| k.revoked_at.is_none() && k.person_id != session.person.id)
        .map(|k| k.person_id)
        .collect();
    let mut carried = Vec::new();
    for id in others {
        if let Some(p) = storage.person(id)?.filter(|p| p.active) {
            carried.push(crate::auth::viewer(&p));
        }
    }
    Ok(carried)
}

/// What to do with one pushed document.
enum Prepared {
    /// Everything was already stored: these hashes are committed.
    Done(Vec<[u8; 32]>),
    /// Refused, and why.
    Refused(RejectKind, String),
    /// Commit this; then these hashes are committed.
    Commit(Box<Commit>, Vec<[u8; 32]>),
}

/// A document's signatures in a push, and the keys to judge them by.
struct Signed<'a> {
    signatures: &'a [PushedSignature],
    keys: &'a [SigningKeyRecord],
    device: Uuid,
    /// The one person every new change names, when the push carries nobody else's work (the
    /// rules have checked it).
    only: Option<Uuid>,
}

impl Signed<'_> {
    /// Verifies the signatures over `new` (the document's changes new to the server) and
    /// checks that they cover every one of them (`rounds_domain::signing::uncovered`): the
    /// verified signatures to store, or the refusal. A signature over a change the server
    /// already holds, or not in the push, is ignored (it covers nothing new).
    fn judge(
        &self,
        doc: Uuid,
        new: &[Change],
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredSignature>, (RejectKind, String)> {
        let pushed: HashSet<[u8; 32]> = new.iter().map(|c| c.hash().0).collect();
        let mut verified = Vec::new();
        let mut covering = Vec::new();
        for sig in self
            .signatures
            .iter()
            .filter(|s| pushed.contains(&s.change))
        {
            let known = self
                .keys
                .iter()
                .find(|k| k.public_key == sig.key && k.person_id == sig.person);
            // `keys` are the pushing device's, so a key found is this person's on it.
            match known {
                Some(k) if k.revoked_at.is_none() => {}
                Some(_) => {
                    return Err((RejectKind::UnknownKey, "the signing key was revoked".into()));
                }
                None => {
                    return Err((
                        RejectKind::UnknownKey,
                        "the signing key is not recorded for this person on this device; sign in again".into(),
                    ));
                }
            }
            if rounds_domain::signing::verify_change(
                &sig.key,
                doc,
                sig.person,
                &sig.change,
                &sig.signature,
            )
            .is_err()
            {
                return Err((
                    RejectKind::BadSignature,
                    "a signature does not verify".into(),
                ));
            }
            covering.push((sig.change, sig.person));
            verified.push(StoredSignature {
                doc_id: doc,
                change: sig.change,
                person_id: sig.person,
                device_id: self.device,
                public_key: sig.key,
                signature: sig.signature.clone(),
                received_at: now,
            });
        }
        // The rules have refused any change that names someone other than the session's
        // person, unless this push carries others' work: then each change's maker is read.
        let uncovered = match self.only {
            Some(person) => rounds_domain::signing::uncovered_by(new, &covering, |_| Some(person)),
            None => rounds_domain::signing::uncovered(new, &covering),
        };
        if let Some(c) = uncovered {
            return Err((
                RejectKind::Unsigned,
                format!(
                    "change {} is not signed by the person who made it",
                    hex::encode(&c.hash().0[..6])
                ),
            ));
        }
        Ok(verified)
    }
}

/// Judges one pushed document against `stored`, the server's copy (loaded for the whole push
/// at once).
#[allow(clippy::too_many_arguments)]
fn prepare(
    stored: Option<StoredDoc>,
    writer: rules::Writer<'_>,
    header: &Header,
    changes: Vec<Change>,
    hashes: Vec<[u8; 32]>,
    signed: &Signed<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Prepared> {
    let refuse = |kind, message: &str| Ok(Prepared::Refused(kind, message.to_string()));
    let (mut am, expected_version) = match &stored {
        Some(s) => {
            if s.header != *header {
                return refuse(
                    RejectKind::HeaderChanged,
                    "the header differs from the stored one",
                );
            }
            // A first, coarse check; each change is judged as its own writer below.
            let may = |v: &Viewer| rules::may_write(v, &s.header);
            if !(may(writer.viewer) || writer.carried.iter().any(may)) {
                return refuse(RejectKind::Forbidden, "you may not change this record");
            }
            (
                s.to_automerge().map_err(ApiError::Internal)?,
                Some(s.version),
            )
        }
        None => {
            // Created by its author: the session's person or someone whose work it carries.
            let author = writer
                .carried
                .iter()
                .find(|v| v.person == header.author_id)
                .unwrap_or(writer.viewer);
            if let Err(why) = access::may_create(author, header, writer.device) {
                return refuse(RejectKind::Forbidden, why);
            }
            (Automerge::new(), None)
        }
    };
    // New to the server, and each once even if the request lists it twice: nothing but this
    // filter keeps the change feed free of duplicates.
    let mut seen = std::collections::HashSet::new();
    let new: Vec<Change> = changes
        .into_iter()
        .filter(|c| am.get_change_meta_by_hash(&c.hash()).is_none() && seen.insert(c.hash()))
        .collect();
    if new.is_empty() {
        return Ok(Prepared::Done(hashes));
    }
    // Causal order (dependencies first): the order they are judged and stored in.
    let Some(new) = causal_order(new, |d| am.get_change_meta_by_hash(d).is_some()) else {
        return refuse(
            RejectKind::MissingDependencies,
            "the changes depend on changes the server does not have",
        );
    };
    let new_bytes: Vec<([u8; 32], Vec<u8>)> = new
        .iter()
        .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
        .collect();
    if let Err(e) = check_history(header, stored.as_ref(), &new_bytes) {
        return refuse(RejectKind::Invalid, &e.to_string());
    }
    // Every change is judged against the rules on the state it was made on, in causal order;
    // one refused change refuses the document's whole push (nothing of it is stored: the later
    // changes of that device build on it). The changes are applied in one call first (the
    // rules read the state at each change's dependencies, which later changes do not alter);
    // a refusal discards this in-memory document whole.
    if let Err(r) = rules::apply_and_check(&mut am, header, writer, &new) {
        return Ok(Prepared::Refused(reject_kind(r.kind), r.message));
    }
    // Who made each change, proven: after the rules (which already refuse a change that
    // names anyone but the session's person or someone signed in on this device), so a
    // forged change is refused for what it does, and an honest one only when its signature
    // is missing or wrong.
    let signatures = match signed.judge(header.id, &new, now) {
        Ok(s) => s,
        Err((kind, message)) => return Ok(Prepared::Refused(kind, message)),
    };
    if let Err(e) = document::check_header(&am, header) {
        return refuse(RejectKind::HeaderChanged, &e.to_string());
    }
    let projection = match project(header, &am) {
        Ok(p) => p,
        Err(e) => return refuse(RejectKind::Invalid, &e.to_string()),
    };
    Ok(Prepared::Commit(
        Box::new(Commit {
            header: header.clone(),
            expected_version,
            changes: new_bytes,
            projection,
            at: now,
            signatures,
        }),
        hashes,
    ))
}

/// `new` in causal order (each after the changes among `new` it depends on, otherwise in the
/// order given), or `None` when one depends on a change neither in `new` nor `known`.
fn causal_order(new: Vec<Change>, known: impl Fn(&ChangeHash) -> bool) -> Option<Vec<Change>> {
    let index: HashMap<ChangeHash, usize> =
        new.iter().enumerate().map(|(i, c)| (c.hash(), i)).collect();
    let mut blocking = vec![0usize; new.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); new.len()];
    for (i, c) in new.iter().enumerate() {
        for d in c.deps() {
            match index.get(d) {
                Some(&j) => {
                    blocking[i] += 1;
                    dependents[j].push(i);
                }
                None if known(d) => {}
                None => return None,
            }
        }
    }
    // Ready changes leave in the order sent (a min-heap of indexes).
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..new.len())
        .filter(|&i| blocking[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(new.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &k in &dependents[i] {
            blocking[k] -= 1;
            if blocking[k] == 0 {
                ready.push(std::cmp::Reverse(k));
            }
        }
    }
    if order.len() < new.len() {
        return None;
    }
    let mut slots: Vec<Option<Change>> = new.into_iter().map(Some).collect();
    Some(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// What follows `heads` in a document's stored `changes`: every change that is not one of the
/// heads or an ancestor of one, in causal order (dependencies first), so that any prefix of it
/// is causally closed and a device can store it as it comes. Heads the document does not hold
/// are ignored (the device then gets everything). Reads only the changes' hashes and
/// dependencies: nothing is applied, so this costs the same for a 2 MB narrative as for a
/// check. `None` if a stored change depends on one that is not stored.
fn lacking(changes: Vec<Change>, heads: &[ChangeHash]) -> Option<Vec<Change>> {
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash(), i))
        .collect();
    let mut held = vec![false; changes.len()];
    let mut todo: Vec<usize> = heads.iter().filter_map(|h| index.get(h).copied()).collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut held[i], true) {
            continue;
        }
        todo.extend(
            changes[i]
                .deps()
                .iter()
                .filter_map(|d| index.get(d).copied()),
        );
    }
    let rest: Vec<Change> = changes
        .into_iter()
        .zip(held)
        .filter_map(|(c, held)| (!held).then_some(c))
        .collect();
    // Every dependency outside `rest` is held by the device (an ancestor of its heads).
    causal_order(rest, |d| index.contains_key(d))
}

/// Documents with fewer changes than this, never compacted, are fetched as changes: saving
/// them would cost the server more than applying them costs the phone.
const SAVE_ON_FETCH: usize = 32;

/// `stored` whole as a saved document, or `None` when its changes are the better answer.
fn saved_form(stored: &StoredDoc) -> ApiResult<Option<SavedDoc>> {
    let header = wire::header_to_wire(&stored.header);
    let tail = || {
        stored
            .changes
            .iter()
            .map(|c| serde_bytes::ByteBuf::from(c.clone()))
            .collect()
    };
    Ok(match &stored.saved {
        Some(s) => Some(SavedDoc {
            header,
            bytes: serde_bytes::ByteBuf::from(s.bytes.clone()),
            changes: tail(),
        }),
        None if stored.changes.len() >= SAVE_ON_FETCH => {
            let am = stored.to_automerge().map_err(ApiError::Internal)?;
            Some(SavedDoc {
                header,
                bytes: serde_bytes::ByteBuf::from(am.save()),
                changes: Vec::new(),
            })
        }
        None => None,
    })
}

/// The rejection kind a push reports for a refused change.
fn reject_kind(k: RefusalKind) -> RejectKind {
    match k {
        RefusalKind::Forbidden => RejectKind::Forbidden,
        RefusalKind::ForbiddenField => RejectKind::ForbiddenField,
        RefusalKind::WrongState => RejectKind::WrongState,
        RefusalKind::Impersonation => RejectKind::Impersonation,
        RefusalKind::HeaderChanged => RejectKind::HeaderChanged,
        RefusalKind::Malformed => RejectKind::Invalid,
    }
}

/// The server's projection of a document. Also validates that its body reads as its kind and
/// is within the body limits (`rounds_domain::limits`: text and list lengths, photo references
/// that are hashes), as it reads after the merge.
pub fn project(h: &Header, am: &Automerge) -> rounds_domain::Result<Projection> {
    Ok(match h.kind {
        DocKind::Shift => {
            let b = document::read_shift(am)?;
            limits::shift(&b)?;
            Projection::Shift {
                post_id: b.post_id,
                started_at: b.started_at,
                ended_at: b.ended_at,
                checks: b
                    .checks
                    .into_iter()
                    .map(|c| CheckRow {
                        id: c.check.id,
                        checkpoint_id: c.check.checkpoint_id,
                        result: c.check.result,
                        note: c.check.note,
                        at: c.check.at,
                    })
                    .collect(),
            }
        }
        DocKind::Incident => {
            let b = document::read_incident(am)?;
            limits::incident(&b)?;
            Projection::Incident {
                incident_type: b.incident_type,
                status: b.status,
                location: b.location,
                occurred_at: b.occurred_at,
                submitted_at: b.submitted_at,
            }
        }
        DocKind::ContactNote => {
            let b = document::read_note(am)?;
            limits::note(&b)?;
            let mut readers = vec![h.author_id];
            readers.extend(b.shared_with);
            Projection::Note { readers }
        }
    })
}

/// Query of `GET /v1/sync/pull`.
#[derive(Debug, Deserialize)]
pub struct PullQuery {
    /// The device's cursor.
    #[serde(default)]
    pub after: u64,
    /// The reference-data version the device holds.
    #[serde(default, rename = "ref")]
    pub reference: u64,
    /// Page size in bytes (default and maximum: `PAGE_BYTES`).
    pub max: Option<u64>,
    /// A snapshot pull: the device started this pull empty, so every document of the page is
    /// listed to fetch (as saved documents) rather than sent change by change.
    #[serde(default)]
    pub whole: bool,
}

/// `GET /v1/sync/pull?after=&ref=&max=`.
pub async fn pull(
    State(state): State<AppState>,
    session: DeviceSession,
    Query(q): Query<PullQuery>,
) -> ApiResult<Response> {
    let max = match q.max {
        None => rounds_protocol::PAGE_BYTES as usize,
        Some(m) if (1024..=u64::from(rounds_protocol::PAGE_BYTES)).contains(&m) => m as usize,
        Some(m) => {
            return Err(ApiError::BadRequest(format!(
                "max={m}: the page size must be between 1024 and {} bytes",
                rounds_protocol::PAGE_BYTES
            )));
        }
    };
    let storage = state.storage.clone();
    let now = state.now();
    let resp = tokio::task::spawn_blocking(move || -> ApiResult<Option<PullResponse>> {
        let viewer = session.viewer();
        // A cursor comes from an earlier answer, so it is never past the feed's end: one that
        // is (a made-up number, or 2^63 and up, which would wrap in SQL) is refused, not read
        // as another position.
        let end = storage.max_seq()?;
        if q.after > end {
            return Err(ApiError::BadRequest(format!(
                "after={}: the cursor is past the end of the change feed ({end})",
                q.after
            )));
        }
        let page = storage.feed(&viewer, q.after, max)?;
        let version = storage.reference_version()?;
        if page.items.is_empty() && page.cursor == q.after && version == q.reference {
            return Ok(None);
        }
        let reference = if version != q.reference {
            let data = storage.reference_for(&viewer)?;
            Some(serde_bytes::ByteBuf::from(
                serde_json::to_vec(&data).map_err(|e| ApiError::Internal(e.to_string()))?,
            ))
        } else {
            None
        };
        let mut docs: Vec<DocChanges> = Vec::new();
        let mut refetch: Vec<Uuid> = Vec::new();
        let mut refetching: HashSet<Uuid> = HashSet::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        // A device that starts empty (a snapshot pull, or the feed's start) fetches the
        // documents with long histories in the page as saved documents rather than change by
        // change (short ones come inline: a fetch would cost more than it saves); a compacted
        // document's folded changes are fetched by heads (the feed no longer holds them).
        let whole = q.whole || q.after == 0;
        let mut in_page: HashMap<Uuid, usize> = HashMap::new();
        if whole {
            for item in &page.items {
                *in_page.entry(item.header.id).or_default() += 1;
            }
        }
        for item in page.items {
            let long = whole && in_page.get(&item.header.id).copied().unwrap_or(0) >= SAVE_ON_FETCH;
            let bytes = match item.bytes {
                Some(b) if !long => b,
                _ => {
                    if refetching.insert(item.header.id) {
                        refetch.push(item.header.id);
                    }
                    continue;
                }
            };
            let i = *index.entry(item.header.id).or_insert_with(|| {
                docs.push(DocChanges {
                    header: wire::header_to_wire(&item.header),
                    changes: Vec::new(),
                });
                docs.len() - 1
            });
            docs[i].changes.push(serde_bytes::ByteBuf::from(bytes));
        }
        // A document fetched whole needs none of its changes inline.
        docs.retain(|d| !refetching.contains(&d.header.id));
        record_delivery(
            storage.as_ref(),
            &session,
            now,
            "pull",
            docs.iter().map(|d| &d.header),
        )?;
        Ok(Some(PullResponse {
            docs,
            refetch,
            cursor: page.cursor,
            more: page.more,
            reference,
            reference_version: version,
        }))
    })
    .await??;
    Ok(match resp {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(r) => binary(rounds_protocol::encode(&r)),
    })
}

/// Records in the audit trail that the incidents and contact notes among `sent` are going to
/// `session`'s device (before the answer leaves: no answer goes unrecorded). Shifts are not
/// recorded: they are a guard's own rounds, not records about people.
fn record_delivery<'a>(
    storage: &dyn Storage,
    session: &DeviceSession,
    now: DateTime<Utc>,
    via: &str,
    sent: impl Iterator<Item = &'a rounds_protocol::WireHeader>,
) -> ApiResult<()> {
    let docs: Vec<Uuid> = sent
        .filter(|h| h.kind == DocKind::Incident.code() || h.kind == DocKind::ContactNote.code())
        .map(|h| h.id)
        .collect();
    if !docs.is_empty() {
        storage.append_audit(&[crate::audit::NewEntry::delivered(
            now,
            session.person.id,
            Some(session.device_id),
            via,
            &docs,
        )])?;
    }
    Ok(())
}

/// `POST /v1/sync/fetch`: whole documents, or what follows the given heads, in answers of at
/// most [`rounds_protocol::PAGE_BYTES`] of changes (or the state's smaller page, see
/// [`AppState::with_fetch_page_bytes`]; see [`fetch_page`]).
pub async fn fetch(
    State(state): State<AppState>,
    session: DeviceSession,
    Body(b): Body,
) -> ApiResult<Response> {
    let req: FetchRequest = decode(&b)?;
    if req.docs.len() > MAX_DOCS_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_DOCS_PER_REQUEST} documents per fetch"
        )));
    }
    let storage = state.storage.clone();
    let page = state.fetch_page_bytes();
    let now = state.now();
    let resp = tokio::task::spawn_blocking(move || -> ApiResult<FetchResponse> {
        let resp = fetch_page(storage.as_ref(), &session.viewer(), req, page)?;
        record_delivery(
            storage.as_ref(),
            &session,
            now,
            "fetch",
            resp.docs
                .iter()
                .map(|d| &d.header)
                .chain(resp.saved.iter().map(|d| &d.header)),
        )?;
        Ok(resp)
    })
    .await??;
    if resp.docs.is_empty() && resp.saved.is_empty() && resp.deferred.is_empty() {
        // Unknown and invisible documents look the same.
        return Err(ApiError::NotFound(
            "none of the requested records is available to you".into(),
        ));
    }
    Ok(binary(rounds_protocol::encode(&resp)))
}

/// One fetch answer: the documents asked for, in order, while their changes fit in
/// `max_bytes`. The document that does not fit whole contributes a causally ordered prefix of
/// its changes and is listed as partial (the first document of an answer always contributes at
/// least one change, so a document larger than an answer still moves); the documents after it
/// are listed as deferred without being loaded. Unknown and invisible documents are listed as
/// unavailable, so the device never has to guess why one is missing.
pub fn fetch_page(
    storage: &dyn Storage,
    viewer: &Viewer,
    req: FetchRequest,
    max_bytes: usize,
) -> ApiResult<FetchResponse> {
    let mut out = FetchResponse::default();
    let mut size = 0usize;
    let mut full = false;
    let ids: Vec<Uuid> = req.docs.iter().map(|(id, _)| *id).collect();
    let headers = storage.headers(&ids)?;
    // The documents are loaded a batch at a time, as the answer fills: never more than one
    // batch past the answer's end.
    let mut loaded: std::collections::VecDeque<Option<StoredDoc>> = Default::default();
    let visible: Vec<Uuid> = req
        .docs
        .iter()
        .zip(&headers)
        .filter(|(_, h)| {
            h.as_ref()
                .is_some_and(|(header, readers)| access::may_read(viewer, header, readers))
        })
        .map(|((id, _), _)| *id)
        .collect();
    let mut next_to_load = 0usize;
    for ((id, heads), found) in req.docs.into_iter().zip(headers) {
        // Decide from the header alone; invisible and unknown documents look the same.
        let Some((header, readers)) = found else {
            out.unavailable.push(id);
            continue;
        };
        if !access::may_read(viewer, &header, &readers) {
            out.unavailable.push(id);
            continue;
        }
        if full {
            out.deferred.push(id);
            continue;
        }
        if loaded.is_empty() {
            let batch = &visible[next_to_load..(next_to_load + FETCH_BATCH).min(visible.len())];
            next_to_load += batch.len();
            loaded.extend(storage.documents(batch)?);
        }
        let Some(stored) = loaded.pop_front().flatten() else {
            out.unavailable.push(id);
            continue;
        };
        // A device that holds none of the document gets it as a saved document: its compacted
        // part as stored (no work here) with the changes after it, or, for a long history
        // never compacted, saved now. Loading one is far cheaper on a phone than applying the
        // changes one by one. One that does not fit the answer's room waits for the next
        // answer; one larger than a whole answer comes as changes, in parts (below).
        if heads.is_empty()
            && let Some(whole) = saved_form(&stored)?
        {
            let need = whole.bytes.len() + whole.changes.iter().map(|c| c.len()).sum::<usize>();
            if size + need <= max_bytes {
                size += need;
                out.saved.push(whole);
                continue;
            }
            if size > 0 {
                full = true;
                out.deferred.push(id);
                continue;
            }
        }
        let changes = stored.decoded_changes().map_err(ApiError::Internal)?;
        let heads: Vec<ChangeHash> = heads.into_iter().map(ChangeHash).collect();
        let lacking = lacking(changes, &heads).ok_or_else(|| {
            ApiError::Internal(format!("document {id}: a stored change lacks a dependency"))
        })?;
        let mut wanted: Vec<serde_bytes::ByteBuf> = Vec::new();
        for c in &lacking {
            let bytes = c.raw_bytes();
            if size > 0 && size + bytes.len() > max_bytes {
                full = true;
                break;
            }
            size += bytes.len();
            wanted.push(serde_bytes::ByteBuf::from(bytes.to_vec()));
        }
        if wanted.is_empty() && !lacking.is_empty() {
            out.deferred.push(id);
            continue;
        }
        if wanted.len() < lacking.len() {
            out.partial.push(id);
        }
        out.docs.push(DocChanges {
            header: wire::header_to_wire(&header),
            changes: wanted,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    /// Three changes, each depending on the one before.
    fn chain() -> Vec<Change> {
        let mut am = Automerge::new();
        for i in 0..3i64 {
            let mut tx = am.transaction();
            tx.put(automerge::ROOT, "n", i).expect("put");
            tx.commit();
        }
        am.get_changes(&[])
    }

    #[test]
    fn lacking_lists_what_follows_the_heads_dependencies_first_whatever_the_stored_order() {
        let c = chain();
        let (a, b, z) = (c[0].hash(), c[1].hash(), c[2].hash());
        let stored = || vec![c[2].clone(), c[0].clone(), c[1].clone()];
        let hashes =
            |v: Option<Vec<Change>>| v.map(|v| v.iter().map(Change::hash).collect::<Vec<_>>());
        assert_eq!(hashes(lacking(stored(), &[])), Some(vec![a, b, z]));
        assert_eq!(hashes(lacking(stored(), &[a])), Some(vec![b, z]));
        assert_eq!(hashes(lacking(stored(), &[z])), Some(vec![]));
        let unknown = ChangeHash([7; 32]);
        assert_eq!(
            hashes(lacking(stored(), &[unknown])),
            Some(vec![a, b, z]),
            "a head the server does not hold is ignored"
        );
        assert_eq!(
            hashes(lacking(vec![c[2].clone(), c[1].clone()], &[])),
            None,
            "a stored change whose dependency is not stored"
        );
    }
}
