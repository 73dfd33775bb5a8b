-- Rounds district server, schema 6: compacted documents (see docs/storage.md).
-- A settled document's changes up to a feed position are kept as one automerge saved document
-- (columnar and compressed) instead of one row each; the changes after it stay rows. Loading
-- the saved form gives back every change byte for byte, so every hash and the heads are still
-- provable. A device that lacks part of a compacted document finds it in the feed at
-- `through_seq` and asks for what it lacks by heads.
CREATE TABLE saved_docs (
    doc_id       TEXT PRIMARY KEY REFERENCES documents(id),
    -- feed position of the last change the saved form holds
    through_seq  INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    -- how many changes it holds, and their size as changes (bytes, operations), for the
    -- history caps
    change_count INTEGER NOT NULL,
    change_bytes INTEGER NOT NULL,
    change_ops   INTEGER NOT NULL
);
CREATE INDEX saved_docs_by_seq ON saved_docs(through_seq);

-- When each document last changed (server time, ms), and how many of its changes are rows
-- not yet folded into a saved form: compaction picks settled documents with loose rows.
ALTER TABLE documents ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN loose INTEGER NOT NULL DEFAULT 0;
UPDATE documents SET loose = (SELECT count(*) FROM changes c WHERE c.doc_id = documents.id);
CREATE INDEX documents_loose ON documents(changed_at) WHERE loose > 0;
