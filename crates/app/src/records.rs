//! The field commands: what guards and officers do, each a thin call into the core store.
//!
//! Every command takes one argument struct (what the UI sends as JSON) and returns what the
//! screen shows next, so a tap needs one round trip. Ids and times come from the app's
//! [`crate::env::Env`]; "now" defaults apply here, not in the UI, so a phone's web view and
//! the store agree on the clock.
//!
//! A command that saves returns [`Saved`]: the screen's next view and, beside it, the status
//! line as of the instant the save returned (what now waits to sync), so the status line is
//! never behind what the screen shows.
//!
//! The argument structs and the screens' values are in [`crate::record_types`] (re-exported
//! here).

use chrono::NaiveDate;
use rounds_core::model::Checkpoint;
use rounds_core::model::{
    CheckInput, CheckMethod, Classification, IncidentEdit, IncidentInput, IncidentStatus,
    InvolvedPerson, NoteEdit, NoteInput, Role, School,
};
use rounds_core::store::{
    IncidentFilter, IncidentRow, NewShift, NoteRow, NoteView, SearchHit, ShiftRow, ShiftView,
};
use uuid::Uuid;

use crate::app::{App, Me};
use crate::error::{AppError, Kind, Result};
pub use crate::status::{Problem, Saved, SyncInfo};

pub use crate::record_types::*;

fn mime_of(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        _ => "image/jpeg",
    }
}

fn checkpoint_for_tag(u: &crate::app::Unlocked, shift_id: Uuid, tag: &str) -> Result<Checkpoint> {
    let post = u.store.post_of(shift_id)?;
    u.store.checkpoint_by_tag(post, tag).map_err(|e| match e {
        rounds_core::error::Error::NotFound { .. } => AppError::invalid(
            "tag_code",
            format!("No checkpoint on this round has the tag {:?}.", tag.trim()),
        ),
        e => e.into(),
    })
}

fn incident_screen(u: &mut crate::app::Unlocked, id: Uuid) -> Result<IncidentScreen> {
    let view = u.store.incident(id)?;
    Ok(IncidentScreen {
        may_edit: u.store.may_edit_incident(&view),
        history: u.store.history(id)?,
        view,
    })
}

fn school_of(me: &Me, asked: Option<Uuid>) -> Result<Uuid> {
    match asked {
        Some(s) => Ok(s),
        None => me.schools.first().map(|s: &School| s.id).ok_or_else(|| {
            AppError::new(
                Kind::Forbidden,
                "Your schools are not on this device yet. Sync with the district server first.",
            )
        }),
    }
}

impl App {
    /// The home screen.
    pub fn home(&self) -> Result<Home> {
        let (me, posts, shift, open_incidents, storage) = self.with_store(|u, now| {
            let reference = u.store.reference_data()?;
            let schools: Vec<Uuid> = u.me.schools.iter().map(|s| s.id).collect();
            let posts = reference
                .posts
                .into_iter()
                .filter(|p| schools.contains(&p.school_id))
                .collect();
            let shift = if u.me.role == Role::Guard {
                u.store.current_shift(now)?
            } else {
                None
            };
            let mut open = Vec::new();
            for status in [IncidentStatus::Returned, IncidentStatus::Draft] {
                open.extend(u.store.incidents(&IncidentFilter {
                    status: Some(status),
                    mine: true,
                    limit: Some(50),
                    ..IncidentFilter::default()
                })?);
            }
            Ok((u.me.clone(), posts, shift, open, u.store.storage_size()?))
        })?;
        Ok(Home {
            me,
            posts,
            shift,
            open_incidents,
            sync: self.sync_info()?,
            storage,
        })
    }

    /// Starts a shift at a post.
    pub fn start_shift(&self, a: StartShiftArgs) -> Result<Saved<ShiftView>> {
        let id = self.env.new_id();
        self.saved(|u, now| {
            u.store.start_shift(&NewShift {
                id,
                post_id: a.post_id,
                started_at: now,
            })?;
            Ok(u.store.shift(id, now)?)
        })
    }

    /// The checkpoint of a shift's round that a scanned or typed tag names, matched by the
    /// core whatever its case and separators (`lin 01`, `LIN-01`, `lin_01`); the screen opens
    /// its check sheet.
    pub fn find_checkpoint(&self, a: FindTagArgs) -> Result<Checkpoint> {
        self.with_store(|u, _| checkpoint_for_tag(u, a.shift_id, &a.tag_code))
    }

    /// Records a check and returns the round as it now stands.
    pub fn record_check(&self, a: RecordCheckArgs) -> Result<Saved<ShiftView>> {
        let id = self.env.new_id();
        self.saved(|u, now| {
            let (checkpoint_id, default_method) = match (a.checkpoint_id, &a.tag_code) {
                (Some(c), _) => (c, CheckMethod::Manual),
                (None, Some(tag)) => (checkpoint_for_tag(u, a.shift_id, tag)?.id, CheckMethod::Tag),
                (None, None) => {
                    return Err(AppError::invalid(
                        "checkpoint_id",
                        "Pick a checkpoint or scan its tag.",
                    ));
                }
            };
            u.store.record_check(
                a.shift_id,
                &CheckInput {
                    id,
                    checkpoint_id,
                    method: a.method.unwrap_or(default_method),
                    result: a.result,
                    note: a.note,
                    photos: a.photos,
                    at: now,
                },
            )?;
            Ok(u.store.shift(a.shift_id, now)?)
        })
    }

    /// Ends a shift; returns it with its final summary.
    pub fn end_shift(&self, a: IdArgs) -> Result<Saved<ShiftView>> {
        self.saved(|u, now| {
            // The store compacts the ended shift's document itself.
            u.store.end_shift(a.id, now)?;
            Ok(u.store.shift(a.id, now)?)
        })
    }

    /// One shift with its round.
    pub fn shift(&self, a: IdArgs) -> Result<ShiftView> {
        self.with_store(|u, now| Ok(u.store.shift(a.id, now)?))
    }

    /// Recent shifts.
    pub fn shifts(&self) -> Result<Vec<ShiftRow>> {
        self.with_store(|u, _| Ok(u.store.shifts(200)?))
    }

    /// Files an incident, as a draft or submitted at once.
    pub fn file_incident(&self, a: FileIncidentArgs) -> Result<Saved<IncidentScreen>> {
        let id = self.env.new_id();
        let people: Vec<InvolvedPerson> = a.people.into_iter().map(|p| self.involved(p)).collect();
        self.saved(|u, now| {
            let school_id = school_of(&u.me, a.school_id)?;
            u.store.create_incident(
                &IncidentInput {
                    id,
                    school_id,
                    incident_type: a.incident_type,
                    location: a.location,
                    occurred_at: a.occurred_at.unwrap_or(now),
                    people,
                    narrative: a.narrative,
                    actions: a.actions,
                    photos: a.photos,
                },
                now,
            )?;
            if a.submit {
                u.store.submit_incident(id, now)?;
            }
            incident_screen(u, id)
        })
    }

    fn involved(&self, p: PersonArgs) -> InvolvedPerson {
        InvolvedPerson {
            id: self.env.new_id(),
            name: p.name,
            category: p.category,
            involvement: p.involvement,
            juvenile: p.juvenile,
            reference: p.reference.filter(|r| !r.trim().is_empty()),
        }
    }

    /// Edits a draft or returned incident, the person's own or a colleague's at their school.
    pub fn edit_incident(&self, a: EditIncidentArgs) -> Result<Saved<IncidentScreen>> {
        let add_people = a.add_people.into_iter().map(|p| self.involved(p)).collect();
        self.saved(|u, now| {
            u.store.edit_incident(
                a.id,
                &IncidentEdit {
                    incident_type: a.incident_type,
                    location: a.location,
                    occurred_at: a.occurred_at,
                    append_narrative: None,
                    narrative: a.narrative,
                    actions: a.actions,
                    add_people,
                    remove_people: a.remove_people,
                    add_photos: a.add_photos,
                },
                now,
            )?;
            incident_screen(u, a.id)
        })
    }

    /// Submits a draft (or returned) incident for review.
    pub fn submit_incident(&self, a: IdArgs) -> Result<Saved<IncidentScreen>> {
        self.saved(|u, now| {
            u.store.submit_incident(a.id, now)?;
            incident_screen(u, a.id)
        })
    }

    /// Adds a supplement to a submitted incident.
    pub fn add_supplement(&self, a: SupplementArgs) -> Result<Saved<IncidentScreen>> {
        let sid = self.env.new_id();
        self.saved(|u, now| {
            u.store.add_supplement(a.id, sid, &a.text, now)?;
            incident_screen(u, a.id)
        })
    }

    /// Lists incidents, newest first, a page at a time: a list of 10,000 opens with its first
    /// page and loads the others as they scroll into view.
    pub fn incidents(&self, a: IncidentsArgs) -> Result<Page<IncidentRow>> {
        self.with_store(|u, _| {
            let filter = IncidentFilter {
                status: a.status,
                mine: a.mine,
                limit: Some(a.limit.unwrap_or(100)),
                offset: a.offset,
                ..IncidentFilter::default()
            };
            Ok(Page {
                total: u.store.count_incidents(&filter)?,
                offset: a.offset.unwrap_or(0),
                rows: u.store.incidents(&filter)?,
            })
        })
    }

    /// One incident in full, with its history and whether the person may edit it.
    pub fn incident(&self, a: IdArgs) -> Result<IncidentScreen> {
        self.with_store(|u, _| incident_screen(u, a.id))
    }

    /// Writes a student-contact note.
    pub fn write_note(&self, a: WriteNoteArgs) -> Result<Saved<NoteView>> {
        let id = self.env.new_id();
        self.saved(|u, now| {
            let school_id = school_of(&u.me, a.school_id)?;
            u.store.write_note(
                &NoteInput {
                    id,
                    school_id,
                    student_ref: a.student_ref.trim().to_string(),
                    student_name: a.student_name,
                    contact_type: a.contact_type,
                    reason: a.reason,
                    outcome: a.outcome,
                    referral: a.referral,
                    follow_up_on: a.follow_up_on,
                    classification: a
                        .classification
                        .unwrap_or(Classification::RestrictedLawEnforcement),
                    shared_with: a.shared_with,
                    contacted_at: a.contacted_at.unwrap_or(now),
                },
                now,
            )?;
            Ok(u.store.note(id)?)
        })
    }

    /// The author changes a note's reason, outcome, referral or follow-up date.
    pub fn edit_note(&self, a: EditNoteArgs) -> Result<Saved<NoteView>> {
        let edit = NoteEdit {
            reason: a.reason,
            outcome: a.outcome,
            referral: a.referral,
            follow_up_on: a.follow_up_on,
            share_with: a.share_with,
        };
        self.saved(|u, now| {
            u.store.edit_note(a.id, &edit, now)?;
            Ok(u.store.note(a.id)?)
        })
    }

    /// Notes for a student, or follow-ups coming due.
    pub fn notes(&self, a: NotesArgs) -> Result<Vec<NoteRow>> {
        self.with_store(|u, now| {
            Ok(match a.student_ref.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => u.store.notes_for_student(s)?,
                _ => {
                    let today = now.date_naive();
                    let to = today + chrono::Duration::days(i64::from(a.days.unwrap_or(14)));
                    u.store
                        .notes_due(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today), to)?
                }
            })
        })
    }

    /// One note in full.
    pub fn note(&self, a: IdArgs) -> Result<NoteView> {
        self.with_store(|u, _| Ok(u.store.note(a.id)?))
    }

    /// Searches narratives, locations, notes.
    pub fn search(&self, a: SearchArgs) -> Result<Vec<SearchHit>> {
        self.with_store(|u, _| Ok(u.store.search(&a.query, 100)?))
    }

    /// Keeps a photo on the device (sealed, addressed by its hash) for a check or an
    /// incident; it syncs to the server separately, resumably.
    pub fn add_photo(&self, a: PhotoArgs) -> Result<PhotoRef> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(a.data_base64.trim())
            .map_err(|_| AppError::invalid("photo", "The photo could not be read."))?;
        let mut entropy = self.env.entropy();
        let hash = self.saving(|u, now| Ok(u.store.add_photo(&bytes, now, entropy.as_mut())?))?;
        Ok(PhotoRef { hash })
    }

    /// A photo on this device, for showing it.
    pub fn photo(&self, a: PhotoHashArgs) -> Result<PhotoData> {
        use base64::Engine as _;
        self.with_store(|u, _| {
            let bytes = u.store.photo_bytes(&a.hash)?;
            Ok(PhotoData {
                mime: mime_of(&bytes),
                data_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                hash: a.hash,
            })
        })
    }

    /// The people of the person's schools.
    pub fn colleagues(&self) -> Result<Vec<Colleague>> {
        self.with_store(|u, _| {
            let schools: Vec<Uuid> = u.me.schools.iter().map(|s| s.id).collect();
            Ok(u.store
                .reference_data()?
                .people
                .into_iter()
                .filter(|p| p.id != u.me.id && p.schools.iter().any(|s| schools.contains(s)))
                .map(|p| Colleague {
                    id: p.id,
                    name: p.name,
                    role: p.role,
                })
                .collect())
        })
    }
}
