//! [`DirectoryStore`] over the SQLite backend: the directory: reference data, people, devices, enrollment codes, sessions and the sign-in throttle.

use super::*;

impl DirectoryStore for SqliteStorage {
    fn admit_attempt(
        &self,
        attempt: Uuid,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Admission> {
        let (now, window) = (ms(now), window.num_milliseconds().max(1));
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE at <= ?1",
                params![now - window],
            )?;
            {
                let mut times = tx.prepare_cached(
                    "SELECT at FROM sign_in_attempts WHERE throttle_key = ?1 AND at > ?2 ORDER BY at",
                )?;
                for (i, k) in keys.iter().enumerate() {
                    let at: Vec<i64> = times
                        .query_map(params![k.key, now - window], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    let limit = k.limit.max(1) as usize;
                    if at.len() >= limit {
                        // Room again once all but `limit - 1` of them are older than the window.
                        let frees_at = at[at.len() - limit] + window;
                        return Ok(Admission::Refused {
                            key: i,
                            retry_after: chrono::Duration::milliseconds((frees_at - now).max(1)),
                        });
                    }
                }
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO sign_in_attempts (attempt_id, throttle_key, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?;
            for k in keys {
                ins.execute(params![attempt.to_string(), k.key, now])?;
            }
            Ok(Admission::Admitted)
        })
    }

    fn finish_attempt(&self, attempt: Uuid, outcome: AttemptOutcome<'_>) -> Result<()> {
        let forgive = match outcome {
            AttemptOutcome::Failed => return Ok(()),
            AttemptOutcome::NotTried => &[][..],
            AttemptOutcome::Succeeded { forgive } => forgive,
        };
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE attempt_id = ?1",
                params![attempt.to_string()],
            )?;
            for k in forgive {
                tx.execute(
                    "DELETE FROM sign_in_attempts WHERE throttle_key = ?1",
                    params![k],
                )?;
            }
            Ok(())
        })
    }

    fn reference_version(&self) -> Result<u64> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT version FROM reference_version", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }

    fn reference_for(&self, v: &Viewer) -> Result<ReferenceData> {
        self.read(|c| {
            let all = v.role == Role::Admin;
            let mut schools = Vec::new();
            let mut stmt = c.prepare_cached("SELECT id, name FROM schools ORDER BY name, id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let s = School { id: id(&r.get::<_, String>(0)?)?, name: r.get(1)? };
                if all || v.schools.contains(&s.id) {
                    schools.push(s);
                }
            }
            let ids: Vec<Uuid> = schools.iter().map(|s| s.id).collect();
            let mut posts = Vec::new();
            let mut stmt = c.prepare_cached("SELECT id, school_id, name, orders FROM posts ORDER BY name, id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let p = Post {
                    id: id(&r.get::<_, String>(0)?)?,
                    school_id: id(&r.get::<_, String>(1)?)?,
                    name: r.get(2)?,
                    orders: r.get(3)?,
                };
                if ids.contains(&p.school_id) {
                    posts.push(p);
                }
            }
            let post_ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
            let mut checkpoints = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes
                 FROM checkpoints ORDER BY post_id, position, id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let cp = Checkpoint {
                    id: id(&r.get::<_, String>(0)?)?,
                    post_id: id(&r.get::<_, String>(1)?)?,
                    name: r.get(2)?,
                    tag_code: r.get(3)?,
                    position: r.get(4)?,
                    schedule: Schedule {
                        first_due_minutes: r.get(5)?,
                        interval_minutes: r.get(6)?,
                        grace_minutes: r.get(7)?,
                    },
                };
                if post_ids.contains(&cp.post_id) {
                    checkpoints.push(cp);
                }
            }
            let mut people = Vec::new();
            let mut stmt = c.prepare_cached(&format!("SELECT {PERSON_COLS} FROM people WHERE active = 1 ORDER BY name, id"))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let p = person_row(c, r)?;
                if all || p.schools.iter().any(|s| ids.contains(s)) {
                    people.push(Person {
                        id: p.id,
                        name: p.name,
                        role: p.role,
                        schools: p.schools.into_iter().filter(|s| ids.contains(s)).collect(),
                    });
                }
            }
            Ok(ReferenceData { schools, posts, checkpoints, people })
        })
    }

    fn put_school(&self, s: &School) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO schools (id, name) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                params![s.id.to_string(), s.name],
            )?;
            bump_reference(tx)
        })
    }

    fn put_post(&self, p: &Post) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO posts (id, school_id, name, orders) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, name = excluded.name, orders = excluded.orders",
                params![p.id.to_string(), p.school_id.to_string(), p.name, p.orders],
            )?;
            bump_reference(tx)
        })
    }

    fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO checkpoints (id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET post_id = excluded.post_id, name = excluded.name, tag_code = excluded.tag_code,
                    position = excluded.position, first_due_minutes = excluded.first_due_minutes,
                    interval_minutes = excluded.interval_minutes, grace_minutes = excluded.grace_minutes",
                params![
                    c.id.to_string(),
                    c.post_id.to_string(),
                    c.name,
                    c.tag_code,
                    c.position,
                    c.schedule.first_due_minutes,
                    c.schedule.interval_minutes,
                    c.schedule.grace_minutes
                ],
            )?;
            bump_reference(tx)
        })
    }

    fn put_person(&self, p: &PersonRecord) -> Result<()> {
        self.write(|tx| {
            let old_hash: Option<String> = tx
                .query_row(
                    "SELECT password_hash FROM people WHERE id = ?1",
                    params![p.id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if old_hash.is_some_and(|h| h != p.password_hash) || !p.active {
                // A new password or a deactivation ends every session of the person at once.
                tx.execute(
                    "DELETE FROM sessions WHERE person_id = ?1",
                    params![p.id.to_string()],
                )?;
                tx.execute(
                    "DELETE FROM console_sessions WHERE person_id = ?1",
                    params![p.id.to_string()],
                )?;
            }
            tx.execute(
                "INSERT INTO people (id, username, name, role, password_hash, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, name = excluded.name, role = excluded.role,
                    password_hash = excluded.password_hash, active = excluded.active",
                params![p.id.to_string(), p.username, p.name, p.role.code(), p.password_hash, p.active as i64],
            )?;
            tx.execute("DELETE FROM person_schools WHERE person_id = ?1", params![p.id.to_string()])?;
            for s in &p.schools {
                tx.execute(
                    "INSERT INTO person_schools (person_id, school_id) VALUES (?1, ?2)",
                    params![p.id.to_string(), s.to_string()],
                )?;
            }
            bump_reference(tx)
        })
    }

    fn person(&self, pid: Uuid) -> Result<Option<PersonRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {PERSON_COLS} FROM people WHERE id = ?1"))?;
            let mut rows = stmt.query(params![pid.to_string()])?;
            match rows.next()? {
                Some(r) => Ok(Some(person_row(c, r)?)),
                None => Ok(None),
            }
        })
    }

    fn person_by_username(&self, username: &str) -> Result<Option<PersonRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {PERSON_COLS} FROM people WHERE username = ?1"
            ))?;
            let mut rows = stmt.query(params![username])?;
            match rows.next()? {
                Some(r) => Ok(Some(person_row(c, r)?)),
                None => Ok(None),
            }
        })
    }

    fn people(&self) -> Result<Vec<PersonRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {PERSON_COLS} FROM people ORDER BY name, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(person_row(c, r)?);
            }
            Ok(out)
        })
    }

    fn add_enrollment_code(
        &self,
        code_hash: &str,
        created_by: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, created_by.to_string(), ms(now), ms(expires_at)],
            )?;
            Ok(())
        })
    }

    fn redeem_enrollment_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        d: &DeviceRecord,
    ) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3
                 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![code_hash, ms(now), d.id.to_string()],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO devices (id, name, secret_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4)",
                params![d.id.to_string(), d.name, d.secret_hash, ms(d.enrolled_at)],
            )?;
            Ok(true)
        })
    }

    fn device(&self, did: Uuid) -> Result<Option<DeviceRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT name, secret_hash, enrolled_at, revoked_at FROM devices WHERE id = ?1",
            )?
            .query_row(params![did.to_string()], |r| {
                Ok(DeviceRecord {
                    id: did,
                    name: r.get(0)?,
                    secret_hash: r.get(1)?,
                    enrolled_at: time(r.get(2)?),
                    revoked_at: r.get::<_, Option<i64>>(3)?.map(time),
                })
            })
            .optional()?)
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, name, secret_hash, enrolled_at, revoked_at FROM devices ORDER BY enrolled_at, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceRecord {
                    id: id(&r.get::<_, String>(0)?)?,
                    name: r.get(1)?,
                    secret_hash: r.get(2)?,
                    enrolled_at: time(r.get(3)?),
                    revoked_at: r.get::<_, Option<i64>>(4)?.map(time),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_device(&self, did: Uuid, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                params![did.to_string(), ms(now)],
            )?;
            revoke_keys(tx, did, now)?;
            // Sessions stay: the device's next request finds the device revoked and is told so.
            Ok(n == 1)
        })
    }

    fn request_wipe(&self, did: Uuid, after_push: bool, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2), wipe = ?3
                 WHERE id = ?1 AND wiped_at IS NULL",
                params![
                    did.to_string(),
                    ms(now),
                    if after_push { "after_push" } else { "now" }
                ],
            )?;
            if !after_push {
                revoke_keys(tx, did, now)?;
            }
            Ok(n == 1)
        })
    }

    fn pending_wipe(&self, did: Uuid) -> Result<Option<bool>> {
        self.read(|c| {
            let wipe: Option<Option<String>> = c
                .prepare_cached("SELECT wipe FROM devices WHERE id = ?1 AND wiped_at IS NULL")?
                .query_row(params![did.to_string()], |r| r.get(0))
                .optional()?;
            Ok(wipe.flatten().map(|w| w == "after_push"))
        })
    }

    fn wipe_done(&self, did: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE devices SET wiped_at = coalesce(wiped_at, ?2) WHERE id = ?1 AND wipe IS NOT NULL",
                params![did.to_string(), ms(now)],
            )?;
            revoke_keys(tx, did, now)?;
            Ok(())
        })
    }

    fn register_signing_key(&self, k: &SigningKeyRecord) -> Result<KeyRegistration> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO signing_keys (public_key, person_id, device_id, registered_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (public_key) DO NOTHING",
                params![
                    k.public_key.as_slice(),
                    k.person_id.to_string(),
                    k.device_id.to_string(),
                    ms(k.registered_at)
                ],
            )?;
            if n == 1 {
                return Ok(KeyRegistration::New);
            }
            let (person, device): (String, String) = tx.query_row(
                "SELECT person_id, device_id FROM signing_keys WHERE public_key = ?1",
                params![k.public_key.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(
                if person == k.person_id.to_string() && device == k.device_id.to_string() {
                    KeyRegistration::Known
                } else {
                    KeyRegistration::Taken
                },
            )
        })
    }

    fn signing_keys(&self, device: Uuid) -> Result<Vec<SigningKeyRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT public_key, person_id, registered_at, revoked_at FROM signing_keys
                 WHERE device_id = ?1 ORDER BY registered_at, public_key",
            )?;
            let rows = stmt.query_map(params![device.to_string()], |r| {
                let key: Vec<u8> = r.get(0)?;
                Ok(SigningKeyRecord {
                    public_key: key.try_into().map_err(|_| {
                        conv(std::io::Error::other("a stored public key is not 32 bytes"))
                    })?,
                    person_id: id(&r.get::<_, String>(1)?)?,
                    device_id: device,
                    registered_at: time(r.get(2)?),
                    revoked_at: r.get::<_, Option<i64>>(3)?.map(time),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn add_session(&self, token_hash: &str, s: &SessionRecord, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, person_id, device_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, s.person_id.to_string(), s.device_id.map(|d| d.to_string()), ms(now), ms(s.expires_at)],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT person_id, device_id, expires_at FROM sessions WHERE token_hash = ?1",
            )?
            .query_row(params![token_hash], |r| {
                Ok(SessionRecord {
                    person_id: id(&r.get::<_, String>(0)?)?,
                    device_id: r.get::<_, Option<String>>(1)?.map(|d| id(&d)).transpose()?,
                    expires_at: time(r.get(2)?),
                })
            })
            .optional()?)
        })
    }
}

/// Revokes every signing key recorded on device `did` (an earlier revocation's time stays).
fn revoke_keys(tx: &rusqlite::Transaction<'_>, did: Uuid, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE signing_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
        params![did.to_string(), ms(now)],
    )?;
    Ok(())
}
