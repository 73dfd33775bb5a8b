//! What the field commands take and return: the argument structs the UI sends as JSON (one
//! per command, `*Args`) and the values its screens show. The commands themselves are
//! [`crate::records`], which re-exports everything here.

use chrono::{DateTime, NaiveDate, Utc};
use rounds_core::model::{
    CheckMethod, CheckResult, Classification, ContactType, IncidentStatus, IncidentType,
    Involvement, PersonCategory, Post, Referral, Role,
};
use rounds_core::store::{HistoryEntry, IncidentRow, IncidentView, ShiftView};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::Me;
use crate::status::SyncInfo;

/// The incident screen: the incident, who changed it and how, and whether the unlocked
/// person may edit it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentScreen {
    /// The incident (`header`, `body` at the top level of the JSON).
    #[serde(flatten)]
    pub view: IncidentView,
    /// Every change, oldest first, with its author's name.
    pub history: Vec<HistoryEntry>,
    /// A draft or returned report of one of the person's schools: they may edit it, whoever
    /// wrote it.
    pub may_edit: bool,
}

/// A tag code scanned or typed on a shift's round.
#[derive(Debug, Clone, Deserialize)]
pub struct FindTagArgs {
    /// The shift.
    pub shift_id: Uuid,
    /// What was scanned or typed.
    pub tag_code: String,
}

/// The home screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Home {
    /// Who is unlocked.
    pub me: Me,
    /// The posts at their schools (for starting a shift).
    pub posts: Vec<Post>,
    /// Their shift in progress.
    pub shift: Option<ShiftView>,
    /// Incidents waiting for them: drafts and returned reports.
    pub open_incidents: Vec<IncidentRow>,
    /// Sync status.
    pub sync: SyncInfo,
    /// How much the store takes on this phone (the "Storage on this phone" details).
    pub storage: rounds_core::store::StoreSize,
}

/// Start a shift.
#[derive(Debug, Clone, Deserialize)]
pub struct StartShiftArgs {
    /// The post.
    pub post_id: Uuid,
}

/// A shift by id.
#[derive(Debug, Clone, Deserialize)]
pub struct IdArgs {
    /// The record.
    pub id: Uuid,
}

/// Record a check: name the checkpoint by id (picked from the list) or by its tag code
/// (typed or scanned).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordCheckArgs {
    /// The shift.
    pub shift_id: Uuid,
    /// The checkpoint, when picked from the list.
    #[serde(default)]
    pub checkpoint_id: Option<Uuid>,
    /// Its tag code, when scanned or typed.
    #[serde(default)]
    pub tag_code: Option<String>,
    /// How it was identified (defaults: `tag` with a tag code, `manual` when picked).
    #[serde(default)]
    pub method: Option<CheckMethod>,
    /// What was found.
    pub result: CheckResult,
    /// Note (required unless all clear).
    #[serde(default)]
    pub note: String,
    /// Photo hashes (from `add_photo`).
    #[serde(default)]
    pub photos: Vec<String>,
}

/// A person involved, as the form sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct PersonArgs {
    /// Name.
    pub name: String,
    /// Student, staff...
    pub category: PersonCategory,
    /// Victim, offender...
    pub involvement: Involvement,
    /// Under 18.
    #[serde(default)]
    pub juvenile: bool,
    /// Student or staff id.
    #[serde(default)]
    pub reference: Option<String>,
}

/// File an incident.
#[derive(Debug, Clone, Deserialize)]
pub struct FileIncidentArgs {
    /// School (defaults to the person's first).
    #[serde(default)]
    pub school_id: Option<Uuid>,
    /// Type.
    pub incident_type: IncidentType,
    /// Where.
    pub location: String,
    /// When (defaults to now).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Who.
    #[serde(default)]
    pub people: Vec<PersonArgs>,
    /// What happened.
    #[serde(default)]
    pub narrative: String,
    /// Actions taken.
    #[serde(default)]
    pub actions: String,
    /// Photo hashes.
    #[serde(default)]
    pub photos: Vec<String>,
    /// Submit for review now (otherwise it stays a draft).
    #[serde(default)]
    pub submit: bool,
}

/// Edit a draft or returned incident.
#[derive(Debug, Clone, Deserialize)]
pub struct EditIncidentArgs {
    /// The incident.
    pub id: Uuid,
    /// New type.
    #[serde(default)]
    pub incident_type: Option<IncidentType>,
    /// New location.
    #[serde(default)]
    pub location: Option<String>,
    /// New time.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The narrative as edited.
    #[serde(default)]
    pub narrative: Option<String>,
    /// The actions as edited.
    #[serde(default)]
    pub actions: Option<String>,
    /// People to add.
    #[serde(default)]
    pub add_people: Vec<PersonArgs>,
    /// People entries to remove.
    #[serde(default)]
    pub remove_people: Vec<Uuid>,
    /// Photos to add.
    #[serde(default)]
    pub add_photos: Vec<String>,
}

/// A supplement to a submitted incident.
#[derive(Debug, Clone, Deserialize)]
pub struct SupplementArgs {
    /// The incident.
    pub id: Uuid,
    /// What is added.
    pub text: String,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncidentsArgs {
    /// Only this status.
    #[serde(default)]
    pub status: Option<IncidentStatus>,
    /// Only the person's own.
    #[serde(default)]
    pub mine: bool,
    /// At most this many (default 100, up to 10,000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Skip this many first.
    #[serde(default)]
    pub offset: Option<u32>,
}

/// A page of a list, with the length of the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// Rows in the whole list.
    pub total: u64,
    /// Position of the first row of this page.
    pub offset: u32,
    /// This page's rows.
    pub rows: Vec<T>,
}

/// Write a student-contact note.
#[derive(Debug, Clone, Deserialize)]
pub struct WriteNoteArgs {
    /// School (defaults to the person's first).
    #[serde(default)]
    pub school_id: Option<Uuid>,
    /// District student id.
    pub student_ref: String,
    /// Student's name.
    pub student_name: String,
    /// Kind of contact.
    pub contact_type: ContactType,
    /// Why.
    pub reason: String,
    /// What came of it.
    #[serde(default)]
    pub outcome: String,
    /// Referral.
    #[serde(default = "no_referral")]
    pub referral: Referral,
    /// Follow-up date.
    #[serde(default)]
    pub follow_up_on: Option<NaiveDate>,
    /// Legal class (defaults to a law-enforcement record).
    #[serde(default)]
    pub classification: Option<Classification>,
    /// People to share it with.
    #[serde(default)]
    pub shared_with: Vec<Uuid>,
    /// When (defaults to now).
    #[serde(default)]
    pub contacted_at: Option<DateTime<Utc>>,
}

/// Change a student-contact note (its author only): each field given replaces the note's.
#[derive(Debug, Clone, Deserialize)]
pub struct EditNoteArgs {
    /// The note.
    pub id: Uuid,
    /// New reason for the contact.
    #[serde(default)]
    pub reason: Option<String>,
    /// New outcome text.
    #[serde(default)]
    pub outcome: Option<String>,
    /// New referral.
    #[serde(default)]
    pub referral: Option<Referral>,
    /// New follow-up date: a date sets it, `null` clears it, absent leaves it.
    #[serde(default, deserialize_with = "present")]
    pub follow_up_on: Option<Option<NaiveDate>>,
    /// People to share it with, in addition.
    #[serde(default)]
    pub share_with: Vec<Uuid>,
}

/// A field that is present (`null` included) reads as `Some`: absent stays `None` through
/// `#[serde(default)]`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn no_referral() -> Referral {
    Referral::None
}

/// Which notes to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NotesArgs {
    /// One student's notes; otherwise follow-ups due in the coming `days`.
    #[serde(default)]
    pub student_ref: Option<String>,
    /// Follow-ups due within this many days (default 14), overdue ones included.
    #[serde(default)]
    pub days: Option<u32>,
}

/// A search.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchArgs {
    /// Words to find.
    pub query: String,
}

/// A photo from the camera or the gallery.
#[derive(Debug, Clone, Deserialize)]
pub struct PhotoArgs {
    /// JPEG, PNG or WebP bytes, base64.
    pub data_base64: String,
}

/// What `add_photo` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoRef {
    /// The photo's content address (SHA-256, hex): put it in a check or incident.
    pub hash: String,
}

/// A photo by its hash.
#[derive(Debug, Clone, Deserialize)]
pub struct PhotoHashArgs {
    /// Its content address.
    pub hash: String,
}

/// A photo's bytes, for showing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoData {
    /// Its content address.
    pub hash: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: &'static str,
    /// The bytes, base64.
    pub data_base64: String,
}

/// The people of the person's schools, for sharing notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Colleague {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
}
