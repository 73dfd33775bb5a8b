-- Rounds district server, schema 4: the sign-in throttle. Every password sign-in (app sessions
-- and the console) and every enrollment is counted here *before* its credential is checked,
-- one row per counter it is charged to ("name:<username>", "addr:<ip>", "enroll:<ip>"), in the
-- same transaction that checked the counters were under their limits. A success deletes its
-- rows (and a name's earlier failures); a failure leaves them; rows older than the window are
-- pruned. Kept as rows, not in memory, so several server processes on one database share it.
CREATE TABLE sign_in_attempts (
    attempt_id   TEXT NOT NULL,
    throttle_key TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (attempt_id, throttle_key)
);
CREATE INDEX sign_in_attempts_by_key ON sign_in_attempts(throttle_key, at);
CREATE INDEX sign_in_attempts_by_time ON sign_in_attempts(at);
