//! A shift's checks as the projection keeps them: one packed value per shift, not a row per
//! check.
//!
//! The console reads a shift's checks together or not at all (the day view, the reports), and a
//! commit of a shift always projects its whole list of checks, so they are stored as one value
//! beside the shift's row (`shifts.checks`) and rewritten whole by each commit. A row per check
//! cost about 150 bytes with its key and index (600,000 rows were 92 MiB of a district's three
//! days, more than every saved document together); packed, a check takes about 22: its id, an
//! index into the shift's list of checkpoints and of result codes, its note, and its time as the
//! step from the check before. The format is [postcard](https://docs.rs/postcard) of [`Packed`]
//! with a version byte, so a later layout can be told from this one; an empty value is a shift
//! with no checks.

use chrono::{TimeZone, Utc};
use rounds_domain::model::CheckResult;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CheckRow;

/// The layout [`pack`] writes.
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Packed {
    version: u8,
    /// The checkpoints the checks name, each once.
    checkpoints: Vec<[u8; 16]>,
    /// The result codes the checks use, each once (codes, not positions in the vocabulary, so
    /// a reordered vocabulary still reads).
    results: Vec<String>,
    checks: Vec<PackedCheck>,
}

#[derive(Serialize, Deserialize)]
struct PackedCheck {
    id: [u8; 16],
    checkpoint: u32,
    result: u8,
    note: String,
    /// Milliseconds since the check before (the first: since the epoch).
    step_ms: i64,
}

/// The checks as stored, in their order.
pub(crate) fn pack(checks: &[CheckRow]) -> Vec<u8> {
    if checks.is_empty() {
        return Vec::new();
    }
    let mut p = Packed {
        version: VERSION,
        checkpoints: Vec::new(),
        results: Vec::new(),
        checks: Vec::with_capacity(checks.len()),
    };
    let mut last = 0i64;
    for c in checks {
        let cp = *c.checkpoint_id.as_bytes();
        let checkpoint = match p.checkpoints.iter().position(|x| *x == cp) {
            Some(i) => i,
            None => {
                p.checkpoints.push(cp);
                p.checkpoints.len() - 1
            }
        };
        let code = c.result.code();
        let result = match p.results.iter().position(|x| x == code) {
            Some(i) => i,
            None => {
                p.results.push(code.to_string());
                p.results.len() - 1
            }
        };
        let at = c.at.timestamp_millis();
        p.checks.push(PackedCheck {
            id: *c.id.as_bytes(),
            checkpoint: checkpoint as u32,
            // At most as many codes as the vocabulary has.
            result: result as u8,
            note: c.note.clone(),
            step_ms: at.wrapping_sub(last),
        });
        last = at;
    }
    postcard::to_allocvec(&p).expect("packing into memory cannot fail")
}

/// The checks of a stored value; an error names what does not read (damage: the server wrote
/// it).
pub(crate) fn unpack(bytes: &[u8]) -> Result<Vec<CheckRow>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let p: Packed = postcard::from_bytes(bytes).map_err(|e| format!("packed checks: {e}"))?;
    if p.version != VERSION {
        return Err(format!("packed checks: unknown layout {}", p.version));
    }
    let results = p
        .results
        .iter()
        .map(|c| CheckResult::parse(c, "result").map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut at = 0i64;
    let mut out = Vec::with_capacity(p.checks.len());
    for c in p.checks {
        at = at.wrapping_add(c.step_ms);
        out.push(CheckRow {
            id: Uuid::from_bytes(c.id),
            checkpoint_id: p
                .checkpoints
                .get(c.checkpoint as usize)
                .map(|b| Uuid::from_bytes(*b))
                .ok_or("packed checks: checkpoint out of range")?,
            result: *results
                .get(c.result as usize)
                .ok_or("packed checks: result out of range")?,
            note: c.note,
            at: Utc
                .timestamp_millis_opt(at)
                .single()
                .ok_or("packed checks: time out of range")?,
        });
    }
    Ok(out)
}

/// The checks of a stored value in the console's order: by time, then id.
pub(crate) fn unpack_sorted(bytes: &[u8]) -> Result<Vec<CheckRow>, String> {
    let mut v = unpack(bytes)?;
    v.sort_by_key(|c| (c.at, c.id));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms)
            .single()
            .expect("a time in range")
    }

    fn check(n: u128, cp: u128, result: CheckResult, note: &str, ms: i64) -> CheckRow {
        CheckRow {
            id: Uuid::from_u128(n),
            checkpoint_id: Uuid::from_u128(cp),
            result,
            note: note.into(),
            at: at(ms),
        }
    }

    #[test]
    fn checks_come_back_as_they_went_in() {
        let checks = vec![
            check(3, 10, CheckResult::AllClear, "", 1_764_000_000_000),
            check(
                1,
                11,
                CheckResult::Hazard,
                "wet floor by the gym",
                1_764_000_060_000,
            ),
            check(
                2,
                10,
                CheckResult::Unsecured,
                "door 4 open",
                1_763_999_000_000,
            ),
        ];
        assert_eq!(unpack(&pack(&checks)).expect("reads back"), checks);
        let mut sorted = checks.clone();
        sorted.sort_by_key(|c| (c.at, c.id));
        assert_eq!(unpack_sorted(&pack(&checks)).expect("reads back"), sorted);
    }

    #[test]
    fn a_shift_without_checks_is_an_empty_value() {
        assert!(pack(&[]).is_empty());
        assert_eq!(unpack(&[]).expect("reads back"), Vec::new());
    }

    #[test]
    fn a_round_of_checks_takes_a_few_dozen_bytes_each() {
        let checks: Vec<CheckRow> = (0..200u128)
            .map(|i| {
                check(
                    (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
                    i % 12,
                    CheckResult::AllClear,
                    "",
                    1_764_000_000_000 + i as i64 * 97_000,
                )
            })
            .collect();
        let n = pack(&checks).len();
        assert!(n <= 200 * 24 + 12 * 16 + 32, "{n} bytes");
    }

    #[test]
    fn damage_is_named_not_misread() {
        let mut b = pack(&[check(1, 2, CheckResult::Other, "x", 5)]);
        b[0] = 9;
        assert!(unpack(&b).expect_err("refused").contains("unknown layout"));
        assert!(unpack(&[1, 200]).is_err());
    }
}
