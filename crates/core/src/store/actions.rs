//! The user actions. Each is one call, one automerge change and one SQLite transaction;
//! when it returns `Ok` the record is on disk and waiting for sync.
//!
//! The device checks roles and schools too (so the app can explain a refusal at once), and
//! every change an action makes passes [`crate::rules::check_change`] before it is stored, the
//! same table the district server enforces.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::{Store, projection, reference};
use crate::document::{self, Supplement};
use crate::error::{Error, Result};
use crate::model::*;

/// A shift about to start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewShift {
    /// Id (UUIDv7, made by the caller).
    pub id: Uuid,
    /// The post.
    pub post_id: Uuid,
    /// Start time.
    pub started_at: DateTime<Utc>,
}

impl Store {
    /// Starts a shift at a post for the unlocked guard. A guard has one open shift at a time.
    pub fn start_shift(&mut self, s: &NewShift) -> Result<()> {
        let (role, schools) = self.me()?;
        let post = reference::post(&self.conn, s.post_id)?
            .ok_or_else(|| Error::invalid("shift.post_id", "is not a post known to this device"))?;
        if role != Role::Guard && role != Role::Supervisor {
            return Err(Error::Forbidden("only guards start shifts".into()));
        }
        if !schools.contains(&post.school_id) {
            return Err(Error::Forbidden(
                "this post is at a school you are not assigned to".into(),
            ));
        }
        let open: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM shifts WHERE guard_id = ?1 AND ended_at IS NULL LIMIT 1",
            )?
            .query_row(params![self.person_id.to_string()], |r| r.get(0))
            .optional()?;
        if let Some(open) = open {
            return Err(Error::Conflict(format!(
                "you already have a shift in progress ({open}); end it first"
            )));
        }
        let header = self.new_header(
            s.id,
            DocKind::Shift,
            post.school_id,
            s.started_at,
            Classification::Internal,
        );
        let doc = document::create(&header, self.person_id, "start_shift", |tx| {
            document::init_shift(tx, s.post_id, s.started_at)
        })?;
        self.insert_new(header, doc, &[])
    }

    /// Records a patrol check on an open shift of the unlocked guard.
    pub fn record_check(&mut self, shift_id: Uuid, check: &CheckInput) -> Result<()> {
        check.validate()?;
        let person = self.person_id;
        self.act(
            shift_id,
            check.at,
            "record_check",
            |store, h, doc| {
                if h.kind != DocKind::Shift {
                    return Err(Error::not_found("shift", shift_id));
                }
                if h.author_id != person {
                    return Err(Error::Forbidden("this shift belongs to another guard".into()));
                }
                let post_id: String = store
                    .conn
                    .prepare_cached("SELECT post_id FROM shifts WHERE id = ?1 AND ended_at IS NULL")?
                    .query_row(params![shift_id.to_string()], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| Error::Conflict("this shift has ended".into()))?;
                let known: bool = store
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS(SELECT 1 FROM ref_checkpoints WHERE id = ?1 AND post_id = ?2)",
                    )?
                    .query_row(params![check.checkpoint_id.to_string(), post_id], |r| r.get(0))?;
                if !known {
                    return Err(Error::invalid(
                        "check.checkpoint_id",
                        "is not a checkpoint of this shift's post",
                    ));
                }
                crate::limits::list(
                    "shift.checks",
                    "checks",
                    document::check_count(doc)? + 1,
                    crate::limits::CHECKS_PER_SHIFT,
                )?;
                Ok(())
            },
            |_, tx| document::append_check(tx, check, person),
            |tx, h, _, _| {
                projection::project_check(tx, h, &document::check_record(check, person))?;
                super::photos::attach(tx, shift_id, &check.photos, person)
            },
        )
    }

    /// Ends an open shift and compacts its document.
    pub fn end_shift(&mut self, shift_id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let person = self.person_id;
        self.act(
            shift_id,
            at,
            "end_shift",
            |_, h, doc| {
                if h.kind != DocKind::Shift {
                    return Err(Error::not_found("shift", shift_id));
                }
                if h.author_id != person {
                    return Err(Error::Forbidden(
                        "this shift belongs to another guard".into(),
                    ));
                }
                let body = document::read_shift(doc)?;
                if body.ended_at.is_some() {
                    return Err(Error::Conflict("this shift has already ended".into()));
                }
                if at < body.started_at {
                    return Err(Error::invalid(
                        "shift.ended_at",
                        "is before the shift started",
                    ));
                }
                Ok(())
            },
            |_, tx| document::end_shift(tx, at),
            |tx, h, doc, _| projection::project(tx, h, doc),
        )?;
        self.compact(shift_id)
    }

    /// Files a new incident as a draft.
    pub fn create_incident(&mut self, i: &IncidentInput, now: DateTime<Utc>) -> Result<()> {
        i.validate(now)?;
        let (role, schools) = self.me()?;
        if role == Role::Admin {
            return Err(Error::Forbidden("admins do not file incidents".into()));
        }
        if !schools.contains(&i.school_id) {
            return Err(Error::Forbidden(
                "you are not assigned to this school".into(),
            ));
        }
        let header = self.new_header(
            i.id,
            DocKind::Incident,
            i.school_id,
            now,
            Classification::Confidential,
        );
        let doc = document::create(&header, self.person_id, "create_incident", |tx| {
            document::init_incident(tx, i, now)
        })?;
        self.insert_new(header, doc, &i.photos)
    }

    /// Edits a draft or returned incident.
    pub fn edit_incident(&mut self, id: Uuid, e: &IncidentEdit, now: DateTime<Utc>) -> Result<()> {
        e.validate(now)?;
        let person = self.person_id;
        self.act(
            id,
            now,
            "edit_incident",
            |store, h, doc| {
                store.may_write_incident(h)?;
                let b = document::read_incident(doc)?;
                if !matches!(b.status, IncidentStatus::Draft | IncidentStatus::Returned) {
                    return Err(Error::Conflict(format!(
                        "this incident is {}; add a supplement instead",
                        b.status
                    )));
                }
                Ok(())
            },
            |_, tx| document::edit_incident(tx, e),
            |tx, h, doc, _| {
                projection::project(tx, h, doc)?;
                super::photos::attach(tx, id, &e.add_photos, person)
            },
        )
    }

    /// Submits a draft or returned incident for review.
    pub fn submit_incident(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.act(
            id,
            now,
            "submit_incident",
            |store, h, doc| {
                store.may_write_incident(h)?;
                let b = document::read_incident(doc)?;
                if !matches!(b.status, IncidentStatus::Draft | IncidentStatus::Returned) {
                    return Err(Error::Conflict(format!(
                        "this incident is already {}",
                        b.status
                    )));
                }
                if b.narrative.trim().is_empty() {
                    return Err(Error::invalid(
                        "incident.narrative",
                        "is required before the incident is submitted",
                    ));
                }
                Ok(())
            },
            |_, tx| document::set_incident_status(tx, IncidentStatus::Submitted, now, None),
            |tx, h, doc, _| projection::project(tx, h, doc),
        )?;
        self.compact(id)
    }

    /// A supervisor approves or returns a submitted incident.
    pub fn review_incident(
        &mut self,
        id: Uuid,
        decision: ReviewDecision,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        text(
            "review.comment",
            comment,
            0,
            crate::limits::REVIEW_COMMENT_CHARS,
        )?;
        if decision == ReviewDecision::Return && comment.trim().is_empty() {
            return Err(Error::invalid("review.comment", "say what needs to change"));
        }
        let (role, schools) = self.me()?;
        let status = match decision {
            ReviewDecision::Approve => IncidentStatus::Approved,
            ReviewDecision::Return => IncidentStatus::Returned,
        };
        self.act(
            id,
            now,
            "review_incident",
            |_, h, doc| {
                if h.kind != DocKind::Incident {
                    return Err(Error::not_found("incident", id));
                }
                if role != Role::Supervisor || !schools.contains(&h.school_id) {
                    return Err(Error::Forbidden(
                        "only a supervisor of this school reviews incidents".into(),
                    ));
                }
                let b = document::read_incident(doc)?;
                if !matches!(
                    b.status,
                    IncidentStatus::Submitted | IncidentStatus::Amended
                ) {
                    return Err(Error::Conflict(format!(
                        "this incident is {}, not submitted",
                        b.status
                    )));
                }
                Ok(())
            },
            |_, tx| document::set_incident_status(tx, status, now, Some(comment)),
            |tx, h, doc, _| projection::project(tx, h, doc),
        )
    }

    /// Adds a supplement to a submitted, returned or approved incident.
    pub fn add_supplement(
        &mut self,
        incident: Uuid,
        id: Uuid,
        text_: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        text("supplement.text", text_, 1, crate::limits::SUPPLEMENT_CHARS)?;
        let s = Supplement {
            id,
            author_id: self.person_id,
            at: now,
            text: text_.to_string(),
        };
        self.act(
            incident,
            now,
            "add_supplement",
            |store, h, doc| {
                store.may_write_incident(h)?;
                if document::read_incident(doc)?.status == IncidentStatus::Draft {
                    return Err(Error::Conflict("edit the draft itself instead".into()));
                }
                Ok(())
            },
            |_, tx| document::add_supplement(tx, &s),
            |tx, h, doc, _| projection::project(tx, h, doc),
        )
    }

    /// Writes a student-contact note (SROs only).
    pub fn write_note(&mut self, n: &NoteInput, now: DateTime<Utc>) -> Result<()> {
        n.validate(now)?;
        let (role, schools) = self.me()?;
        if role != Role::Sro {
            return Err(Error::Forbidden(
                "only school resource officers write contact notes".into(),
            ));
        }
        if !schools.contains(&n.school_id) {
            return Err(Error::Forbidden(
                "you are not assigned to this school".into(),
            ));
        }
        let header = self.new_header(
            n.id,
            DocKind::ContactNote,
            n.school_id,
            now,
            n.classification,
        );
        let doc = document::create(&header, self.person_id, "write_note", |tx| {
            document::init_note(tx, n)
        })?;
        self.insert_new(header, doc, &[])
    }

    /// Edits a contact note (its author only).
    pub fn edit_note(&mut self, id: Uuid, e: &NoteEdit, now: DateTime<Utc>) -> Result<()> {
        e.validate()?;
        let person = self.person_id;
        self.act(
            id,
            now,
            "edit_note",
            |_, h, _| {
                if h.kind != DocKind::ContactNote {
                    return Err(Error::not_found("contact note", id));
                }
                if h.author_id != person {
                    return Err(Error::Forbidden("only the note's author edits it".into()));
                }
                Ok(())
            },
            |_, tx| document::edit_note(tx, e),
            |tx, h, doc, _| projection::project(tx, h, doc),
        )
    }

    /// Whether the unlocked person may edit this incident now: a draft or returned report
    /// of one of their schools, whoever wrote it (the server accepts such edits from anyone
    /// who writes at the school). The rule [`Store::edit_incident`] applies, for the screens
    /// to offer Edit on.
    pub fn may_edit_incident(&self, view: &super::IncidentView) -> bool {
        matches!(
            view.body.status,
            IncidentStatus::Draft | IncidentStatus::Returned
        ) && self.may_write_incident(&view.header).is_ok()
    }

    fn may_write_incident(&self, h: &crate::document::Header) -> Result<()> {
        if h.kind != DocKind::Incident {
            return Err(Error::not_found("incident", h.id));
        }
        let (role, schools) = self.me()?;
        if role == Role::Admin || !schools.contains(&h.school_id) {
            return Err(Error::Forbidden(
                "you may not change incidents of this school".into(),
            ));
        }
        Ok(())
    }
}
