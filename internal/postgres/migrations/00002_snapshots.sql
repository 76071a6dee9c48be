-- +goose Up
-- The latest snapshot's text moves out of documents into its own row, as in
-- SQLite (where any UPDATE rewrites the whole row, and every commit
-- advances documents.head_rev): one schema shape for both engines, so that
-- internal/sqlstore keeps one set of statements. PostgreSQL would keep a
-- TOASTed content on UPDATE; here the split also keeps the documents row
-- that every commit rewrites small. snapshot_rev stays in documents, next
-- to head_rev: SaveSnapshot checks and advances it under that row's lock,
-- so racing snapshots of one document serialize. documents and snapshots
-- rows come and go together (CreateDocument writes both, ON DELETE CASCADE
-- removes both).
CREATE TABLE snapshots (
    doc_id  TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    content TEXT NOT NULL
);
INSERT INTO snapshots (doc_id, content) SELECT id, content FROM documents;
ALTER TABLE documents DROP COLUMN content;

-- +goose Down
ALTER TABLE documents ADD COLUMN content TEXT NOT NULL DEFAULT '';
UPDATE documents SET content = s.content FROM snapshots s WHERE s.doc_id = documents.id;
DROP TABLE snapshots;
