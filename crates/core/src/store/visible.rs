//! What the unlocked person may see, in SQL: [`crate::rules::may_read`] over the `documents`
//! table, so that every list, search and detail view shows a person only their own share of
//! what a phone holds. A post phone shared by a guard and a supervisor holds the supervisor's
//! pulls too; the guard's lists must not show them.
//!
//! The person's role and schools are read from the reference data inside the query, so a
//! change of assignment shows at the next sync without reopening the store. The person's id is
//! written into the SQL as text: a UUID's text is hex digits and hyphens only, and one text per
//! unlocked store keeps `prepare_cached` effective. The tests check this SQL against
//! `may_read` for every kind, role, school and authorship.

use uuid::Uuid;

/// A condition on the row `d` of `documents`: may the person `me` read it? A person not in
/// the reference data sees nothing.
pub(super) fn document(me: Uuid, d: &str) -> String {
    let me = me.to_string();
    let role = format!("(SELECT role FROM ref_people WHERE id = '{me}')");
    let at_school = format!(
        "{d}.school_id IN (SELECT school_id FROM ref_person_schools WHERE person_id = '{me}')"
    );
    format!(
        "(CASE {d}.kind
            WHEN 'shift' THEN
                ({role} = 'guard' AND {d}.author_id = '{me}')
                OR ({role} = 'supervisor' AND {at_school})
                OR {role} = 'admin'
            WHEN 'incident' THEN {role} = 'admin' OR ({role} IS NOT NULL AND {at_school})
            WHEN 'contact_note' THEN {role} IN ('sro', 'supervisor') AND EXISTS (
                SELECT 1 FROM note_readers r WHERE r.note_id = {d}.id AND r.person_id = '{me}')
            ELSE 0
         END)"
    )
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::*;
    use crate::document::Header;
    use crate::model::{Classification, DocKind, Role};
    use crate::rules::{Viewer, may_read};

    const ME: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);
    const MINE: Uuid = Uuid::from_u128(10);
    const THEIRS: Uuid = Uuid::from_u128(11);

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("memory");
        c.execute_batch(
            "CREATE TABLE documents (id TEXT, kind TEXT, school_id TEXT, author_id TEXT);
             CREATE TABLE ref_people (id TEXT, name TEXT, role TEXT);
             CREATE TABLE ref_person_schools (person_id TEXT, school_id TEXT);
             CREATE TABLE note_readers (note_id TEXT, person_id TEXT);",
        )
        .expect("schema");
        c
    }

    #[test]
    fn the_sql_says_what_may_read_says_for_every_kind_role_school_and_author() {
        let kinds = [DocKind::Shift, DocKind::Incident, DocKind::ContactNote];
        let roles = [Role::Guard, Role::Sro, Role::Supervisor, Role::Admin];
        let mut checked = 0;
        for role in roles {
            let c = db();
            c.execute(
                "INSERT INTO ref_people VALUES (?1, 'Me', ?2)",
                params![ME.to_string(), role.code()],
            )
            .expect("me");
            c.execute(
                "INSERT INTO ref_person_schools VALUES (?1, ?2)",
                params![ME.to_string(), MINE.to_string()],
            )
            .expect("my school");
            let viewer = Viewer {
                person: ME,
                role,
                schools: vec![MINE],
            };
            let sql = format!(
                "SELECT {} FROM documents d WHERE d.id = ?1",
                document(ME, "d")
            );
            for kind in kinds {
                for school in [MINE, THEIRS] {
                    for author in [ME, OTHER] {
                        for shared in [false, true] {
                            let id = Uuid::from_u128(1000 + checked);
                            c.execute(
                                "INSERT INTO documents VALUES (?1, ?2, ?3, ?4)",
                                params![
                                    id.to_string(),
                                    kind.code(),
                                    school.to_string(),
                                    author.to_string()
                                ],
                            )
                            .expect("document");
                            let mut readers = vec![author];
                            if shared {
                                readers.push(ME);
                            }
                            if kind == DocKind::ContactNote {
                                for r in &readers {
                                    c.execute(
                                        "INSERT OR IGNORE INTO note_readers VALUES (?1, ?2)",
                                        params![id.to_string(), r.to_string()],
                                    )
                                    .expect("reader");
                                }
                            }
                            let header = Header {
                                id,
                                kind,
                                school_id: school,
                                author_id: author,
                                device_id: Uuid::nil(),
                                created_at: chrono::DateTime::UNIX_EPOCH,
                                classification: Classification::Internal,
                            };
                            let sql_says: bool = c
                                .query_row(&sql, params![id.to_string()], |r| r.get(0))
                                .expect("query");
                            assert_eq!(
                                sql_says,
                                may_read(&viewer, &header, &readers),
                                "{role:?} reading a {kind:?} of {} by {}, shared with them: {shared}",
                                if school == MINE {
                                    "their school"
                                } else {
                                    "another school"
                                },
                                if author == ME { "them" } else { "someone else" },
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * 2 * 2 * 2);
    }

    #[test]
    fn a_person_not_in_the_reference_data_sees_nothing() {
        let c = db();
        c.execute(
            "INSERT INTO documents VALUES ('x', 'incident', ?1, ?2)",
            params![MINE.to_string(), ME.to_string()],
        )
        .expect("document");
        let n: i64 = c
            .query_row(
                &format!(
                    "SELECT count(*) FROM documents d WHERE {}",
                    document(ME, "d")
                ),
                [],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(n, 0);
    }
}
