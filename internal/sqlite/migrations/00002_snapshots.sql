-- +goose Up
-- The latest snapshot's text moves out of documents into its own row:
-- SQLite rewrites a whole row (overflow pages included) on any UPDATE, and
-- every commit advances documents.head_rev, so a 1 MiB document's text was
-- read and rewritten per transaction. snapshot_rev stays in documents, next
-- to head_rev, so that SaveSnapshot's "newer and not ahead of head" check
-- and its write share one small row; documents and snapshots rows come and
-- go together (CreateDocument writes both, ON DELETE CASCADE removes both).
-- A plain rowid table: WITHOUT ROWID suits small rows, not megabyte texts.
CREATE TABLE snapshots (
    doc_id  TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    content TEXT NOT NULL
);
INSERT INTO snapshots (doc_id, content) SELECT id, content FROM documents;
ALTER TABLE documents DROP COLUMN content;

-- +goose Down
ALTER TABLE documents ADD COLUMN content TEXT NOT NULL DEFAULT '';
UPDATE documents SET content = (SELECT s.content FROM snapshots s WHERE s.doc_id = documents.id);
DROP TABLE snapshots;
