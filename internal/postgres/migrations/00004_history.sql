-- +goose Up
-- History (docs/protocol.md "History"). A checkpoint is a document's text at
-- one revision, with the per-line attribution (blame) at that revision as
-- history's own JSON, so that reading any revision replays a bounded number
-- of ops from the newest checkpoint at or before it. CreateDocument writes
-- the first one (the text as created); internal/history writes the others.
-- A document that existed before this migration gets one at its snapshot,
-- and its history starts there (its text at earlier revisions is not kept).
CREATE TABLE checkpoints (
    doc_id  TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    rev     BIGINT  NOT NULL,
    content TEXT    NOT NULL,
    blame   TEXT    NOT NULL DEFAULT '',
    CONSTRAINT checkpoints_pkey PRIMARY KEY (doc_id, rev)
);
INSERT INTO checkpoints (doc_id, rev, content)
SELECT d.id, d.snapshot_rev, s.content FROM documents d JOIN snapshots s ON s.doc_id = d.id;

-- A restore is an ordinary op; this marks which revision's text it brought
-- back, so that the history shows it as a restore.
CREATE TABLE restores (
    doc_id       TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    rev          BIGINT  NOT NULL,
    restored_rev BIGINT  NOT NULL,
    CONSTRAINT restores_pkey PRIMARY KEY (doc_id, rev)
);

-- +goose Down
DROP TABLE restores;
DROP TABLE checkpoints;
