//! Domain types and their validation.
//!
//! Terms:
//! - **Reference data**: schools, posts (a guard's assignment at a school, with its post
//!   orders), checkpoints (places on a round, each with a tag code and a schedule) and people
//!   with their role and schools. Authored by district admins on the server; read-only here.
//! - **Shift**: one guard's time at one post, with the append-only list of patrol checks.
//! - **Incident**: something an officer or guard reports, typed by [`IncidentType`], which maps
//!   onto the categories schools report.
//! - **Contact note**: an SRO's note about a contact with a student. Always restricted.
//!
//! Every input type has a `validate` method; a refused value names the field and the reason.
//! The numbers (text lengths, list lengths) live in [`crate::limits`], which the server also
//! applies to every record body it receives.
//!
//! **Why one file:** every domain type with its validation, one section per record kind
//! (reference data, shift, incident, contact note, field inputs), so the whole vocabulary and
//! every rule on a value is read in one place; the types are small and many, and splitting them
//! would scatter the `validate` methods that share one set of field checks (at the end of the
//! file).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::limits::{
    ACTIONS_CHARS, CHECK_NOTE_CHARS, LOCATION_CHARS, NAME_CHARS, NARRATIVE_CHARS, NOTE_TEXT_CHARS,
    PEOPLE_PER_INCIDENT, PHOTOS_PER_RECORD, POST_ORDERS_CHARS, REFERENCE_CHARS, SHARED_WITH,
    TAG_CODE_CHARS,
};

/// Defines a closed vocabulary: a `Copy` enum with a stable snake_case code per variant
/// (`code()`, for storage and the wire) and the label people read (`label()`), written
/// `Variant = "code" => "Label"`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in documents and on the wire.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// How a person reads it (US English, sentence case): what screens, reports and
            /// exports show, never the code.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses a stable code; `field` names the input for the error.
            pub fn parse(code: &str, field: &str) -> Result<Self> {
                match code {
                    $($code => Ok($name::$variant),)+
                    other => Err(Error::invalid(
                        field,
                        format!("unknown value {other:?}; expected one of: {}",
                            [$($code),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary! {
    /// What a person does in the district; decides what they may record and see.
    Role {
        /// Walks rounds at a post.
        Guard = "guard" => "Guard",
        /// School resource officer.
        Sro = "sro" => "School resource officer",
        /// Reviews shifts and incidents at their schools.
        Supervisor = "supervisor" => "Supervisor",
        /// District administrator.
        Admin = "admin" => "Administrator",
    }
}

vocabulary! {
    /// The kind of a record document.
    DocKind {
        /// A guard's shift with its patrol checks.
        Shift = "shift" => "Shift",
        /// An incident report.
        Incident = "incident" => "Incident",
        /// A student-contact note (restricted).
        ContactNote = "contact_note" => "Contact note",
    }
}

vocabulary! {
    /// Handling class, fixed in a document's header.
    Classification {
        /// Routine operational data (shifts).
        Internal = "internal" => "Internal",
        /// Criminal-justice information (incidents).
        Confidential = "confidential" => "Confidential",
        /// A student record held by the law-enforcement unit (contact notes).
        RestrictedLawEnforcement = "restricted_law_enforcement" => "Restricted (law enforcement)",
        /// A student record that is part of the school's education record (contact notes
        /// shared with school staff; FERPA applies).
        RestrictedEducation = "restricted_education" => "Restricted (education record)",
    }
}

impl Classification {
    /// Whether this class is one of the restricted student-record classes.
    pub fn is_restricted(self) -> bool {
        matches!(
            self,
            Classification::RestrictedLawEnforcement | Classification::RestrictedEducation
        )
    }
}

vocabulary! {
    /// How a checkpoint was identified on a round.
    CheckMethod {
        /// An NFC tag was read.
        Tag = "tag" => "Tag",
        /// A QR code was scanned.
        Qr = "qr" => "QR code",
        /// Picked from the list (tag missing or unreadable).
        Manual = "manual" => "Picked from the list",
    }
}

vocabulary! {
    /// What the guard found at a checkpoint.
    CheckResult {
        /// Nothing to report.
        AllClear = "all_clear" => "All clear",
        /// Door or gate found unlocked.
        Unsecured = "unsecured" => "Unsecured",
        /// A safety hazard (spill, blocked exit, broken glass...).
        Hazard = "hazard" => "Hazard",
        /// Damage or vandalism found.
        Damage = "damage" => "Damage",
        /// Something else worth a note.
        Other = "other" => "Other",
    }
}

vocabulary! {
    /// Incident taxonomy. Each code maps onto a category schools report (see
    /// [`IncidentType::reporting_category`]).
    IncidentType {
        /// Physical fight or assault.
        FightAssault = "fight_assault" => "Fight or assault",
        /// Weapon possession or use.
        Weapon = "weapon" => "Weapon",
        /// Drugs, alcohol or tobacco/vaping.
        DrugsAlcohol = "drugs_alcohol" => "Drugs or alcohol",
        /// Theft or robbery.
        Theft = "theft" => "Theft",
        /// Vandalism or property damage.
        Vandalism = "vandalism" => "Vandalism",
        /// Trespass or unauthorized entry.
        Trespass = "trespass" => "Trespass",
        /// Threat of violence, including threats made online.
        Threat = "threat" => "Threat",
        /// Bullying or harassment.
        BullyingHarassment = "bullying_harassment" => "Bullying or harassment",
        /// Medical emergency.
        Medical = "medical" => "Medical emergency",
        /// Fire, fire alarm or alarm activation.
        FireAlarm = "fire_alarm" => "Fire or alarm",
        /// Suspicious person or activity.
        Suspicious = "suspicious" => "Suspicious person or activity",
        /// Anything else.
        Other = "other" => "Other",
    }
}

impl IncidentType {
    /// The category a school's incident report uses for this type (the school-safety
    /// categories of state and federal collections such as the CRDC and SSOCS).
    pub fn reporting_category(self) -> &'static str {
        match self {
            IncidentType::FightAssault => "Physical attack or fight",
            IncidentType::Weapon => "Possession or use of a weapon",
            IncidentType::DrugsAlcohol => "Drug, alcohol or tobacco offense",
            IncidentType::Theft => "Theft or robbery",
            IncidentType::Vandalism => "Vandalism",
            IncidentType::Trespass => "Trespass",
            IncidentType::Threat => "Threat of physical attack",
            IncidentType::BullyingHarassment => "Bullying or harassment",
            IncidentType::Medical => "Medical (non-criminal)",
            IncidentType::FireAlarm => "Fire or alarm",
            IncidentType::Suspicious => "Suspicious person or activity",
            IncidentType::Other => "Other",
        }
    }
}

vocabulary! {
    /// Where an incident is in its review cycle.
    IncidentStatus {
        /// Being written; only the author's side edits it.
        Draft = "draft" => "Draft",
        /// Sent for supervisor review.
        Submitted = "submitted" => "Submitted",
        /// Approved by a supervisor.
        Approved = "approved" => "Approved",
        /// Returned by a supervisor with a comment; editable again.
        Returned = "returned" => "Returned",
        /// Approved, then an edit made before the approval (offline) arrived: waits for
        /// review again. Derived from the history, never written (see `rules`).
        Amended = "amended" => "Amended after approval",
    }
}

vocabulary! {
    /// How a person involved in an incident relates to the school.
    PersonCategory {
        /// A student.
        Student = "student" => "Student",
        /// School staff.
        Staff = "staff" => "Staff",
        /// A visitor or someone from outside the school.
        Visitor = "visitor" => "Visitor",
        /// Not known yet.
        Unknown = "unknown" => "Unknown",
    }
}

vocabulary! {
    /// A person's part in an incident.
    Involvement {
        /// Harmed or targeted.
        Victim = "victim" => "Victim",
        /// Alleged to have done it.
        Offender = "offender" => "Offender",
        /// Saw or heard it.
        Witness = "witness" => "Witness",
        /// Reported it.
        Reporter = "reporter" => "Reporter",
        /// Otherwise involved.
        Other = "other" => "Other",
    }
}

vocabulary! {
    /// The kind of contact an SRO had with a student.
    ContactType {
        /// Mentoring conversation.
        Mentoring = "mentoring" => "Mentoring",
        /// Counseling referral made.
        CounselingReferral = "counseling_referral" => "Counseling referral",
        /// A follow-up to an earlier contact.
        FollowUp = "follow_up" => "Follow-up",
        /// Contact with a parent or guardian.
        ParentContact = "parent_contact" => "Parent contact",
        /// Informal conversation.
        Informal = "informal" => "Informal conversation",
        /// Anything else.
        Other = "other" => "Other",
    }
}

vocabulary! {
    /// Where a student was referred.
    Referral {
        /// No referral.
        None = "none" => "None",
        /// School counselor.
        Counselor = "counselor" => "Counselor",
        /// Social worker.
        SocialWorker = "social_worker" => "Social worker",
        /// School nurse or health services.
        Nurse = "nurse" => "Nurse",
        /// School administration.
        Administration = "administration" => "Administration",
        /// A community service or agency.
        CommunityService = "community_service" => "Community service",
        /// Mental-health crisis services.
        MentalHealth = "mental_health" => "Mental-health services",
    }
}

// ---------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------

/// A school in the district.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct School {
    /// Stable id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// A post: a guard assignment at a school, with its post orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id.
    pub id: Uuid,
    /// The school the post belongs to.
    pub school_id: Uuid,
    /// Display name ("North building, night").
    pub name: String,
    /// Standing instructions for the guard.
    pub orders: String,
}

/// When a checkpoint must be visited during a shift.
///
/// Visits are due every `interval_minutes` from the start of the shift (the first one at
/// `start + first_due_minutes`). A visit within `grace_minutes` of the due time is on time;
/// a later one, before the next visit is due, is late; none at all is missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Minutes after shift start when the first visit is due.
    pub first_due_minutes: u32,
    /// Minutes between visits.
    pub interval_minutes: u32,
    /// Minutes after the due time that still count as on time.
    pub grace_minutes: u32,
}

impl Schedule {
    /// Checks the schedule makes sense.
    pub fn validate(&self, field: &str) -> Result<()> {
        if self.interval_minutes == 0 || self.interval_minutes > 24 * 60 {
            return Err(Error::invalid(
                format!("{field}.interval_minutes"),
                "must be between 1 and 1440 minutes",
            ));
        }
        if self.grace_minutes >= self.interval_minutes {
            return Err(Error::invalid(
                format!("{field}.grace_minutes"),
                "must be shorter than the interval",
            ));
        }
        if self.first_due_minutes > 24 * 60 {
            return Err(Error::invalid(
                format!("{field}.first_due_minutes"),
                "must be at most 1440 minutes",
            ));
        }
        Ok(())
    }
}

/// A place on a post's round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Stable id.
    pub id: Uuid,
    /// The post whose round includes it.
    pub post_id: Uuid,
    /// Display name ("Gym east door").
    pub name: String,
    /// Code printed on / stored in its tag or QR sticker.
    pub tag_code: String,
    /// Position in the round (1, 2, 3...).
    pub position: u32,
    /// When it must be visited.
    pub schedule: Schedule,
}

/// A tag code as it is compared: letters and digits only, upper case. A scanner or a person
/// typing may add or drop spaces, hyphens, underscores, dots, slashes or other separators, and
/// change the case: `lin 01`, `lin01`, `LIN-01`, `lin_01` and `Lin.01` all read as `LIN01`.
/// Letters and digits of any script are kept, so `A-1` and `A-7` stay distinct.
pub fn tag_key(tag: &str) -> String {
    tag.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

impl Checkpoint {
    /// Whether a scanned or typed code names this checkpoint's tag (see [`tag_key`]). A code
    /// with no letter or digit names no tag.
    pub fn matches_tag(&self, scanned: &str) -> bool {
        let key = tag_key(scanned);
        !key.is_empty() && key == tag_key(&self.tag_code)
    }
}

/// A person who uses Rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// What they do.
    pub role: Role,
    /// Schools they are assigned to.
    pub schools: Vec<Uuid>,
}

/// Everything a device holds about the district, as sent down by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceData {
    /// Schools this device serves.
    pub schools: Vec<School>,
    /// Their posts.
    pub posts: Vec<Post>,
    /// The posts' checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// The people of those schools.
    pub people: Vec<Person>,
}

impl ReferenceData {
    /// Checks every item and that references point at items in the same set.
    pub fn validate(&self) -> Result<()> {
        let schools: std::collections::HashSet<Uuid> = self.schools.iter().map(|s| s.id).collect();
        for (i, s) in self.schools.iter().enumerate() {
            text(&format!("schools[{i}].name"), &s.name, 1, NAME_CHARS)?;
        }
        let mut posts = std::collections::HashSet::new();
        for (i, p) in self.posts.iter().enumerate() {
            text(&format!("posts[{i}].name"), &p.name, 1, NAME_CHARS)?;
            text(
                &format!("posts[{i}].orders"),
                &p.orders,
                0,
                POST_ORDERS_CHARS,
            )?;
            if !schools.contains(&p.school_id) {
                return Err(Error::invalid(
                    format!("posts[{i}].school_id"),
                    "refers to a school that is not in the reference data",
                ));
            }
            posts.insert(p.id);
        }
        let mut tags = std::collections::HashSet::new();
        for (i, c) in self.checkpoints.iter().enumerate() {
            text(&format!("checkpoints[{i}].name"), &c.name, 1, NAME_CHARS)?;
            text(
                &format!("checkpoints[{i}].tag_code"),
                &c.tag_code,
                1,
                TAG_CODE_CHARS,
            )?;
            c.schedule.validate(&format!("checkpoints[{i}].schedule"))?;
            if !posts.contains(&c.post_id) {
                return Err(Error::invalid(
                    format!("checkpoints[{i}].post_id"),
                    "refers to a post that is not in the reference data",
                ));
            }
            if !tags.insert((c.post_id, c.tag_code.as_str())) {
                return Err(Error::invalid(
                    format!("checkpoints[{i}].tag_code"),
                    "is used twice on the same post",
                ));
            }
        }
        for (i, p) in self.people.iter().enumerate() {
            text(&format!("people[{i}].name"), &p.name, 1, NAME_CHARS)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Field inputs
// ---------------------------------------------------------------------------------------

/// One patrol check as the guard records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInput {
    /// Id for the check (UUIDv7, made by the caller).
    pub id: Uuid,
    /// The checkpoint visited.
    pub checkpoint_id: Uuid,
    /// How it was identified.
    pub method: CheckMethod,
    /// What was found.
    pub result: CheckResult,
    /// Free-text note; required unless the result is all clear.
    pub note: String,
    /// Hashes of photos taken (content addresses, lowercase hex SHA-256).
    pub photos: Vec<String>,
    /// When the check was made (device time).
    pub at: DateTime<Utc>,
}

impl CheckInput {
    /// Checks the fields that need no store to check.
    pub fn validate(&self) -> Result<()> {
        text("check.note", &self.note, 0, CHECK_NOTE_CHARS)?;
        if self.result != CheckResult::AllClear && self.note.trim().is_empty() {
            return Err(Error::invalid(
                "check.note",
                "a note is required when the result is not all clear",
            ));
        }
        photo_refs("check.photos", &self.photos)
    }
}

/// A person involved in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvolvedPerson {
    /// Id of this entry within the incident (made by the caller).
    pub id: Uuid,
    /// Name as recorded.
    pub name: String,
    /// Relation to the school.
    pub category: PersonCategory,
    /// Part in the incident.
    pub involvement: Involvement,
    /// Under 18.
    pub juvenile: bool,
    /// District student id or staff id, when known.
    pub reference: Option<String>,
}

impl InvolvedPerson {
    fn validate(&self, field: &str) -> Result<()> {
        text(&format!("{field}.name"), &self.name, 1, NAME_CHARS)?;
        if let Some(r) = &self.reference {
            text(&format!("{field}.reference"), r, 1, REFERENCE_CHARS)?;
        }
        if self.category == PersonCategory::Staff && self.juvenile {
            return Err(Error::invalid(
                format!("{field}.juvenile"),
                "staff members cannot be juveniles",
            ));
        }
        Ok(())
    }
}

/// A new incident as the officer files it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentInput {
    /// Id (UUIDv7, made by the caller).
    pub id: Uuid,
    /// The school it happened at.
    pub school_id: Uuid,
    /// Its type.
    pub incident_type: IncidentType,
    /// Where it happened ("Cafeteria, east side").
    pub location: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// People involved.
    pub people: Vec<InvolvedPerson>,
    /// What happened.
    pub narrative: String,
    /// Actions taken.
    pub actions: String,
    /// Photo hashes.
    pub photos: Vec<String>,
}

impl IncidentInput {
    /// Checks every field; `now` bounds the occurrence time.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        text("incident.location", &self.location, 1, LOCATION_CHARS)?;
        not_in_future("incident.occurred_at", self.occurred_at, now)?;
        text("incident.narrative", &self.narrative, 0, NARRATIVE_CHARS)?;
        text("incident.actions", &self.actions, 0, ACTIONS_CHARS)?;
        people("incident.people", &self.people)?;
        photo_refs("incident.photos", &self.photos)
    }
}

/// An edit to an incident that is still a draft or was returned. `None` leaves a field as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentEdit {
    /// New type.
    pub incident_type: Option<IncidentType>,
    /// New location.
    pub location: Option<String>,
    /// New occurrence time.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Text appended to the narrative (merges with concurrent appends elsewhere).
    pub append_narrative: Option<String>,
    /// The whole narrative as edited (diffed into the shared text, so concurrent edits merge).
    pub narrative: Option<String>,
    /// The whole actions-taken text as edited.
    pub actions: Option<String>,
    /// People to add.
    pub add_people: Vec<InvolvedPerson>,
    /// Ids of people entries to remove.
    pub remove_people: Vec<Uuid>,
    /// Photo hashes to add.
    pub add_photos: Vec<String>,
}

impl IncidentEdit {
    /// Checks every field that is set.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        if let Some(l) = &self.location {
            text("incident.location", l, 1, LOCATION_CHARS)?;
        }
        if let Some(t) = self.occurred_at {
            not_in_future("incident.occurred_at", t, now)?;
        }
        if let Some(n) = &self.append_narrative {
            text("incident.append_narrative", n, 1, NARRATIVE_CHARS)?;
        }
        if let Some(n) = &self.narrative {
            text("incident.narrative", n, 0, NARRATIVE_CHARS)?;
        }
        if let Some(a) = &self.actions {
            text("incident.actions", a, 0, ACTIONS_CHARS)?;
        }
        people("incident.add_people", &self.add_people)?;
        photo_refs("incident.add_photos", &self.add_photos)
    }
}

/// A supervisor's decision on a submitted incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Accept the report.
    Approve,
    /// Send it back to the author with a comment.
    Return,
}

/// A new student-contact note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteInput {
    /// Id (UUIDv7, made by the caller).
    pub id: Uuid,
    /// The school the student attends.
    pub school_id: Uuid,
    /// District student id.
    pub student_ref: String,
    /// Student's name as recorded.
    pub student_name: String,
    /// Kind of contact.
    pub contact_type: ContactType,
    /// Why the contact happened.
    pub reason: String,
    /// What came of it.
    pub outcome: String,
    /// Where the student was referred.
    pub referral: Referral,
    /// When to follow up, if at all.
    pub follow_up_on: Option<NaiveDate>,
    /// Legal class (one of the restricted classes).
    pub classification: Classification,
    /// People the note is explicitly shared with.
    pub shared_with: Vec<Uuid>,
    /// When the contact happened.
    pub contacted_at: DateTime<Utc>,
}

impl NoteInput {
    /// Checks every field; `now` bounds the contact time.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        text("note.student_ref", &self.student_ref, 1, REFERENCE_CHARS)?;
        text("note.student_name", &self.student_name, 1, NAME_CHARS)?;
        text("note.reason", &self.reason, 1, NOTE_TEXT_CHARS)?;
        text("note.outcome", &self.outcome, 0, NOTE_TEXT_CHARS)?;
        not_in_future("note.contacted_at", self.contacted_at, now)?;
        if !self.classification.is_restricted() {
            return Err(Error::invalid(
                "note.classification",
                "a contact note must be restricted_law_enforcement or restricted_education",
            ));
        }
        if let Some(d) = self.follow_up_on
            && d < self.contacted_at.date_naive()
        {
            return Err(Error::invalid(
                "note.follow_up_on",
                "is before the contact itself",
            ));
        }
        if self.shared_with.len() > SHARED_WITH {
            return Err(Error::invalid(
                "note.shared_with",
                format!("at most {SHARED_WITH} people"),
            ));
        }
        Ok(())
    }
}

/// An edit to a contact note by its author.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteEdit {
    /// New reason (why the contact happened; never empty).
    pub reason: Option<String>,
    /// New outcome text.
    pub outcome: Option<String>,
    /// New referral.
    pub referral: Option<Referral>,
    /// New follow-up date (`Some(None)` clears it).
    pub follow_up_on: Option<Option<NaiveDate>>,
    /// People to share with, in addition.
    pub share_with: Vec<Uuid>,
}

impl NoteEdit {
    /// Checks every field that is set.
    pub fn validate(&self) -> Result<()> {
        if let Some(r) = &self.reason {
            text("note.reason", r, 1, NOTE_TEXT_CHARS)?;
        }
        if let Some(o) = &self.outcome {
            text("note.outcome", o, 0, NOTE_TEXT_CHARS)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------------------

/// Length (in characters) and content checks for free text: `min..=max` characters, not
/// blank when required, no control characters but newlines and tabs.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len < min || (min > 0 && value.trim().is_empty()) {
        return Err(Error::invalid(field, "is required"));
    }
    if len > max {
        return Err(Error::invalid(
            field,
            format!("is {len} characters long; at most {max} are allowed"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Device clocks drift; anything more than this ahead of `now` is refused.
const CLOCK_SKEW_MINUTES: i64 = 10;

fn not_in_future(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
    if at > now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES) {
        return Err(Error::invalid(field, "is in the future"));
    }
    if at.timestamp() < 946_684_800 {
        return Err(Error::invalid(field, "is before the year 2000"));
    }
    Ok(())
}

fn people(field: &str, list: &[InvolvedPerson]) -> Result<()> {
    if list.len() > PEOPLE_PER_INCIDENT {
        return Err(Error::invalid(
            field,
            format!("at most {PEOPLE_PER_INCIDENT} people per incident"),
        ));
    }
    for (i, p) in list.iter().enumerate() {
        p.validate(&format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// Whether `s` is a photo's content address: its SHA-256 as 64 lowercase hex digits.
pub fn is_photo_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The image types a photo may have: what the app's camera and file picker produce. The device
/// refuses to keep anything else, the server refuses to receive anything else (checked from
/// the first bytes of an upload), and the console serves a photo with the type its bytes name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// `FF D8 FF`.
    Jpeg,
    /// The eight-byte PNG signature.
    Png,
    /// `RIFF` ... `WEBP`.
    Webp,
}

impl ImageType {
    /// The fewest leading bytes [`ImageType::of`] needs to tell every type apart.
    pub const SNIFF_BYTES: usize = 12;

    /// The image type the bytes start with, if any.
    pub fn of(b: &[u8]) -> Option<ImageType> {
        if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else {
            None
        }
    }

    /// The type's MIME name.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
        }
    }
}

/// Photo references are lowercase hex SHA-256 digests.
pub(crate) fn photo_refs(field: &str, photos: &[String]) -> Result<()> {
    if photos.len() > PHOTOS_PER_RECORD {
        return Err(Error::invalid(
            field,
            format!("at most {PHOTOS_PER_RECORD} photos"),
        ));
    }
    for (i, p) in photos.iter().enumerate() {
        if !is_photo_hash(p) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                "is not a SHA-256 content hash (64 lowercase hex digits)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test timestamp")
    }

    /// Every label of one vocabulary: read by people, so no code shows through (no `_`, not
    /// the lower-case code), each starts with a capital and no two are alike.
    fn labels_read_as_words<T: Copy>(
        all: &[T],
        code: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
    ) {
        let mut seen = std::collections::HashSet::new();
        for v in all.iter().copied() {
            let (c, l) = (code(v), label(v));
            assert!(!l.contains('_'), "{c}: label {l:?} has no underscore");
            assert!(
                l.starts_with(|ch: char| ch.is_uppercase()),
                "{c}: {l:?} is capitalised"
            );
            assert_ne!(
                l,
                c.replace('_', " "),
                "{c}: the label is not the code with spaces"
            );
            assert!(
                seen.insert(l),
                "{c}: label {l:?} is not shared with another value"
            );
        }
    }

    #[test]
    fn every_vocabulary_has_readable_labels() {
        labels_read_as_words(Role::ALL, Role::code, Role::label);
        labels_read_as_words(DocKind::ALL, DocKind::code, DocKind::label);
        labels_read_as_words(
            Classification::ALL,
            Classification::code,
            Classification::label,
        );
        labels_read_as_words(CheckMethod::ALL, CheckMethod::code, CheckMethod::label);
        labels_read_as_words(CheckResult::ALL, CheckResult::code, CheckResult::label);
        labels_read_as_words(IncidentType::ALL, IncidentType::code, IncidentType::label);
        labels_read_as_words(
            IncidentStatus::ALL,
            IncidentStatus::code,
            IncidentStatus::label,
        );
        labels_read_as_words(
            PersonCategory::ALL,
            PersonCategory::code,
            PersonCategory::label,
        );
        labels_read_as_words(Involvement::ALL, Involvement::code, Involvement::label);
        labels_read_as_words(ContactType::ALL, ContactType::code, ContactType::label);
        labels_read_as_words(Referral::ALL, Referral::code, Referral::label);
        // The ones the issue names, exactly.
        assert_eq!(IncidentType::FightAssault.label(), "Fight or assault");
        assert_eq!(CheckResult::AllClear.label(), "All clear");
        assert_eq!(IncidentStatus::Submitted.label(), "Submitted");
        // Codes are unchanged: stored documents and the wire still use them.
        assert_eq!(IncidentType::FightAssault.code(), "fight_assault");
        assert_eq!(IncidentType::FightAssault.to_string(), "fight_assault");
    }

    #[test]
    fn vocabulary_codes_round_trip_and_unknown_codes_name_the_field() {
        for t in IncidentType::ALL {
            assert_eq!(IncidentType::parse(t.code(), "x").ok(), Some(*t));
        }
        let err = IncidentType::parse("riot", "incident.type").expect_err("unknown code");
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "incident.type"));
        assert!(
            err.to_string().contains("fight_assault"),
            "lists the allowed codes"
        );
    }

    #[test]
    fn a_problem_check_needs_a_note() {
        let mut c = CheckInput {
            id: Uuid::nil(),
            checkpoint_id: Uuid::nil(),
            method: CheckMethod::Tag,
            result: CheckResult::Hazard,
            note: " ".into(),
            photos: vec![],
            at: at("2026-11-30T10:00:00Z"),
        };
        assert!(matches!(c.validate(), Err(Error::Invalid { field, .. }) if field == "check.note"));
        c.result = CheckResult::AllClear;
        assert!(c.validate().is_ok(), "all clear needs no note");
    }

    #[test]
    fn incident_in_the_future_or_with_bad_people_is_refused() {
        let now = at("2026-11-30T10:00:00Z");
        let mut i = IncidentInput {
            id: Uuid::nil(),
            school_id: Uuid::nil(),
            incident_type: IncidentType::Threat,
            location: "Gym".into(),
            occurred_at: at("2026-11-30T11:00:00Z"),
            people: vec![],
            narrative: String::new(),
            actions: String::new(),
            photos: vec![],
        };
        let e = i.validate(now).expect_err("future");
        assert!(matches!(e, Error::Invalid { ref field, .. } if field == "incident.occurred_at"));
        i.occurred_at = now;
        i.people.push(InvolvedPerson {
            id: Uuid::nil(),
            name: "Ms Ray".into(),
            category: PersonCategory::Staff,
            involvement: Involvement::Witness,
            juvenile: true,
            reference: None,
        });
        let e = i.validate(now).expect_err("juvenile staff");
        assert!(
            matches!(e, Error::Invalid { ref field, .. } if field == "incident.people[0].juvenile")
        );
    }

    #[test]
    fn schedules_need_a_grace_shorter_than_the_interval() {
        let s = Schedule {
            first_due_minutes: 0,
            interval_minutes: 30,
            grace_minutes: 30,
        };
        assert!(
            matches!(s.validate("cp"), Err(Error::Invalid { field, .. }) if field == "cp.grace_minutes")
        );
    }

    #[test]
    fn photo_refs_must_be_sha256_hex() {
        assert!(photo_refs("p", &["ab".into()]).is_err());
        assert!(photo_refs("p", &["a".repeat(64)]).is_ok());
        assert!(
            photo_refs("p", &["A".repeat(64)]).is_err(),
            "uppercase is refused"
        );
    }
}
