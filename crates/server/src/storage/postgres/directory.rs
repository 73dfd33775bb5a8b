//! [`DirectoryStore`] over PostgreSQL: reference data, people, devices, enrollment codes,
//! sessions and the sign-in throttle, as rows every server process shares.
//!
//! The throttle's check-and-count is one transaction that first takes a transaction-level
//! advisory lock per key (in a fixed order, so two attempts never wait on each other in a
//! circle): two processes checking the same name or network queue, and never both see room for
//! the last attempt.

use chrono::{DateTime, Utc};
use rounds_domain::model::{Checkpoint, Person, Post, ReferenceData, Role, Schedule, School};
use uuid::Uuid;

use super::super::rows::{ms, time};
use super::super::{
    Admission, AttemptOutcome, DeviceRecord, DirectoryStore, KeyRegistration, PersonRecord, Result,
    SessionRecord, SigningKeyRecord, ThrottleKey,
};
use super::{PgStorage, code, uid};
use crate::access::Viewer;

const PERSON_COLS: &str = "p.id, p.username, p.name, p.role, p.password_hash, p.active, \
     COALESCE((SELECT array_agg(s.school_id ORDER BY s.school_id) FROM person_schools s WHERE s.person_id = p.id), '{}')";

fn person_row(r: &tokio_postgres::Row) -> Result<PersonRecord> {
    let schools: Vec<String> = r.try_get(6)?;
    Ok(PersonRecord {
        id: uid(r.try_get(0)?)?,
        username: r.try_get(1)?,
        name: r.try_get(2)?,
        role: code(Role::parse(r.try_get(3)?, "role"))?,
        password_hash: r.try_get(4)?,
        active: r.try_get(5)?,
        schools: schools.iter().map(|s| uid(s)).collect::<Result<_>>()?,
    })
}

fn device_row(r: &tokio_postgres::Row) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: uid(r.try_get(0)?)?,
        name: r.try_get(1)?,
        secret_hash: r.try_get(2)?,
        enrolled_at: time(r.try_get(3)?),
        revoked_at: r.try_get::<_, Option<i64>>(4)?.map(time),
    })
}

/// The advisory lock of a throttle key (PostgreSQL's `hashtext`, in the `rounds` space).
const THROTTLE_LOCK_SPACE: i32 = 0x726f_756e;

async fn bump_reference(tx: &deadpool_postgres::Transaction<'_>) -> Result<()> {
    tx.execute(
        "UPDATE reference_version SET version = version + 1 WHERE only_row",
        &[],
    )
    .await?;
    Ok(())
}

impl DirectoryStore for PgStorage {
    fn admit_attempt(
        &self,
        attempt: Uuid,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Admission> {
        let (now, window) = (ms(now), window.num_milliseconds().max(1));
        let mut order: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        order.sort_unstable();
        order.dedup();
        let attempt = attempt.to_string();
        self.write(async |tx| {
            for k in &order {
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                    &[&THROTTLE_LOCK_SPACE, k],
                )
                .await?;
            }
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE at <= $1",
                &[&(now - window)],
            )
            .await?;
            let times = tx
                .prepare_cached(
                    "SELECT at FROM sign_in_attempts WHERE throttle_key = $1 AND at > $2 ORDER BY at",
                )
                .await?;
            for (i, k) in keys.iter().enumerate() {
                let at: Vec<i64> = tx
                    .query(&times, &[&k.key, &(now - window)])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let limit = k.limit.max(1) as usize;
                if at.len() >= limit {
                    let frees_at = at[at.len() - limit] + window;
                    return Ok(Admission::Refused {
                        key: i,
                        retry_after: chrono::Duration::milliseconds((frees_at - now).max(1)),
                    });
                }
            }
            let ins = tx
                .prepare_cached(
                    "INSERT INTO sign_in_attempts (attempt_id, throttle_key, at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .await?;
            for k in keys {
                tx.execute(&ins, &[&attempt, &k.key, &now]).await?;
            }
            Ok(Admission::Admitted)
        })
    }

    fn finish_attempt(&self, attempt: Uuid, outcome: AttemptOutcome<'_>) -> Result<()> {
        let forgive: Vec<String> = match outcome {
            AttemptOutcome::Failed => return Ok(()),
            AttemptOutcome::NotTried => Vec::new(),
            AttemptOutcome::Succeeded { forgive } => forgive.to_vec(),
        };
        let attempt = attempt.to_string();
        self.write(async |tx| {
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE attempt_id = $1",
                &[&attempt],
            )
            .await?;
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE throttle_key = ANY($1)",
                &[&forgive],
            )
            .await?;
            Ok(())
        })
    }

    fn reference_version(&self) -> Result<u64> {
        self.read(async |c| {
            let v: i64 = c
                .query_one("SELECT version FROM reference_version", &[])
                .await?
                .get(0);
            Ok(v.max(0) as u64)
        })
    }

    fn reference_for(&self, v: &Viewer) -> Result<ReferenceData> {
        let all = v.role == Role::Admin;
        self.read(async |c| {
            let mut schools = Vec::new();
            for r in c
                .query("SELECT id, name FROM schools ORDER BY name, id", &[])
                .await?
            {
                let s = School {
                    id: uid(r.try_get(0)?)?,
                    name: r.try_get(1)?,
                };
                if all || v.schools.contains(&s.id) {
                    schools.push(s);
                }
            }
            let ids: Vec<Uuid> = schools.iter().map(|s| s.id).collect();
            let mut posts = Vec::new();
            for r in c
                .query(
                    "SELECT id, school_id, name, orders FROM posts ORDER BY name, id",
                    &[],
                )
                .await?
            {
                let p = Post {
                    id: uid(r.try_get(0)?)?,
                    school_id: uid(r.try_get(1)?)?,
                    name: r.try_get(2)?,
                    orders: r.try_get(3)?,
                };
                if ids.contains(&p.school_id) {
                    posts.push(p);
                }
            }
            let post_ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
            let mut checkpoints = Vec::new();
            for r in c
                .query(
                    "SELECT id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes
                     FROM checkpoints ORDER BY post_id, position, id",
                    &[],
                )
                .await?
            {
                let cp = Checkpoint {
                    id: uid(r.try_get(0)?)?,
                    post_id: uid(r.try_get(1)?)?,
                    name: r.try_get(2)?,
                    tag_code: r.try_get(3)?,
                    position: r.try_get::<_, i32>(4)? as u32,
                    schedule: Schedule {
                        first_due_minutes: r.try_get::<_, i32>(5)? as u32,
                        interval_minutes: r.try_get::<_, i32>(6)? as u32,
                        grace_minutes: r.try_get::<_, i32>(7)? as u32,
                    },
                };
                if post_ids.contains(&cp.post_id) {
                    checkpoints.push(cp);
                }
            }
            let mut people = Vec::new();
            for r in c
                .query(
                    &format!("SELECT {PERSON_COLS} FROM people p WHERE p.active ORDER BY p.name, p.id"),
                    &[],
                )
                .await?
            {
                let p = person_row(&r)?;
                if all || p.schools.iter().any(|s| ids.contains(s)) {
                    people.push(Person {
                        id: p.id,
                        name: p.name,
                        role: p.role,
                        schools: p.schools.into_iter().filter(|s| ids.contains(s)).collect(),
                    });
                }
            }
            Ok(ReferenceData {
                schools,
                posts,
                checkpoints,
                people,
            })
        })
    }

    fn put_school(&self, s: &School) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO schools (id, name) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                &[&s.id.to_string(), &s.name],
            )
            .await?;
            bump_reference(tx).await
        })
    }

    fn put_post(&self, p: &Post) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO posts (id, school_id, name, orders) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, name = excluded.name, orders = excluded.orders",
                &[&p.id.to_string(), &p.school_id.to_string(), &p.name, &p.orders],
            )
            .await?;
            bump_reference(tx).await
        })
    }

    fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO checkpoints (id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET post_id = excluded.post_id, name = excluded.name, tag_code = excluded.tag_code,
                    position = excluded.position, first_due_minutes = excluded.first_due_minutes,
                    interval_minutes = excluded.interval_minutes, grace_minutes = excluded.grace_minutes",
                &[
                    &c.id.to_string(),
                    &c.post_id.to_string(),
                    &c.name,
                    &c.tag_code,
                    &int(c.position),
                    &int(c.schedule.first_due_minutes),
                    &int(c.schedule.interval_minutes),
                    &int(c.schedule.grace_minutes),
                ],
            )
            .await?;
            bump_reference(tx).await
        })
    }

    fn put_person(&self, p: &PersonRecord) -> Result<()> {
        let pid = p.id.to_string();
        let schools: Vec<String> = p.schools.iter().map(|s| s.to_string()).collect();
        self.write(async |tx| {
            let old: Option<String> = tx
                .query_opt(
                    "SELECT password_hash FROM people WHERE id = $1 FOR UPDATE",
                    &[&pid],
                )
                .await?
                .map(|r| r.get(0));
            if old.is_some_and(|h| h != p.password_hash) || !p.active {
                // A new password or a deactivation ends every session of the person at once.
                tx.execute("DELETE FROM sessions WHERE person_id = $1", &[&pid])
                    .await?;
                tx.execute("DELETE FROM console_sessions WHERE person_id = $1", &[&pid])
                    .await?;
            }
            tx.execute(
                "INSERT INTO people (id, username, name, role, password_hash, active) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, name = excluded.name, role = excluded.role,
                    password_hash = excluded.password_hash, active = excluded.active",
                &[&pid, &p.username, &p.name, &p.role.code(), &p.password_hash, &p.active],
            )
            .await?;
            tx.execute("DELETE FROM person_schools WHERE person_id = $1", &[&pid])
                .await?;
            tx.execute(
                "INSERT INTO person_schools (person_id, school_id) SELECT $1, unnest($2::text[])",
                &[&pid, &schools],
            )
            .await?;
            bump_reference(tx).await
        })
    }

    fn person(&self, pid: Uuid) -> Result<Option<PersonRecord>> {
        self.read(async |c| {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {PERSON_COLS} FROM people p WHERE p.id = $1"
                ))
                .await?;
            c.query_opt(&st, &[&pid.to_string()])
                .await?
                .map(|r| person_row(&r))
                .transpose()
        })
    }

    fn person_by_username(&self, username: &str) -> Result<Option<PersonRecord>> {
        self.read(async |c| {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {PERSON_COLS} FROM people p WHERE p.username = $1"
                ))
                .await?;
            c.query_opt(&st, &[&username])
                .await?
                .map(|r| person_row(&r))
                .transpose()
        })
    }

    fn people(&self) -> Result<Vec<PersonRecord>> {
        self.read(async |c| {
            c.query(
                &format!("SELECT {PERSON_COLS} FROM people p ORDER BY p.name, p.id"),
                &[],
            )
            .await?
            .iter()
            .map(person_row)
            .collect()
        })
    }

    fn add_enrollment_code(
        &self,
        code_hash: &str,
        created_by: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&code_hash, &created_by.to_string(), &ms(now), &ms(expires_at)],
            )
            .await?;
            Ok(())
        })
    }

    fn redeem_enrollment_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        d: &DeviceRecord,
    ) -> Result<bool> {
        let did = d.id.to_string();
        self.write(async |tx| {
            let n = tx
                .execute(
                    "UPDATE enrollment_codes SET used_at = $2, device_id = $3
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
                    &[&code_hash, &ms(now), &did],
                )
                .await?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO devices (id, name, secret_hash, enrolled_at) VALUES ($1, $2, $3, $4)",
                &[&did, &d.name, &d.secret_hash, &ms(d.enrolled_at)],
            )
            .await?;
            Ok(true)
        })
    }

    fn device(&self, did: Uuid) -> Result<Option<DeviceRecord>> {
        self.read(async |c| {
            let st = c
                .prepare_cached(
                    "SELECT id, name, secret_hash, enrolled_at, revoked_at FROM devices WHERE id = $1",
                )
                .await?;
            c.query_opt(&st, &[&did.to_string()])
                .await?
                .map(|r| device_row(&r))
                .transpose()
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>> {
        self.read(async |c| {
            c.query(
                "SELECT id, name, secret_hash, enrolled_at, revoked_at FROM devices ORDER BY enrolled_at, id",
                &[],
            )
            .await?
            .iter()
            .map(device_row)
            .collect()
        })
    }

    fn revoke_device(&self, did: Uuid, now: DateTime<Utc>) -> Result<bool> {
        self.write(async |tx| {
            let n = tx
                .execute(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                    &[&did.to_string(), &ms(now)],
                )
                .await?;
            revoke_keys(tx, did, now).await?;
            // Sessions stay: the device's next request finds the device revoked and is told so.
            Ok(n == 1)
        })
    }

    fn request_wipe(&self, did: Uuid, after_push: bool, now: DateTime<Utc>) -> Result<bool> {
        let mode = if after_push { "after_push" } else { "now" };
        self.write(async |tx| {
            let n = tx
                .execute(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, $2), wipe = $3
                     WHERE id = $1 AND wiped_at IS NULL",
                    &[&did.to_string(), &ms(now), &mode],
                )
                .await?;
            if !after_push {
                revoke_keys(tx, did, now).await?;
            }
            Ok(n == 1)
        })
    }

    fn pending_wipe(&self, did: Uuid) -> Result<Option<bool>> {
        self.read(async |c| {
            let row = c
                .query_opt(
                    "SELECT wipe FROM devices WHERE id = $1 AND wiped_at IS NULL",
                    &[&did.to_string()],
                )
                .await?;
            let wipe: Option<String> = match row {
                Some(r) => r.try_get(0)?,
                None => None,
            };
            Ok(wipe.map(|w| w == "after_push"))
        })
    }

    fn wipe_done(&self, did: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "UPDATE devices SET wiped_at = coalesce(wiped_at, $2) WHERE id = $1 AND wipe IS NOT NULL",
                &[&did.to_string(), &ms(now)],
            )
            .await?;
            revoke_keys(tx, did, now).await?;
            Ok(())
        })
    }

    fn register_signing_key(&self, k: &SigningKeyRecord) -> Result<KeyRegistration> {
        let (person, device) = (k.person_id.to_string(), k.device_id.to_string());
        self.write(async |tx| {
            let n = tx
                .execute(
                    "INSERT INTO signing_keys (public_key, person_id, device_id, registered_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (public_key) DO NOTHING",
                    &[
                        &k.public_key.as_slice(),
                        &person,
                        &device,
                        &ms(k.registered_at),
                    ],
                )
                .await?;
            if n == 1 {
                return Ok(KeyRegistration::New);
            }
            let r = tx
                .query_one(
                    "SELECT person_id, device_id FROM signing_keys WHERE public_key = $1",
                    &[&k.public_key.as_slice()],
                )
                .await?;
            let (p, d): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            Ok(if p == person && d == device {
                KeyRegistration::Known
            } else {
                KeyRegistration::Taken
            })
        })
    }

    fn signing_keys(&self, device: Uuid) -> Result<Vec<SigningKeyRecord>> {
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT public_key, person_id, registered_at, revoked_at FROM signing_keys
                     WHERE device_id = $1 ORDER BY registered_at, public_key",
                    &[&device.to_string()],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let key: Vec<u8> = r.try_get(0)?;
                    Ok(SigningKeyRecord {
                        public_key: key.try_into().map_err(|_| {
                            super::super::StorageError::backend(
                                "a stored public key is not 32 bytes",
                            )
                        })?,
                        person_id: uid(r.try_get(1)?)?,
                        device_id: device,
                        registered_at: time(r.try_get(2)?),
                        revoked_at: r.try_get::<_, Option<i64>>(3)?.map(time),
                    })
                })
                .collect()
        })
    }

    fn add_session(&self, token_hash: &str, s: &SessionRecord, now: DateTime<Utc>) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, person_id, device_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &token_hash,
                    &s.person_id.to_string(),
                    &s.device_id.map(|d| d.to_string()),
                    &ms(now),
                    &ms(s.expires_at),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        self.read(async |c| {
            let st = c
                .prepare_cached(
                    "SELECT person_id, device_id, expires_at FROM sessions WHERE token_hash = $1",
                )
                .await?;
            match c.query_opt(&st, &[&token_hash]).await? {
                None => Ok(None),
                Some(r) => Ok(Some(SessionRecord {
                    person_id: uid(r.try_get(0)?)?,
                    device_id: r.try_get::<_, Option<&str>>(1)?.map(uid).transpose()?,
                    expires_at: time(r.try_get(2)?),
                })),
            }
        })
    }
}

/// Revokes every signing key recorded on device `did` (an earlier revocation's time stays).
async fn revoke_keys(
    tx: &deadpool_postgres::Transaction<'_>,
    did: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "UPDATE signing_keys SET revoked_at = coalesce(revoked_at, $2) WHERE device_id = $1",
        &[&did.to_string(), &ms(now)],
    )
    .await?;
    Ok(())
}
