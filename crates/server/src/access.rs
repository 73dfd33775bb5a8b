//! Who may see and write what: the table in DESIGN.md, as pure functions.
//!
//! | kind | guard | SRO | supervisor | admin |
//! | --- | --- | --- | --- | --- |
//! | shift | own shifts | — | shifts at their schools | all, read |
//! | incident | at their schools | at their schools | at their schools | all, read |
//! | contact_note | never | own, and notes shared with them | only when shared with them | never |
//!
//! "Readers" of a contact note are its author and the people its body shares it with. The
//! change feed query in the storage layer applies the same rules in SQL
//! ([`crate::storage::Storage::feed`]); the end-to-end tests check that both agree for every
//! role × kind × school combination.

use rounds_core::document::Header;
use rounds_core::model::{DocKind, Role};
use uuid::Uuid;

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

/// May `v` receive this document?
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
        DocKind::Shift => h.classification == rounds_core::model::Classification::Internal,
        DocKind::Incident => h.classification == rounds_core::model::Classification::Confidential,
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

/// May `v` add changes to this existing document?
pub fn may_write(v: &Viewer, h: &Header, readers: &[Uuid]) -> bool {
    match (h.kind, v.role) {
        (_, Role::Admin) => false,
        (DocKind::Shift, Role::Guard) => h.author_id == v.person,
        (DocKind::Shift, Role::Supervisor) => v.at(h.school_id),
        (DocKind::Shift, Role::Sro) => false,
        (DocKind::Incident, _) => v.at(h.school_id),
        (DocKind::ContactNote, Role::Sro | Role::Supervisor) => readers.contains(&v.person),
        (DocKind::ContactNote, Role::Guard) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rounds_core::model::Classification;

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
