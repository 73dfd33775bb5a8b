//! The sync client: moves a device store's changes to the district server and back.
//!
//! [`sync_now`] runs one sync over any [`Transport`]: push every unacknowledged change in
//! bounded pages (acknowledging exactly what the server says it committed), then pull the
//! change feed from the persisted cursor in bounded pages, fetching whole documents when a
//! pulled change depends on history the device never saw. The cursor is saved only after
//! every document of a page is stored (or refused by this device, or reported by the server as
//! no longer visible), and applying is idempotent, so a sync cut off anywhere resumes where it
//! stopped and a request that is lost, repeated or answered twice changes nothing. Fetching
//! goes on until each document is complete: an answer lists which documents it only began
//! (stored as they come, asked again from the new heads) and which it left for later.
//!
//! Photos go last ([`upload_photos`]), after the records they belong to: for each photo the
//! unlocked person attached to a record and the server has not confirmed for it, the client
//! asks how many bytes of its upload the server already has, sends the rest in chunks of
//! [`PHOTO_CHUNK`] bytes from there, naming the record, and marks the photo uploaded for that
//! record once the server says it holds it whole (the server checks the SHA-256 and that the
//! person may write the record). A sync cut off mid-photo resumes from the server's count, so
//! no chunk the server acknowledged is sent again. A photo the server refuses (its bytes do
//! not match its hash, its record is not there yet, the device's daily quota is spent) or that
//! the device cannot read is reported in [`SyncReport::photos_failed`], stays waiting, and
//! does not stop the others.
//!
//! [`HttpTransport`] is the real transport (reqwest, blocking: the store is synchronous and the
//! app calls sync from a worker thread). Tests wrap it to inject faults.

use chrono::{DateTime, Utc};
use rounds_protocol::{
    DocChanges, FetchRequest, FetchResponse, PAGE_BYTES, PHOTO_CHUNK, PhotoStatus, PullResponse,
    PushRequest, PushResponse, Rejection,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;
use crate::model::ReferenceData;
use crate::store::{Store, WaitingPhoto};
use crate::wire;

/// Keys of the sync state kept in the store: each person's own (`cursor/<person>`), so the
/// second person on a shared phone pulls everything they may see from the start instead of
/// continuing from the first person's place in the feed.
pub mod key {
    use crate::store::Store;

    /// The place in the server's change feed up to which everything is stored.
    pub const CURSOR: &str = "cursor";
    /// The version of the reference data held.
    pub const REFERENCE: &str = "reference_version";
    /// When the last sync finished.
    pub const LAST_SUCCESS: &str = "last_success";
    /// Why the last sync failed (JSON), or empty.
    pub const LAST_ERROR: &str = "last_error";

    /// The unlocked person's key for `name`.
    pub fn of(store: &Store, name: &str) -> String {
        format!("{name}/{}", store.person_id())
    }
}

/// What went wrong talking to the server, as the app explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SyncProblem {
    /// The server could not be reached (or the connection dropped).
    #[error(
        "No connection to the district server. Everything is saved on this device and will sync later."
    )]
    NoConnection(String),
    /// The session is unknown or expired.
    #[error("Sign in again to sync.")]
    SignInAgain(String),
    /// The device was revoked by an administrator.
    #[error(
        "This device was revoked by the district. Nothing more will sync; ask your supervisor."
    )]
    Revoked,
    /// The device was revoked and the district asked it to erase itself: after pushing what
    /// waits on it (`after_push`), or at once.
    #[error("The district asked this device to erase itself.")]
    Wipe {
        /// Whether what waits on the device was pushed first (and may still be).
        after_push: bool,
    },
    /// The server refused a request as malformed (a bug, or a version mismatch).
    #[error("The district server refused the request: {0}")]
    Refused(String),
    /// The server failed.
    #[error("The district server had a problem. Sync will try again.")]
    Server(String),
    /// The device store failed.
    #[error("This device could not save what it received: {0}")]
    Store(String),
}

impl From<Error> for SyncProblem {
    fn from(e: Error) -> Self {
        SyncProblem::Store(e.to_string())
    }
}

/// How requests reach the server. Every call may fail; none may be assumed to have reached
/// the server or not.
pub trait Transport {
    /// `POST /v1/sync/push`.
    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem>;
    /// `GET /v1/sync/pull`; `None` for "nothing new". `whole`: the device started this pull
    /// empty, so documents with long histories come by fetch, as saved documents (a snapshot
    /// pull), rather than change by change.
    fn pull(
        &mut self,
        after: u64,
        reference: u64,
        max: u32,
        whole: bool,
    ) -> Result<Option<Vec<u8>>, SyncProblem>;
    /// `POST /v1/sync/fetch`.
    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem>;
    /// `POST /v1/device-events`.
    fn device_events(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem>;
    /// `GET /v1/photos/{hash}/status?record=`: how much of this device's upload of a photo for
    /// `record` the server holds.
    fn photo_status(&mut self, hash: &str, record: Uuid) -> Result<PhotoStatus, SyncProblem>;
    /// `PUT /v1/photos/{hash}?record=&offset=&total=`: one chunk of a photo of `total` bytes
    /// for `record`, starting at `offset`. Answers what the server holds afterwards. When the
    /// server holds a different number of bytes than `offset` (409), that is answered too, as
    /// `Ok`, so the caller carries on from the server's count.
    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem>;
}

/// What one sync moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Changes the server confirmed.
    pub pushed: usize,
    /// Documents the server refused, and why.
    pub rejected: Vec<(Uuid, String)>,
    /// New changes received.
    pub pulled: usize,
    /// Documents received in full because the device lacked their history.
    pub fetched: usize,
    /// Documents received that this device could not store, and why.
    pub failed: Vec<(Uuid, String)>,
    /// Whether reference data (posts, checkpoints, people) was refreshed.
    pub reference_updated: bool,
    /// Requests made.
    pub requests: usize,
    /// Photos the server now holds whole (hash checked) that it had not confirmed before.
    pub photos_uploaded: usize,
    /// Photos that could not be uploaded (refused by the server, or unreadable on this
    /// device), by hash, and why. They stay waiting.
    pub photos_failed: Vec<(String, String)>,
    /// Device events the server stored (or already held) or refused, which this device forgot.
    pub events_sent: usize,
    /// Device events the server refused, and why.
    pub events_refused: Vec<(Uuid, String)>,
}

/// What the app shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Last sync that finished.
    pub last_success: Option<DateTime<Utc>>,
    /// Changes waiting for the server.
    pub waiting_changes: u64,
    /// Records they belong to.
    pub waiting_records: u64,
    /// Photos the server has not confirmed yet.
    pub waiting_photos: u64,
    /// Other people's records waiting on this shared phone for their own sync.
    pub waiting_for_others: Vec<crate::store::WaitingFor>,
    /// Why the last sync failed, if it did.
    pub last_error: Option<SyncProblem>,
    /// The same in words for the screen.
    pub last_error_text: Option<String>,
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, SyncProblem> {
    rounds_protocol::decode(b).map_err(|e| SyncProblem::Refused(format!("unreadable answer: {e}")))
}

fn value(store: &Store, k: &str) -> Result<u64, SyncProblem> {
    Ok(store
        .sync_value(k)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

pub use rounds_protocol::NoteDisclosure;

/// The disclosures of the contact note `note`, asked of the server at `base` with the session
/// `token` (its author only; online only: the log is the server's).
pub fn note_disclosures(
    base: &str,
    token: &str,
    note: Uuid,
) -> Result<Vec<NoteDisclosure>, SyncProblem> {
    let r = send(
        client()?
            .get(format!(
                "{}/v1/notes/{note}/disclosures",
                base.trim_end_matches('/')
            ))
            .bearer_auth(token),
    )?;
    serde_json::from_slice(&bytes(r)?)
        .map_err(|e| SyncProblem::Refused(format!("unreadable answer: {e}")))
}

/// Runs one complete sync. On failure the problem is recorded for [`status`] and returned;
/// whatever was confirmed before the failure stays confirmed.
pub fn sync_now(
    store: &mut Store,
    t: &mut dyn Transport,
    now: DateTime<Utc>,
) -> Result<SyncReport, SyncProblem> {
    let mut report = SyncReport::default();
    let mut result = push_all(store, t, &mut report)
        .and_then(|()| send_events(store, t, &mut report))
        .and_then(|()| pull_all(store, t, &mut report))
        .and_then(|()| upload_photos(store, t, &mut report));
    if let Err(SyncProblem::Wipe { after_push: true }) = &result {
        // Pushed, but told to erase: the photos still go first (the server takes them). One
        // that could not be sent (the connection dropped) keeps the device from erasing until
        // a later sync has sent it; one the server refused is not going to be taken.
        result = match upload_photos(store, t, &mut report) {
            Ok(()) => Err(SyncProblem::Wipe { after_push: true }),
            Err(p) => Err(p),
        };
    }
    match &result {
        Ok(()) => {
            store.set_sync_value(&key::of(store, key::LAST_SUCCESS), &now.to_rfc3339())?;
            store.set_sync_value(&key::of(store, key::LAST_ERROR), "")?;
        }
        Err(p) => {
            let json = serde_json::to_string(p).unwrap_or_default();
            store.set_sync_value(&key::of(store, key::LAST_ERROR), &json)?;
        }
    }
    result.map(|()| report)
}

/// Sends the device events the server has not stored ([`crate::events`]), a page at a time,
/// and forgets those it answers as stored.
pub fn send_events(
    store: &mut Store,
    t: &mut dyn Transport,
    report: &mut SyncReport,
) -> Result<(), SyncProblem> {
    loop {
        let events = store.waiting_events(rounds_protocol::MAX_DEVICE_EVENTS)?;
        if events.is_empty() {
            return Ok(());
        }
        let sent: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        report.requests += 1;
        let resp: rounds_protocol::DeviceEventsResponse = decode(&t.device_events(
            rounds_protocol::encode(&rounds_protocol::DeviceEventsRequest { events }),
        )?)?;
        report.events_refused.extend(resp.refused.iter().cloned());
        let answered: Vec<Uuid> = resp
            .stored
            .into_iter()
            .chain(resp.refused.into_iter().map(|(id, _)| id))
            .filter(|id| sent.contains(id))
            .collect();
        report.events_sent += store.forget_events(&answered)?;
        if answered.len() < sent.len() {
            // The server kept back some of this page: they stay for the next sync.
            return Ok(());
        }
    }
}

/// The push of these waiting documents: their changes and the signatures over them.
pub fn push_request(pending: Vec<crate::store::PendingDocument>) -> PushRequest {
    let signatures = pending
        .iter()
        .flat_map(|d| {
            d.signatures
                .iter()
                .map(|s| rounds_protocol::ChangeSignature {
                    doc: d.header.id,
                    change: s.change,
                    person: s.person,
                    key: serde_bytes::ByteBuf::from(s.key.to_vec()),
                    signature: serde_bytes::ByteBuf::from(s.signature.clone()),
                })
        })
        .collect();
    PushRequest {
        docs: pending
            .into_iter()
            .map(|d| DocChanges {
                header: wire::header_to_wire(&d.header),
                changes: d
                    .changes
                    .into_iter()
                    .map(|c| serde_bytes::ByteBuf::from(c.bytes))
                    .collect(),
            })
            .collect(),
        signatures,
    }
}

fn push_all(
    store: &mut Store,
    t: &mut dyn Transport,
    report: &mut SyncReport,
) -> Result<(), SyncProblem> {
    let mut refused: Vec<Uuid> = Vec::new();
    loop {
        let pending = store.pending_changes_except(PAGE_BYTES as usize, &refused)?;
        if pending.is_empty() {
            return Ok(());
        }
        let req = push_request(pending);
        report.requests += 1;
        let resp: PushResponse = decode(&t.push(rounds_protocol::encode(&req))?)?;
        // Only what the server says it committed counts as synced.
        let acked = store.acknowledge(&resp.committed)?;
        report.pushed += acked;
        let refused_before = refused.len();
        for Rejection { doc, message, .. } in resp.rejected {
            if !refused.contains(&doc) {
                refused.push(doc);
                report.rejected.push((doc, message));
            }
        }
        // Every round must settle something (changes acknowledged or documents set aside);
        // an answer that settles nothing would otherwise repeat the same page forever.
        if acked == 0 && refused.len() == refused_before {
            return Ok(());
        }
    }
}

fn pull_all(
    store: &mut Store,
    t: &mut dyn Transport,
    report: &mut SyncReport,
) -> Result<(), SyncProblem> {
    // A device whose pull starts at the beginning of the feed holds nothing from it: the
    // whole pull is a snapshot pull, page after page, even though the cursor moves.
    let whole = value(store, &key::of(store, key::CURSOR))? == 0;
    loop {
        let cursor = value(store, &key::of(store, key::CURSOR))?;
        let reference = value(store, &key::of(store, key::REFERENCE))?;
        report.requests += 1;
        let Some(body) = t.pull(cursor, reference, PAGE_BYTES, whole)? else {
            return Ok(());
        };
        let page: PullResponse = decode(&body)?;
        if let Some(r) = &page.reference {
            let data: ReferenceData = serde_json::from_slice(r)
                .map_err(|e| SyncProblem::Refused(format!("unreadable reference data: {e}")))?;
            store.replace_reference_data(&data)?;
            store.set_sync_value(
                &key::of(store, key::REFERENCE),
                &page.reference_version.to_string(),
            )?;
            report.reference_updated = true;
        }
        let mut incomplete = apply_batch(store, &page.docs, report)?;
        // Documents the server says to fetch by heads (compacted there, or every document of
        // a device that starts empty, so it gets saved documents).
        let already: std::collections::HashSet<Uuid> = incomplete.iter().copied().collect();
        incomplete.extend(page.refetch.iter().filter(|id| !already.contains(id)));
        if !incomplete.is_empty() {
            fetch_whole(store, t, &incomplete, report)?;
        }
        // Other people's finished work arrives as rows: folded into snapshots like the
        // device's own (each in its own transaction, checked against the other connection).
        let ids: Vec<Uuid> = page.docs.iter().map(|d| d.header.id).collect();
        store.compact_settled(&ids)?;
        // Only now is the page done: a cut-off before this line repeats the page, harmlessly.
        store.set_sync_value(&key::of(store, key::CURSOR), &page.cursor.to_string())?;
        if !page.more {
            return Ok(());
        }
    }
}

/// Applies a batch of documents in one store transaction; returns the ids that need their
/// whole history fetched.
fn apply_batch(
    store: &mut Store,
    docs: &[DocChanges],
    report: &mut SyncReport,
) -> Result<Vec<Uuid>, SyncProblem> {
    let mut batch = Vec::with_capacity(docs.len());
    for d in docs {
        match wire::header_from_wire(&d.header) {
            Ok(h) => batch.push((h, d.changes.iter().map(|c| c.to_vec()).collect())),
            Err(e) => report.failed.push((d.header.id, e.to_string())),
        }
    }
    let results = store.apply_remote_many(&batch, true)?;
    tally(batch.iter().map(|(h, _)| h.id), results, report)
}

/// Counts what the store did with each document of a batch: complete ones into `pulled`,
/// ones the device's own checks refused into `failed`; returns the ones still incomplete. A
/// failure of the store itself fails the sync.
fn tally(
    ids: impl Iterator<Item = Uuid>,
    results: Vec<Result<crate::store::Applied, Error>>,
    report: &mut SyncReport,
) -> Result<Vec<Uuid>, SyncProblem> {
    let mut incomplete = Vec::new();
    for (id, r) in ids.zip(results) {
        match r {
            Ok(a) if a.complete => report.pulled += a.new,
            Ok(_) => incomplete.push(id),
            Err(
                e @ (Error::Invalid { .. } | Error::HeaderChanged { .. } | Error::Forbidden(_)),
            ) => {
                report.failed.push((id, e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(incomplete)
}

/// Stores whole documents received as saved documents (prepared by [`Answer::new`]) in one
/// store transaction; returns the ids that still lack something (none, from an honest server).
fn apply_saved(
    store: &mut Store,
    saved: ReceivedSaved,
    report: &mut SyncReport,
) -> Result<Vec<Uuid>, SyncProblem> {
    let ReceivedSaved {
        ids,
        unreadable,
        prepared,
    } = saved;
    report.failed.extend(unreadable);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let results = store.apply_prepared(prepared)?;
    tally(ids.into_iter(), results, report)
}

/// The saved documents of one fetch answer, made ready to store.
struct ReceivedSaved {
    /// Their ids, in order.
    ids: Vec<Uuid>,
    /// Ones whose header could not be read, with why.
    unreadable: Vec<(Uuid, String)>,
    prepared: crate::store::PreparedSaved,
}

impl ReceivedSaved {
    /// Reads the headers and prepares the documents ([`Store::prepare_saved`]): no store
    /// needed, so this runs while the answer before is being stored.
    fn new(device: Uuid, docs: Vec<rounds_protocol::SavedDoc>) -> ReceivedSaved {
        let (mut ids, mut unreadable, mut batch) = (Vec::new(), Vec::new(), Vec::new());
        for d in docs {
            match wire::header_from_wire(&d.header) {
                Ok(h) => {
                    ids.push(h.id);
                    batch.push((
                        h,
                        d.bytes.into_vec(),
                        d.changes.into_iter().map(|c| c.into_vec()).collect(),
                    ));
                }
                Err(e) => unreadable.push((d.header.id, e.to_string())),
            }
        }
        ReceivedSaved {
            ids,
            unreadable,
            prepared: Store::prepare_saved(device, batch),
        }
    }
}

/// Most documents asked for in one fetch request.
const FETCH_DOCS: usize = 200;

/// Fetches the whole history of `ids` (what the device lacks of each, from its heads), storing
/// every part as it arrives, until each document is stored complete or the server said it is
/// not available to this person. Returns only then: the caller saves its pull cursor after
/// this, so a cursor never moves past a document that is not stored. A cut-off anywhere loses
/// nothing: what was stored stays, and the next sync asks again from the new heads.
///
/// Pipelined: each answer is stored on a second thread while the next request is out, so the
/// server's and the network's time overlaps the device's own. Two requests in flight never
/// name the same document (a document asked again goes into a request built after its answer
/// was stored), so the heads a request sends never depend on an answer still being stored.
fn fetch_whole(
    store: &mut Store,
    t: &mut dyn Transport,
    ids: &[Uuid],
    report: &mut SyncReport,
) -> Result<(), SyncProblem> {
    let device = store.device_id();
    let mut seen = std::collections::HashSet::new();
    let mut waiting: std::collections::VecDeque<Uuid> =
        ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    // The answer received and not yet stored.
    let mut received: Option<Answer> = None;
    while !waiting.is_empty() || received.is_some() {
        let next = if waiting.is_empty() {
            None
        } else {
            let n = waiting.len().min(FETCH_DOCS);
            let asked: Vec<Uuid> = waiting.drain(..n).collect();
            let mut docs = Vec::with_capacity(asked.len());
            for id in &asked {
                docs.push((*id, store.heads(*id)?));
            }
            report.requests += 1;
            Some((asked, docs))
        };
        let (answer, again) = std::thread::scope(|s| {
            let storing = received.take().map(|a| {
                let (store, report) = (&mut *store, &mut *report);
                s.spawn(move || store_answer(store, a, report))
            });
            let answer = next.map(|(asked, docs)| {
                let resp = t.fetch(rounds_protocol::encode(&FetchRequest {
                    docs: docs.clone(),
                }));
                resp.and_then(|b| decode::<FetchResponse>(&b))
                    .map(|resp| Answer::new(device, asked, docs, resp))
            });
            let again = storing.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (answer, again)
        });
        // Parts and deferred documents go to the front: they are asked for first next time.
        for id in again.transpose()?.unwrap_or_default().into_iter().rev() {
            waiting.push_front(id);
        }
        received = answer.transpose()?;
    }
    Ok(())
}

/// One fetch answer, with what was asked.
struct Answer {
    /// The heads each document asked for had when asked.
    heads_before: Vec<(Uuid, Vec<[u8; 32]>)>,
    /// What the answer says of each document asked for.
    plan: Result<FetchPlan, SyncProblem>,
    resp: FetchResponse,
    /// Its saved documents, taken out of `resp` and prepared.
    saved: ReceivedSaved,
}

impl Answer {
    /// Reads an answer as it arrives: its plan, and its saved documents prepared (loading
    /// them is most of a snapshot pull's work on the device, and needs no store, so it
    /// overlaps the storing of the answer before).
    fn new(
        device: Uuid,
        asked: Vec<Uuid>,
        heads_before: Vec<(Uuid, Vec<[u8; 32]>)>,
        mut resp: FetchResponse,
    ) -> Answer {
        let plan = fetch_plan(&asked, &resp);
        let saved = match plan {
            Ok(_) => ReceivedSaved::new(device, std::mem::take(&mut resp.saved)),
            Err(_) => ReceivedSaved::new(device, Vec::new()),
        };
        Answer {
            heads_before,
            plan,
            resp,
            saved,
        }
    }
}

/// Stores one fetch answer; returns the documents to ask for again (sent in part, or
/// deferred).
fn store_answer(
    store: &mut Store,
    a: Answer,
    report: &mut SyncReport,
) -> Result<Vec<Uuid>, SyncProblem> {
    let Answer {
        heads_before,
        plan,
        resp,
        saved,
    } = a;
    let mut plan = plan?;
    let failed_before = report.failed.len();
    let mut still = apply_batch(store, &resp.docs, report)?;
    still.extend(apply_saved(store, saved, report)?);
    let refused: Vec<Uuid> = report.failed[failed_before..]
        .iter()
        .map(|(id, _)| *id)
        .collect();
    for id in &still {
        if !plan.again.contains(id) {
            // The server said this part was the whole rest, yet it does not complete the
            // document: storing nothing and moving on would lose it, so the sync stops.
            return Err(SyncProblem::Refused(format!(
                "the server sent an incomplete history of record {id}"
            )));
        }
    }
    for id in plan.gone.iter().copied() {
        report
            .failed
            .push((id, "no longer available to this person".into()));
    }
    report.fetched += plan
        .whole
        .iter()
        .filter(|id| !still.contains(id) && !refused.contains(id))
        .count();
    // A part this device refused (its own checks) is reported and not asked for again.
    plan.again.retain(|id| !refused.contains(id));
    // Progress: a document settled (whole or gone), or one asked again moved its heads.
    let mut progressed = !plan.whole.is_empty() || !plan.gone.is_empty();
    for (id, before) in &heads_before {
        if !progressed && plan.again.contains(id) && store.heads(*id)? != *before {
            progressed = true;
        }
    }
    if !plan.again.is_empty() && !progressed {
        // Nothing fitted and nothing moved: asking again would repeat the same answer.
        return Err(SyncProblem::Server(
            "the server's answers stopped bringing the records asked for".into(),
        ));
    }
    Ok(plan.again)
}

/// What a fetch answer says about each document asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FetchPlan {
    /// Included whole.
    whole: Vec<Uuid>,
    /// Included in part, or left out because the answer was full: ask again.
    again: Vec<Uuid>,
    /// Not available to this person (the server said so).
    gone: Vec<Uuid>,
}

/// Sorts the documents asked for by what the answer says of them; an answer that leaves one
/// unaccounted for, or names one twice, is refused rather than guessed at.
fn fetch_plan(asked: &[Uuid], resp: &FetchResponse) -> Result<FetchPlan, SyncProblem> {
    let mut plan = FetchPlan::default();
    for id in asked {
        let included = resp.docs.iter().filter(|d| d.header.id == *id).count()
            + resp.saved.iter().filter(|d| d.header.id == *id).count();
        let partial = resp.partial.contains(id);
        let deferred = resp.deferred.contains(id);
        let gone = resp.unavailable.contains(id);
        match (included, partial, deferred, gone) {
            (1, false, false, false) => plan.whole.push(*id),
            (1, true, false, false) | (0, false, true, false) => plan.again.push(*id),
            (0, false, false, true) => plan.gone.push(*id),
            _ => {
                return Err(SyncProblem::Refused(format!(
                    "the server's answer does not account for record {id} exactly once"
                )));
            }
        }
    }
    Ok(plan)
}

/// Why one photo did not upload.
enum PhotoFailure {
    /// This photo only: the others still go.
    Photo(String),
    /// The whole sync stops (no connection, signed out, revoked, the store failed).
    Sync(SyncProblem),
}

impl From<SyncProblem> for PhotoFailure {
    fn from(p: SyncProblem) -> Self {
        match p {
            // A refusal is about this photo's request (its bytes, its hash).
            SyncProblem::Refused(why) => PhotoFailure::Photo(why),
            p => PhotoFailure::Sync(p),
        }
    }
}

/// Uploads every photo of the unlocked person the server has not confirmed, oldest first,
/// once for each record it is attached to.
pub fn upload_photos(
    store: &mut Store,
    t: &mut dyn Transport,
    report: &mut SyncReport,
) -> Result<(), SyncProblem> {
    for WaitingPhoto { hash, record } in store.photo_uploads_waiting()? {
        match upload_photo(store, t, &hash, record, report) {
            Ok(()) => {
                store.mark_photo_uploaded_for(&hash, record)?;
                report.photos_uploaded += 1;
            }
            Err(PhotoFailure::Photo(why)) => report.photos_failed.push((hash, why)),
            Err(PhotoFailure::Sync(p)) => return Err(p),
        }
    }
    Ok(())
}

/// Sends one photo for `record` from wherever the server's copy stops; `Ok` once the server
/// holds it whole.
fn upload_photo(
    store: &Store,
    t: &mut dyn Transport,
    hash: &str,
    record: Uuid,
    report: &mut SyncReport,
) -> Result<(), PhotoFailure> {
    report.requests += 1;
    let mut held = t.photo_status(hash, record)?;
    if held.complete {
        return Ok(());
    }
    let plain = match store.photo_bytes(hash) {
        Ok(b) => b,
        Err(e @ (Error::Corrupt { .. } | Error::NotFound { .. } | Error::Invalid { .. })) => {
            return Err(PhotoFailure::Photo(e.to_string()));
        }
        Err(e) => return Err(PhotoFailure::Sync(e.into())),
    };
    let total = plain.len() as u64;
    // Answers that move nothing forward (another upload of the same photo racing this one,
    // or a server bug) are tolerated a few times, never forever.
    let mut stalls = 0;
    while !held.complete {
        let Some(offset) = usize::try_from(held.received)
            .ok()
            .filter(|o| *o < plain.len())
        else {
            return Err(PhotoFailure::Photo(format!(
                "the server holds {} bytes of a {total}-byte photo but not the whole photo",
                held.received
            )));
        };
        let end = plain.len().min(offset + PHOTO_CHUNK);
        report.requests += 1;
        let next = t.photo_put(
            hash,
            record,
            offset as u64,
            total,
            plain[offset..end].to_vec(),
        )?;
        if !next.complete && next.received <= held.received {
            stalls += 1;
            if stalls > 3 {
                return Err(PhotoFailure::Photo(
                    "the server accepted none of the photo's bytes".into(),
                ));
            }
        }
        held = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: Uuid) -> DocChanges {
        DocChanges {
            header: rounds_protocol::WireHeader {
                id,
                kind: "incident".into(),
                school: Uuid::nil(),
                author: Uuid::nil(),
                device: Uuid::nil(),
                created_at_ms: 0,
                classification: "confidential".into(),
            },
            changes: Vec::new(),
        }
    }

    #[test]
    fn a_fetch_answer_must_account_for_each_document_exactly_once() {
        let a = Uuid::from_u128(1);
        let with = |docs: Vec<DocChanges>, partial, deferred, unavailable| FetchResponse {
            docs,
            partial,
            deferred,
            unavailable,
            saved: Vec::new(),
        };
        let whole = FetchPlan {
            whole: vec![a],
            ..FetchPlan::default()
        };
        let again = FetchPlan {
            again: vec![a],
            ..FetchPlan::default()
        };
        let gone = FetchPlan {
            gone: vec![a],
            ..FetchPlan::default()
        };
        let cases: Vec<(&str, FetchResponse, Option<FetchPlan>)> = vec![
            (
                "included whole",
                with(vec![doc(a)], vec![], vec![], vec![]),
                Some(whole),
            ),
            (
                "included in part",
                with(vec![doc(a)], vec![a], vec![], vec![]),
                Some(again.clone()),
            ),
            (
                "left for later",
                with(vec![], vec![], vec![a], vec![]),
                Some(again),
            ),
            (
                "not available",
                with(vec![], vec![], vec![], vec![a]),
                Some(gone),
            ),
            (
                "silently left out",
                with(vec![], vec![], vec![], vec![]),
                None,
            ),
            (
                "included twice",
                with(vec![doc(a), doc(a)], vec![], vec![], vec![]),
                None,
            ),
            (
                "included and gone",
                with(vec![doc(a)], vec![], vec![], vec![a]),
                None,
            ),
            (
                "partial but absent",
                with(vec![], vec![a], vec![], vec![]),
                None,
            ),
        ];
        for (name, resp, want) in cases {
            let got = fetch_plan(&[a], &resp).ok();
            assert_eq!(got, want, "{name}: only what the server said counts");
        }
    }
}

/// What the app shows: last success, what waits, the last problem in words.
pub fn status(store: &Store) -> Result<SyncStatus, Error> {
    let backlog = store.backlog()?;
    let last_success = store
        .sync_value(&key::of(store, key::LAST_SUCCESS))?
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc));
    let last_error: Option<SyncProblem> = store
        .sync_value(&key::of(store, key::LAST_ERROR))?
        .filter(|v| !v.is_empty())
        .and_then(|v| serde_json::from_str(&v).ok());
    Ok(SyncStatus {
        last_success,
        waiting_changes: backlog.changes,
        waiting_records: backlog.documents,
        waiting_photos: store.pending_photo_count()?,
        waiting_for_others: store.waiting_for_others()?,
        last_error_text: last_error.as_ref().map(ToString::to_string),
        last_error,
    })
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// The real transport: HTTP(S) to the district server with a session token.
pub struct HttpTransport {
    base: String,
    token: String,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn client() -> Result<reqwest::blocking::Client, SyncProblem> {
    reqwest::blocking::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| SyncProblem::NoConnection(e.to_string()))
}

fn problem_from_response(r: reqwest::blocking::Response) -> SyncProblem {
    #[derive(Deserialize)]
    struct Body {
        kind: String,
        message: String,
    }
    let status = r.status();
    let body: Option<Body> = r.json().ok();
    let message = body
        .as_ref()
        .map(|b| b.message.clone())
        .unwrap_or_else(|| status.to_string());
    match (status.as_u16(), body.as_ref().map(|b| b.kind.as_str())) {
        (401, _) => SyncProblem::SignInAgain(message),
        (403, Some("revoked")) => SyncProblem::Revoked,
        (410, Some("wipe_after_push")) => SyncProblem::Wipe { after_push: true },
        (410, Some("wipe_now")) => SyncProblem::Wipe { after_push: false },
        (500..=599, _) => SyncProblem::Server(message),
        _ => SyncProblem::Refused(message),
    }
}

fn send(
    req: reqwest::blocking::RequestBuilder,
) -> Result<reqwest::blocking::Response, SyncProblem> {
    checked(
        req.send()
            .map_err(|e| SyncProblem::NoConnection(e.to_string()))?,
    )
}

fn checked(r: reqwest::blocking::Response) -> Result<reqwest::blocking::Response, SyncProblem> {
    if r.status().is_success() {
        Ok(r)
    } else {
        Err(problem_from_response(r))
    }
}

fn bytes(r: reqwest::blocking::Response) -> Result<Vec<u8>, SyncProblem> {
    r.bytes()
        .map(|b| b.to_vec())
        .map_err(|e| SyncProblem::NoConnection(e.to_string()))
}

impl HttpTransport {
    /// A transport to `base` (e.g. `https://rounds.district.example`) with a session token.
    pub fn new(base: &str, token: &str) -> Result<Self, SyncProblem> {
        Ok(HttpTransport {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client: client()?,
        })
    }

    fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        bytes(send(self.binary_post(path, body))?)
    }

    fn binary_post(&self, path: &str, body: Vec<u8>) -> reqwest::blocking::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/x-rounds")
            .body(body)
    }
}

impl Transport for HttpTransport {
    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.post("/v1/sync/push", body)
    }

    fn device_events(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.post("/v1/device-events", body)
    }

    fn pull(
        &mut self,
        after: u64,
        reference: u64,
        max: u32,
        whole: bool,
    ) -> Result<Option<Vec<u8>>, SyncProblem> {
        let r = send(
            self.client
                .get(format!(
                    "{}/v1/sync/pull?after={after}&ref={reference}&max={max}{}",
                    self.base,
                    if whole { "&whole=true" } else { "" }
                ))
                .bearer_auth(&self.token),
        )?;
        if r.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        bytes(r).map(Some)
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let asked = decode::<FetchRequest>(&body)?.docs;
        let r = self
            .binary_post("/v1/sync/fetch", body)
            .send()
            .map_err(|e| SyncProblem::NoConnection(e.to_string()))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            // None of the documents is (any longer) visible to this person: the server says so
            // with 404 rather than an answer listing them all.
            return Ok(rounds_protocol::encode(&FetchResponse {
                unavailable: asked.into_iter().map(|(id, _)| id).collect(),
                ..FetchResponse::default()
            }));
        }
        bytes(checked(r)?)
    }

    fn photo_status(&mut self, hash: &str, record: Uuid) -> Result<PhotoStatus, SyncProblem> {
        let r = send(
            self.client
                .get(format!(
                    "{}/v1/photos/{hash}/status?record={record}",
                    self.base
                ))
                .bearer_auth(&self.token),
        )?;
        photo_status_from(&bytes(r)?)
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        let r = self
            .client
            .put(format!(
                "{}/v1/photos/{hash}?record={record}&offset={offset}&total={total}",
                self.base
            ))
            .bearer_auth(&self.token)
            .header("content-type", "application/octet-stream")
            .body(chunk)
            .send()
            .map_err(|e| SyncProblem::NoConnection(e.to_string()))?;
        photo_answer(r)
    }
}

fn photo_status_from(body: &[u8]) -> Result<PhotoStatus, SyncProblem> {
    serde_json::from_slice(body)
        .map_err(|e| SyncProblem::Refused(format!("unreadable answer about a photo: {e}")))
}

/// The answer to a photo chunk: what the server holds, also when it refused the chunk's
/// offset with 409 (see [`Transport::photo_put`]).
fn photo_answer(r: reqwest::blocking::Response) -> Result<PhotoStatus, SyncProblem> {
    if r.status() == reqwest::StatusCode::CONFLICT {
        // The server holds another number of bytes (a chunk was lost, or acknowledged and its
        // answer lost): the answer says how many, and the upload carries on from there.
        #[derive(Deserialize)]
        struct Held {
            received: u64,
        }
        let body = bytes(r)?;
        return serde_json::from_slice::<Held>(&body)
            .map(|h| PhotoStatus {
                received: h.received,
                complete: false,
            })
            .map_err(|e| SyncProblem::Refused(format!("unreadable answer about a photo: {e}")));
    }
    photo_status_from(&bytes(checked(r)?)?)
}

/// What enrolling a device returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrollment {
    /// The device id the server assigned.
    pub device_id: Uuid,
    /// The device's credential (keep it in the encrypted store).
    pub device_secret: String,
}

/// Enrolls this device with a one-time code from an administrator.
pub fn enroll(base: &str, code: &str, name: &str) -> Result<Enrollment, SyncProblem> {
    let r = send(
        client()?
            .post(format!("{}/v1/enroll", base.trim_end_matches('/')))
            .json(&serde_json::json!({ "code": code, "name": name })),
    )?;
    r.json().map_err(|e| SyncProblem::Refused(e.to_string()))
}

/// What signing in returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Bearer token.
    pub token: String,
    /// The person.
    pub person_id: Uuid,
    /// Their role.
    pub role: crate::model::Role,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Signs a person in on an enrolled device.
///
/// `signing_key` is the person's public signing key on this device: the server records it
/// with them and the device, and accepts their changes from it signed with it.
pub fn sign_in(
    base: &str,
    username: &str,
    password: &str,
    device: &Enrollment,
    signing_key: &crate::signing::PublicKey,
) -> Result<Session, SyncProblem> {
    let r = send(
        client()?
            .post(format!("{}/v1/sessions", base.trim_end_matches('/')))
            .json(&serde_json::json!({
                "username": username,
                "password": password,
                "device_id": device.device_id,
                "device_secret": device.device_secret,
                "signing_key": crate::signing::hex_of(signing_key),
            })),
    )?;
    r.json().map_err(|e| SyncProblem::Refused(e.to_string()))
}
