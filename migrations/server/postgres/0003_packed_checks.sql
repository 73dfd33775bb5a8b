-- Rounds district server on PostgreSQL, schema 3: a shift's checks packed into one value
-- beside its row (crates/server/src/storage/check_pack.rs; docs/storage.md), instead of a row
-- per check. The server packs the rows of `patrol_checks` into `shifts.checks` in the same
-- transaction as this migration, then drops that table (see `postgres::migrate`): packing is
-- done in Rust, so this file only makes the column. An empty value is a shift with no checks.
ALTER TABLE shifts ADD COLUMN checks BYTEA NOT NULL DEFAULT '\x';
