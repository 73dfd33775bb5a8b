//! Limits: one home for every cap on what a device records and what the district server
//! accepts, so the device and the server check the same numbers.
//!
//! Three layers, each checked where it is cheapest and before anything is stored:
//! - **Raw changes** ([`parse_change`]): the bytes of one automerge change as sent, before
//!   automerge parses them. A change chunk may be DEFLATE-compressed (automerge's chunk type 2);
//!   automerge 0.12 inflates it with no limit, so it is inflated here with a cap and handed to
//!   automerge uncompressed. Columns inside an uncompressed change may carry automerge's
//!   "deflate" bit too; automerge refuses such a change (`CompressedChangeCols`) without
//!   inflating, and so does this module, before automerge sees it. Run-length encoding lets a
//!   few bytes declare billions of operations (or one operation with billions of
//!   predecessors), which automerge would iterate and allocate: [`change_ops`] counts them from
//!   the column headers in time proportional to the bytes, not to the count.
//! - **Document history** ([`history`]): every change a document has, stored and new together.
//! - **Bodies** ([`shift`], [`incident`], [`note`]): text lengths and list lengths of every
//!   field of a record as it reads after a merge, and that every photo reference is a hash.
//!   Input validation in [`crate::model`] and the device's store use the same constants, so an
//!   honest app never makes a change the server refuses for its size.
//!
//! Text lengths are counted in characters (Unicode scalar values), as the inputs are.
//!
//! **Why one file:** every cap and its check in one place, so that a reviewer sees all of them
//! at once and the device and the server cannot drift apart.

use std::io::Read;

use automerge::Change;

use crate::document::{IncidentBody, NoteBody, ShiftBody};
use crate::error::Error;
use crate::model::is_photo_hash;

// ---------------------------------------------------------------------------------------
// Changes and history
// ---------------------------------------------------------------------------------------

/// Largest change, in bytes, both as sent (compressed or not) and once inflated: 2 MiB. The
/// largest change an honest device makes is filing an incident with every field at its cap, in
/// 4-byte characters: 582,663 bytes (rewriting all its text is 339,939; see the test
/// `the_largest_honest_change_fits`). 2 MiB also keeps one change inside one pull page, and a
/// page inside the 8 MiB sync body, so a stored change can always be delivered.
pub const MAX_CHANGE_BYTES: usize = 2 * 1024 * 1024;

/// Most operations in one change: 250,000. Rewriting a whole maximal narrative and actions is
/// 100,000 + 100,000 + 20,000 + 20,000 operations (every character deleted and inserted) plus
/// 800 for the people: 240,800, the most an honest device does in one action.
pub const MAX_OPS_PER_CHANGE: u64 = 250_000;

/// Most predecessor references in one change: 250,000. An honest operation names the one or
/// few values it overwrites or deletes, so a change never names more than it has operations.
pub const MAX_PREDS_PER_CHANGE: u64 = MAX_OPS_PER_CHANGE;

/// Most operations in one push request: 2,000,000 (eight maximal changes). The server parses a
/// whole push before it stores anything; this bounds that work. The device fills a push up to
/// this count as well as up to a page of bytes (`Store::pending_changes_except`), so an honest
/// push never passes it: typed text costs about a byte an operation, so a 2 MiB page of
/// narrative could otherwise hold 2.1 million.
pub const MAX_OPS_PER_PUSH: u64 = 8 * MAX_OPS_PER_CHANGE;

/// Largest total history of one document on the server (every stored change, in bytes): 6 MiB.
/// A fetch sends a large document in parts, so the sync body does not bound it; this does, for
/// the server, which holds one document in memory to apply a push, and for the phones that
/// receive it. An incident whose narrative grew to 3 MiB by forty appends of 80 KB is 3.1 MiB
/// (`limits::tests::a_3_mib_history_of_80_kb_edits_fits`); a shift of [`CHECKS_PER_SHIFT`]
/// checks with typical notes is about 2 MiB.
pub const MAX_DOC_HISTORY_BYTES: u64 = 6 * 1024 * 1024;

/// Most operations in one document's history: 8,000,000. Run-length encoding lets a few bytes
/// of history stand for many operations (deleting a long text is a few bytes), so the bytes
/// alone do not bound the memory the server needs to apply a push; this does. A narrative of
/// [`NARRATIVE_TOTAL_CHARS`] is 4.2 million insertions; deleting all of it again is as many.
pub const MAX_DOC_OPS: u64 = 8_000_000;

// ---------------------------------------------------------------------------------------
// Body fields: text lengths, in characters
// ---------------------------------------------------------------------------------------

/// Names: schools, posts, checkpoints, people, involved people, students (200).
pub const NAME_CHARS: usize = 200;
/// A post's standing orders (20,000: a few printed pages).
pub const POST_ORDERS_CHARS: usize = 20_000;
/// A checkpoint's tag or QR code (128: longer than any NFC UID or QR payload we print).
pub const TAG_CODE_CHARS: usize = 128;
/// A patrol check's note (2,000: a paragraph typed on a phone at a door).
pub const CHECK_NOTE_CHARS: usize = 2_000;
/// Where an incident happened (300).
pub const LOCATION_CHARS: usize = 300;
/// What is typed into an incident's narrative at once: the narrative it is filed with, a
/// replacement, or one appended piece (100,000: about 40 printed pages).
pub const NARRATIVE_CHARS: usize = 100_000;
/// An incident's whole narrative, which grows piece by piece (4,194,304: an incident followed
/// for months; a 3 MiB narrative of forty 80 KB appends fits with room to spare). In
/// characters of two bytes or more, the history cap binds first.
pub const NARRATIVE_TOTAL_CHARS: usize = 4 * 1024 * 1024;
/// An incident's actions taken (20,000).
pub const ACTIONS_CHARS: usize = 20_000;
/// A supervisor's review comment (5,000).
pub const REVIEW_COMMENT_CHARS: usize = 5_000;
/// One supplement's text (20,000).
pub const SUPPLEMENT_CHARS: usize = 20_000;
/// A district student or staff id (64).
pub const REFERENCE_CHARS: usize = 64;
/// A contact note's reason and its outcome, each (5,000).
pub const NOTE_TEXT_CHARS: usize = 5_000;

// ---------------------------------------------------------------------------------------
// Body fields: list lengths
// ---------------------------------------------------------------------------------------

/// Checks in one shift (5,000): a 16-hour shift visiting 50 checkpoints every 10 minutes is
/// 4,800.
pub const CHECKS_PER_SHIFT: usize = 5_000;
/// People involved in one incident (100).
pub const PEOPLE_PER_INCIDENT: usize = 100;
/// Supplements to one incident (200: one every school day for a year).
pub const SUPPLEMENTS_PER_INCIDENT: usize = 200;
/// Photo references of one check or one incident (20); each must be a photo hash.
pub const PHOTOS_PER_RECORD: usize = 20;
/// People a contact note is shared with (50).
pub const SHARED_WITH: usize = 50;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A value refused by a limit: which field, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {breach}")]
pub struct LimitError {
    /// Dotted path of the field (`incident.narrative`, `docs[0].changes[3]`, ...).
    pub field: String,
    /// What was wrong.
    pub breach: Breach,
}

/// What a refused value did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// A text longer than its cap.
    #[error("is {found} characters long; at most {max} are allowed")]
    TooLong {
        /// Characters found.
        found: usize,
        /// The cap.
        max: usize,
    },
    /// A list with more entries than its cap.
    #[error("has {found} {what}; at most {max} are allowed")]
    TooMany {
        /// What the list holds (`checks`, `photo references`, ...).
        what: &'static str,
        /// Entries found.
        found: u64,
        /// The cap.
        max: u64,
    },
    /// A change or a history larger than its cap in bytes.
    #[error("is {found} bytes; at most {max} are allowed")]
    TooLarge {
        /// Bytes found.
        found: u64,
        /// The cap.
        max: u64,
    },
    /// A compressed change that inflates past the cap (inflation stops at the cap).
    #[error("is a compressed change that inflates to more than {max} bytes")]
    Inflates {
        /// The cap.
        max: u64,
    },
    /// A photo reference that is not a photo hash.
    #[error("{0:?} is not a photo reference (a SHA-256: 64 lowercase hex digits)")]
    NotAPhotoHash(String),
    /// Bytes that are not an automerge change.
    #[error("not an automerge change: {0}")]
    Malformed(String),
}

impl LimitError {
    fn new(field: impl Into<String>, breach: Breach) -> Self {
        LimitError {
            field: field.into(),
            breach,
        }
    }

    /// Whether the value was refused for its size (HTTP 413), rather than for its content.
    pub fn is_size(&self) -> bool {
        matches!(
            self.breach,
            Breach::TooLong { .. }
                | Breach::TooMany { .. }
                | Breach::TooLarge { .. }
                | Breach::Inflates { .. }
        )
    }
}

impl From<LimitError> for Error {
    fn from(e: LimitError) -> Self {
        Error::Invalid {
            field: e.field,
            reason: e.breach.to_string(),
        }
    }
}

/// Result of a limit check.
pub type LimitResult<T = ()> = std::result::Result<T, LimitError>;

// ---------------------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------------------

/// At most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> LimitResult {
    // Bytes bound characters from above: most texts need no count at all.
    if value.len() <= max {
        return Ok(());
    }
    let found = value.chars().count();
    if found > max {
        return Err(LimitError::new(field, Breach::TooLong { found, max }));
    }
    Ok(())
}

/// At most `max` entries of `what`.
pub fn list(field: &str, what: &'static str, found: usize, max: usize) -> LimitResult {
    if found > max {
        return Err(LimitError::new(
            field,
            Breach::TooMany {
                what,
                found: found as u64,
                max: max as u64,
            },
        ));
    }
    Ok(())
}

/// At most [`PHOTOS_PER_RECORD`] references, each a photo hash.
pub fn photo_refs(field: &str, photos: &[String]) -> LimitResult {
    list(field, "photo references", photos.len(), PHOTOS_PER_RECORD)?;
    for (i, p) in photos.iter().enumerate() {
        if !is_photo_hash(p) {
            // Quote at most 80 characters of what was found (cut on a character boundary).
            let shown: String = p.chars().take(80).collect();
            return Err(LimitError::new(
                format!("{field}[{i}]"),
                Breach::NotAPhotoHash(shown),
            ));
        }
    }
    Ok(())
}

/// Every cap on a shift's body.
pub fn shift(b: &ShiftBody) -> LimitResult {
    list("shift.checks", "checks", b.checks.len(), CHECKS_PER_SHIFT)?;
    for (i, c) in b.checks.iter().enumerate() {
        text(
            &format!("shift.checks[{i}].note"),
            &c.check.note,
            CHECK_NOTE_CHARS,
        )?;
        photo_refs(&format!("shift.checks[{i}].photos"), &c.check.photos)?;
    }
    Ok(())
}

/// Every cap on an incident's body.
pub fn incident(b: &IncidentBody) -> LimitResult {
    text("incident.location", &b.location, LOCATION_CHARS)?;
    text("incident.narrative", &b.narrative, NARRATIVE_TOTAL_CHARS)?;
    text("incident.actions", &b.actions, ACTIONS_CHARS)?;
    if let Some(c) = &b.review_comment {
        text("incident.review_comment", c, REVIEW_COMMENT_CHARS)?;
    }
    list(
        "incident.people",
        "people",
        b.people.len(),
        PEOPLE_PER_INCIDENT,
    )?;
    for (i, p) in b.people.iter().enumerate() {
        text(&format!("incident.people[{i}].name"), &p.name, NAME_CHARS)?;
        if let Some(r) = &p.reference {
            text(
                &format!("incident.people[{i}].reference"),
                r,
                REFERENCE_CHARS,
            )?;
        }
    }
    list(
        "incident.supplements",
        "supplements",
        b.supplements.len(),
        SUPPLEMENTS_PER_INCIDENT,
    )?;
    for (i, s) in b.supplements.iter().enumerate() {
        text(
            &format!("incident.supplements[{i}].text"),
            &s.text,
            SUPPLEMENT_CHARS,
        )?;
    }
    photo_refs("incident.photos", &b.photos)
}

/// Every cap on a contact note's body.
pub fn note(b: &NoteBody) -> LimitResult {
    text("note.student_ref", &b.student_ref, REFERENCE_CHARS)?;
    text("note.student_name", &b.student_name, NAME_CHARS)?;
    text("note.reason", &b.reason, NOTE_TEXT_CHARS)?;
    text("note.outcome", &b.outcome, NOTE_TEXT_CHARS)?;
    list(
        "note.shared_with",
        "people",
        b.shared_with.len(),
        SHARED_WITH,
    )
}

/// A document's whole history: `bytes` and `ops` summed over every change it has (stored and
/// new).
pub fn history(field: &str, bytes: u64, ops: u64) -> LimitResult {
    if bytes > MAX_DOC_HISTORY_BYTES {
        return Err(LimitError::new(
            format!("{field} history"),
            Breach::TooLarge {
                found: bytes,
                max: MAX_DOC_HISTORY_BYTES,
            },
        ));
    }
    if ops > MAX_DOC_OPS {
        return Err(LimitError::new(
            format!("{field} history"),
            Breach::TooMany {
                what: "operations",
                found: ops,
                max: MAX_DOC_OPS,
            },
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Raw changes
// ---------------------------------------------------------------------------------------

/// automerge's chunk magic bytes.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types (automerge `storage::chunk::ChunkType`).
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
/// Column ids and types (automerge `storage::change::change_op_columns`).
const ACTION_COLUMN: u32 = 4;
const PRED_COLUMN: u32 = 7;
const TYPE_GROUP: u32 = 0;
const TYPE_INTEGER: u32 = 2;
const DEFLATE_BIT: u32 = 0b1000;

/// Parses one change as a device sent it, within every cap: at most [`MAX_CHANGE_BYTES`] as
/// sent and once inflated, at most [`MAX_OPS_PER_CHANGE`] operations and
/// [`MAX_PREDS_PER_CHANGE`] predecessors. A compressed chunk is inflated here (never past the
/// cap) and handed to automerge uncompressed, so the change's hash and its stored bytes are
/// those of the uncompressed change, as automerge itself would give them. `field` names the
/// change in errors.
pub fn parse_change(field: &str, bytes: Vec<u8>) -> LimitResult<Change> {
    let max = MAX_CHANGE_BYTES as u64;
    if bytes.len() > MAX_CHANGE_BYTES {
        return Err(LimitError::new(
            field,
            Breach::TooLarge {
                found: bytes.len() as u64,
                max,
            },
        ));
    }
    let bytes = match chunk_type(&bytes) {
        Some(CHUNK_COMPRESSED) => inflate(field, &bytes)?,
        _ => bytes,
    };
    let ops = change_ops(field, &bytes)?;
    if ops.ops > MAX_OPS_PER_CHANGE {
        return Err(LimitError::new(
            field,
            Breach::TooMany {
                what: "operations",
                found: ops.ops,
                max: MAX_OPS_PER_CHANGE,
            },
        ));
    }
    if ops.preds > MAX_PREDS_PER_CHANGE {
        return Err(LimitError::new(
            field,
            Breach::TooMany {
                what: "predecessor references",
                found: ops.preds,
                max: MAX_PREDS_PER_CHANGE,
            },
        ));
    }
    Change::from_bytes(bytes).map_err(|e| LimitError::new(field, Breach::Malformed(e.to_string())))
}

/// Counts of what one change declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeOps {
    /// Operations (entries of the action column, which drives automerge's iteration).
    pub ops: u64,
    /// Predecessor references (the sum of the predecessor group column).
    pub preds: u64,
}

fn chunk_type(b: &[u8]) -> Option<u8> {
    (b.len() > 8 && b[..4] == MAGIC).then(|| b[8])
}

/// Inflates a compressed change chunk, stopping at [`MAX_CHANGE_BYTES`], into the uncompressed
/// chunk automerge itself would build from it (same checksum, chunk type 1).
fn inflate(field: &str, b: &[u8]) -> LimitResult<Vec<u8>> {
    let malformed = |why: &str| LimitError::new(field, Breach::Malformed(why.to_string()));
    let mut r = Reader::new(&b[9..]);
    let len = r.uleb().ok_or_else(|| malformed("bad chunk length"))?;
    let data = r
        .take(len)
        .ok_or_else(|| malformed("the chunk is shorter than its length"))?;
    if !r.done() {
        return Err(malformed("bytes after the change"));
    }
    let max = MAX_CHANGE_BYTES as u64;
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(max + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| malformed("the compressed chunk does not inflate"))?;
    if inflated.len() as u64 > max {
        return Err(LimitError::new(field, Breach::Inflates { max }));
    }
    let mut out = Vec::with_capacity(inflated.len() + 20);
    out.extend_from_slice(&b[..8]);
    out.push(CHUNK_CHANGE);
    write_uleb(&mut out, inflated.len() as u64);
    out.extend_from_slice(&inflated);
    Ok(out)
}

/// Counts the operations and predecessor references an uncompressed change chunk declares,
/// from its column headers and the run-length encoding of two columns: time proportional to
/// the bytes, whatever the counts. A chunk that is not an uncompressed change, or whose
/// columns are DEFLATE-compressed, is refused as malformed (automerge refuses both too).
pub fn change_ops(field: &str, b: &[u8]) -> LimitResult<ChangeOps> {
    let malformed = |why: &str| LimitError::new(field, Breach::Malformed(why.to_string()));
    match chunk_type(b) {
        Some(CHUNK_CHANGE) => {}
        Some(CHUNK_COMPRESSED) => return Err(malformed("a compressed chunk inside a chunk")),
        _ => return Err(malformed("not a change chunk")),
    }
    let short = || malformed("truncated");
    let mut r = Reader::new(&b[9..]);
    let len = r.uleb().ok_or_else(short)?;
    let mut r = Reader::new(r.take(len).ok_or_else(short)?);
    let deps = r.uleb().ok_or_else(short)?;
    r.take(deps.checked_mul(32).ok_or_else(short)?)
        .ok_or_else(short)?;
    r.bytes().ok_or_else(short)?; // actor
    r.uleb().ok_or_else(short)?; // seq
    r.uleb().ok_or_else(short)?; // start op
    r.sleb().ok_or_else(short)?; // time
    r.bytes().ok_or_else(short)?; // message
    let others = r.uleb().ok_or_else(short)?;
    for _ in 0..others {
        r.bytes().ok_or_else(short)?;
    }
    let n = r.uleb().ok_or_else(short)?;
    let mut columns = Vec::new();
    for _ in 0..n {
        let spec = u32::try_from(r.uleb().ok_or_else(short)?).map_err(|_| short())?;
        let len = r.uleb().ok_or_else(short)?;
        columns.push((spec, len));
    }
    let mut counts = ChangeOps::default();
    for (spec, len) in columns {
        let data = r.take(len).ok_or_else(short)?;
        if spec & DEFLATE_BIT != 0 {
            return Err(malformed("compressed columns in a change"));
        }
        let (id, ty) = (spec >> 4, spec & 0b111);
        if (id, ty) == (ACTION_COLUMN, TYPE_INTEGER) {
            let (entries, _) = rle_totals(data).ok_or_else(short)?;
            counts.ops = counts.ops.saturating_add(entries);
        } else if (id, ty) == (PRED_COLUMN, TYPE_GROUP) {
            let (_, sum) = rle_totals(data).ok_or_else(short)?;
            counts.preds = counts.preds.saturating_add(sum);
        }
    }
    Ok(counts)
}

/// For an automerge run-length encoded column of unsigned integers: how many entries it holds
/// and the sum of their values (both saturating). A run is a signed count: `n > 0` repeats the
/// next value `n` times, `n < 0` is followed by `-n` literal values, `0` by a count of nulls.
fn rle_totals(data: &[u8]) -> Option<(u64, u64)> {
    let mut r = Reader::new(data);
    let (mut entries, mut sum) = (0u64, 0u64);
    while !r.done() {
        let count = r.sleb()?;
        if count > 0 {
            let v = r.uleb()?;
            let n = count as u64;
            entries = entries.saturating_add(n);
            sum = sum.saturating_add(n.saturating_mul(v));
        } else if count < 0 {
            // Each literal takes at least one byte, so this loop is bounded by the bytes.
            for _ in 0..count.unsigned_abs() {
                sum = sum.saturating_add(r.uleb()?);
                entries = entries.saturating_add(1);
            }
        } else {
            entries = entries.saturating_add(r.uleb()?);
        }
    }
    Some((entries, sum))
}

/// A cursor over bytes with LEB128 reads; every read is `None` past the end.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    fn done(&self) -> bool {
        self.b.is_empty()
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        if n > self.b.len() {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.uleb()?;
        self.take(n)
    }

    fn uleb(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.first()?;
            self.b = &self.b[1..];
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            v |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn sleb(&mut self) -> Option<i64> {
        let mut v = 0i64;
        let mut shift = 0u32;
        loop {
            let byte = *self.b.first()?;
            self.b = &self.b[1..];
            if shift >= 64 {
                return None;
            }
            v |= i64::from(byte & 0x7f).wrapping_shl(shift);
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return Some(v);
            }
        }
    }
}

fn write_uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Helpers for tests of these limits, here and in the server's end-to-end tests; not part of
/// the crate's API.
#[doc(hidden)]
pub mod testing {
    use std::io::Write;

    /// A compressed automerge change chunk whose deflated body inflates to `inflated` zero
    /// bytes: 1 GiB is about 1 MiB on the wire.
    pub fn deflate_bomb(inflated: u64) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        let mut left = inflated;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            enc.write_all(&zeros[..n]).expect("deflate");
            left -= n as u64;
        }
        let data = enc.finish().expect("deflate");
        let mut out = super::MAGIC.to_vec();
        out.extend_from_slice(&[1, 2, 3, 4, super::CHUNK_COMPRESSED]);
        super::write_uleb(&mut out, data.len() as u64);
        out.extend_from_slice(&data);
        out
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ReadDoc};
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::document::{self, Header};
    use crate::model::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test timestamp")
    }

    fn header(kind: DocKind) -> Header {
        Header {
            id: Uuid::from_u128(1),
            kind,
            school_id: Uuid::from_u128(2),
            author_id: Uuid::from_u128(3),
            device_id: Uuid::from_u128(4),
            created_at: at("2026-11-30T10:00:00Z"),
            classification: Classification::Confidential,
        }
    }

    fn person(i: usize) -> InvolvedPerson {
        InvolvedPerson {
            id: Uuid::from_u128(100 + i as u128),
            name: "𝄞".repeat(NAME_CHARS),
            category: PersonCategory::Student,
            involvement: Involvement::Witness,
            juvenile: true,
            reference: Some("9".repeat(REFERENCE_CHARS)),
        }
    }

    /// The largest incident the inputs' validation lets a device file, in 4-byte characters.
    fn largest_incident() -> IncidentInput {
        IncidentInput {
            id: Uuid::from_u128(1),
            school_id: Uuid::from_u128(2),
            incident_type: IncidentType::Threat,
            location: "𝄞".repeat(LOCATION_CHARS),
            occurred_at: at("2026-11-30T09:00:00Z"),
            people: (0..PEOPLE_PER_INCIDENT).map(person).collect(),
            narrative: "𝄞".repeat(NARRATIVE_CHARS),
            actions: "𝄞".repeat(ACTIONS_CHARS),
            photos: (0..PHOTOS_PER_RECORD)
                .map(|i| format!("{i:064x}"))
                .collect(),
        }
    }

    fn last_change(doc: &Automerge) -> Change {
        doc.get_last_local_change().expect("a change")
    }

    #[test]
    fn the_largest_honest_change_fits() {
        let now = at("2026-11-30T10:00:00Z");
        let input = largest_incident();
        input.validate(now).expect("the largest valid incident");
        let h = header(DocKind::Incident);
        let mut doc = document::create(&h, h.author_id, "create_incident", |tx| {
            document::init_incident(tx, &input, now)
        })
        .expect("create");
        let created = last_change(&doc);
        // Every character of both texts rewritten, and every person replaced: the largest edit.
        // (`edit_incident` diffs the texts, which for two wholly different texts of this size
        // takes minutes; the change it ends with is this one: delete everything, insert anew.)
        let edit = IncidentEdit {
            remove_people: input.people.iter().map(|p| p.id).collect(),
            add_people: (0..PEOPLE_PER_INCIDENT)
                .map(|i| person(i + 1_000))
                .collect(),
            ..Default::default()
        };
        edit.validate(now).expect("a valid edit");
        document::change(&mut doc, now, h.author_id, "edit_incident", |tx| {
            for (key, chars) in [("narrative", NARRATIVE_CHARS), ("actions", ACTIONS_CHARS)] {
                let (_, obj) = tx
                    .get(automerge::ROOT, key)?
                    .expect("the incident has this text");
                let len = tx.length(&obj);
                tx.splice_text(&obj, 0, len as isize, &"é".repeat(chars))?;
            }
            document::edit_incident(tx, &edit)
        })
        .expect("edit");
        let edited = last_change(&doc);
        let mut total = (0u64, 0u64);
        for c in [&created, &edited] {
            let bytes = c.raw_bytes().len();
            assert!(
                bytes <= MAX_CHANGE_BYTES,
                "an honest change of {bytes} bytes must fit the cap"
            );
            let counted = change_ops("c", c.raw_bytes()).expect("counts");
            assert_eq!(
                counted.ops,
                c.len() as u64,
                "the counter agrees with automerge"
            );
            assert!(counted.ops <= MAX_OPS_PER_CHANGE, "{} ops", counted.ops);
            assert!(
                counted.preds <= MAX_PREDS_PER_CHANGE,
                "{} preds",
                counted.preds
            );
            let parsed = parse_change("c", c.raw_bytes().to_vec()).expect("accepted");
            assert_eq!(parsed.hash(), c.hash());
            total.0 += bytes as u64;
            total.1 += counted.ops;
        }
        assert!(
            edited.len() > 200_000,
            "the edit really rewrote every character ({} ops)",
            edited.len()
        );
        history("incident", total.0, total.1).expect("both fit one document's history");
        incident(&document::read_incident(&doc).expect("read")).expect("body within its caps");
    }

    /// The journey of `e2e sync::a_document_larger_than_one_answer_is_fetched_whole_in_parts`:
    /// an incident whose narrative grows to 3 MiB by forty appends of about 80 KB. Every
    /// change, the history and the body must be within the caps, or the caps are wrong.
    #[test]
    fn a_3_mib_history_of_80_kb_edits_fits() {
        let now = at("2026-11-30T10:00:00Z");
        let h = header(DocKind::Incident);
        let mut input = largest_incident();
        input.narrative = "Opened.".into();
        let mut doc = document::create(&h, h.author_id, "create_incident", |tx| {
            document::init_incident(tx, &input, now)
        })
        .expect("create");
        let piece = (3 * 1024 * 1024) / 40;
        let mut changes = vec![last_change(&doc)];
        for p in 0..40u8 {
            let edit = IncidentEdit {
                // Printable ASCII that varies, like typed text (no long runs to compress).
                append_narrative: Some(
                    (0..piece)
                        .map(|i| char::from(b' ' + ((i * 7 + usize::from(p)) % 95) as u8))
                        .collect(),
                ),
                ..Default::default()
            };
            edit.validate(now).expect("an 80 KB append is a valid edit");
            document::change(&mut doc, now, h.author_id, "edit_incident", |tx| {
                document::edit_incident(tx, &edit)
            })
            .expect("append");
            changes.push(last_change(&doc));
        }
        let (mut bytes, mut ops) = (0u64, 0u64);
        for c in &changes {
            let parsed = parse_change("c", c.raw_bytes().to_vec()).expect("each change fits");
            bytes += parsed.raw_bytes().len() as u64;
            ops += change_ops("c", parsed.raw_bytes()).expect("counts").ops;
        }
        assert!(bytes > 3 * 1024 * 1024, "a 3 MiB history: {bytes} bytes");
        history("incident", bytes, ops).expect("the history fits");
        let body = document::read_incident(&doc).expect("read");
        assert!(body.narrative.len() > 3 * 1024 * 1024);
        incident(&body).expect("the 3 MiB narrative is within the body caps");
    }

    #[test]
    fn predecessors_are_counted() {
        let now = at("2026-11-30T10:00:00Z");
        let h = header(DocKind::Incident);
        let mut input = largest_incident();
        input.narrative = "abc".repeat(100);
        let mut doc = document::create(&h, h.author_id, "create_incident", |tx| {
            document::init_incident(tx, &input, now)
        })
        .expect("create");
        document::change(&mut doc, now, h.author_id, "edit_incident", |tx| {
            document::edit_incident(
                tx,
                &IncidentEdit {
                    narrative: Some(String::new()),
                    ..Default::default()
                },
            )
        })
        .expect("edit");
        let c = last_change(&doc);
        let counted = change_ops("c", c.raw_bytes()).expect("counts");
        assert_eq!(counted.ops, 300, "one delete per character");
        assert_eq!(
            counted.preds, 300,
            "each delete names the character it deletes"
        );
    }

    /// A compressed change chunk (automerge chunk type 2) of `inflated` zero bytes, streamed
    /// through the encoder so the test never holds them.
    fn bomb(inflated: u64) -> Vec<u8> {
        testing::deflate_bomb(inflated)
    }

    #[test]
    fn a_compressed_change_never_inflates_past_the_cap() {
        let b = bomb(64 << 20);
        assert!(b.len() < 100_000, "a small bomb: {} bytes", b.len());
        let e = parse_change("docs[0].changes[0]", b).expect_err("refused");
        assert_eq!(
            e.breach,
            Breach::Inflates {
                max: MAX_CHANGE_BYTES as u64
            }
        );
        assert!(e.is_size(), "a size breach (413)");
        assert!(
            e.to_string().starts_with("docs[0].changes[0]: "),
            "names the change: {e}"
        );
    }

    #[test]
    fn a_compressed_honest_change_is_accepted_as_automerge_would_read_it() {
        let now = at("2026-11-30T10:00:00Z");
        let h = header(DocKind::Incident);
        let mut input = largest_incident();
        input.narrative = "The gate was open. ".repeat(200);
        let doc = document::create(&h, h.author_id, "create_incident", |tx| {
            document::init_incident(tx, &input, now)
        })
        .expect("create");
        let mut c = last_change(&doc);
        let compressed = c.bytes().into_owned();
        assert_eq!(
            chunk_type(&compressed),
            Some(CHUNK_COMPRESSED),
            "automerge compresses a change this size"
        );
        assert!(compressed.len() < c.raw_bytes().len());
        let parsed = parse_change("c", compressed.clone()).expect("accepted");
        assert_eq!(parsed.hash(), c.hash(), "the same change");
        assert_eq!(parsed.raw_bytes(), c.raw_bytes(), "stored uncompressed");
        let by_automerge = Change::from_bytes(compressed).expect("automerge reads it");
        assert_eq!(parsed.raw_bytes(), by_automerge.raw_bytes());
    }

    /// An uncompressed change chunk whose only column is `column` (spec, data).
    fn synthetic(column: (u32, Vec<u8>)) -> Vec<u8> {
        let mut body = vec![0u8]; // no dependencies
        body.push(16);
        body.extend_from_slice(&[7u8; 16]); // actor
        body.extend_from_slice(&[1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
        body.push(1);
        write_uleb(&mut body, u64::from(column.0));
        write_uleb(&mut body, column.1.len() as u64);
        body.extend_from_slice(&column.1);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 2, 3, 4, CHUNK_CHANGE]);
        write_uleb(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
        out
    }

    /// A run of `n` copies of `v` in automerge's run-length encoding.
    fn run(n: u64, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = n;
        // Signed LEB128 of a positive count.
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 && byte & 0x40 == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        write_uleb(&mut out, v);
        out
    }

    #[test]
    fn run_length_bombs_are_counted_from_the_bytes_and_refused() {
        let action = (ACTION_COLUMN << 4) | TYPE_INTEGER;
        let pred_group = PRED_COLUMN << 4 | TYPE_GROUP;
        let cases: [(&str, Vec<u8>, &str); 4] = [
            (
                "a trillion operations in a few bytes",
                synthetic((action, run(1_000_000_000_000, 1))),
                "operations",
            ),
            (
                "one operation with a billion predecessors",
                synthetic((pred_group, run(1, 1_000_000_000))),
                "predecessor references",
            ),
            (
                "counts that overflow saturate",
                synthetic((pred_group, run(i64::MAX as u64, u64::MAX))),
                "predecessor references",
            ),
            (
                "one over the cap",
                synthetic((action, run(MAX_OPS_PER_CHANGE + 1, 1))),
                "operations",
            ),
        ];
        for (name, bytes, says) in cases {
            assert!(bytes.len() < 64, "{name}: a tiny change");
            let e = parse_change("c", bytes).expect_err(name);
            assert!(
                matches!(e.breach, Breach::TooMany { what, .. } if what == says),
                "{name}: {e}"
            );
        }
        let deflated = synthetic((action | DEFLATE_BIT, vec![1, 2, 3]));
        let e = parse_change("c", deflated).expect_err("deflated columns");
        assert!(
            matches!(e.breach, Breach::Malformed(ref m) if m.contains("compressed columns")),
            "{e}"
        );
        assert!(!e.is_size(), "malformed, not too large");
        for junk in [
            &b"not a change"[..],
            &[],
            &MAGIC[..],
            &synthetic((1, vec![]))[..30],
        ] {
            let e = parse_change("c", junk.to_vec()).expect_err("junk");
            assert!(matches!(e.breach, Breach::Malformed(_)), "{e}");
        }
    }

    #[test]
    fn an_oversized_change_is_refused_before_parsing() {
        let e = parse_change("c", vec![0u8; MAX_CHANGE_BYTES + 1]).expect_err("too large");
        assert!(matches!(e.breach, Breach::TooLarge { .. }), "{e}");
    }

    #[test]
    fn bodies_past_their_caps_name_the_field_and_the_limit() {
        let now = at("2026-11-30T10:00:00Z");
        let ok = document::IncidentBody {
            incident_type: IncidentType::Threat,
            location: "Gym".into(),
            occurred_at: now,
            reported_at: now,
            status: IncidentStatus::Draft,
            submitted_at: None,
            review_comment: None,
            people: vec![],
            narrative: String::new(),
            actions: String::new(),
            supplements: vec![],
            photos: vec!["a".repeat(64)],
        };
        incident(&ok).expect("a small incident");
        type Case = (&'static str, fn(&mut document::IncidentBody), &'static str);
        let cases: [Case; 6] = [
            (
                "narrative",
                |b| b.narrative = "é".repeat(NARRATIVE_TOTAL_CHARS + 1),
                "incident.narrative: is 4194305 characters long; at most 4194304",
            ),
            (
                "a photo reference that is not a hash",
                |b| b.photos.push("aéééé".into()),
                "incident.photos[1]: \"aéééé\" is not a photo reference",
            ),
            (
                "too many photos",
                |b| b.photos = vec!["b".repeat(64); PHOTOS_PER_RECORD + 1],
                "incident.photos: has 21 photo references; at most 20",
            ),
            (
                "too many people",
                |b| b.people = vec![person(0); PEOPLE_PER_INCIDENT + 1],
                "incident.people: has 101 people; at most 100",
            ),
            (
                "a person's reference",
                |b| {
                    let mut p = person(0);
                    p.reference = Some("x".repeat(REFERENCE_CHARS + 1));
                    b.people = vec![p];
                },
                "incident.people[0].reference: is 65 characters",
            ),
            (
                "a review comment",
                |b| b.review_comment = Some("x".repeat(REVIEW_COMMENT_CHARS + 1)),
                "incident.review_comment",
            ),
        ];
        for (name, spoil, says) in cases {
            let mut b = ok.clone();
            spoil(&mut b);
            let e = incident(&b).expect_err(name);
            assert!(e.to_string().starts_with(says), "{name}: {e}");
        }
        let check = document::CheckRecord {
            check: crate::model::CheckInput {
                id: Uuid::nil(),
                checkpoint_id: Uuid::nil(),
                method: CheckMethod::Tag,
                result: CheckResult::Hazard,
                note: "x".repeat(CHECK_NOTE_CHARS + 1),
                photos: vec![],
                at: now,
            },
            recorded_by: Uuid::nil(),
        };
        let mut s = document::ShiftBody {
            post_id: Uuid::nil(),
            started_at: now,
            ended_at: None,
            checks: vec![check.clone()],
        };
        let e = shift(&s).expect_err("long note");
        assert_eq!(e.field, "shift.checks[0].note");
        s.checks[0].check.note.clear();
        s.checks[0].check.photos = vec!["../../etc/passwd".into()];
        assert_eq!(
            shift(&s).expect_err("bad ref").field,
            "shift.checks[0].photos[0]"
        );
        let mut clear = check;
        clear.check.note.clear();
        s.checks = vec![clear; CHECKS_PER_SHIFT + 1];
        assert_eq!(shift(&s).expect_err("too many").field, "shift.checks");
        let n = document::NoteBody {
            student_ref: "S-1".into(),
            student_name: "A".into(),
            contact_type: ContactType::Informal,
            reason: "r".into(),
            outcome: String::new(),
            referral: Referral::None,
            follow_up_on: None,
            shared_with: vec![Uuid::nil(); SHARED_WITH + 1],
            contacted_at: now,
        };
        assert_eq!(note(&n).expect_err("shared").field, "note.shared_with");
        let e = history("incident", MAX_DOC_HISTORY_BYTES + 1, 1).expect_err("history");
        assert!(e.to_string().contains("6291456"), "{e}");
        assert!(history("incident", 1, MAX_DOC_OPS + 1).is_err());
    }

    #[test]
    fn leb128_reads_match_the_standard() {
        let mut b = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            b.clear();
            write_uleb(&mut b, v);
            assert_eq!(Reader::new(&b).uleb(), Some(v), "{v}");
        }
        for (bytes, v) in [
            (&[0x7f][..], -1i64),
            (&[0x80, 0x7f], -128),
            (&[0x3f], 63),
            (&[0xc0, 0x00], 64),
        ] {
            assert_eq!(Reader::new(bytes).sleb(), Some(v), "{bytes:?}");
        }
        assert_eq!(Reader::new(&[0xff; 11]).uleb(), None, "overlong");
        assert_eq!(Reader::new(&[0x80]).uleb(), None, "truncated");
    }
}
