-- +goose Up
-- Op ids belong to their author: an op id is unique per (document, user),
-- not per document, so another user who read my ids in the op log cannot
-- pre-empt my next one and make my edit look like a duplicate. SQLite
-- cannot change a table constraint in place, so ops is rebuilt (same
-- columns, same primary key, WITHOUT ROWID as before).
CREATE TABLE ops_new (
    doc_id     TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    rev        INTEGER NOT NULL,
    op_id      TEXT,
    user_id    TEXT    NOT NULL,
    op         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT ops_pkey PRIMARY KEY (doc_id, rev),
    CONSTRAINT ops_op_id_unique UNIQUE (doc_id, user_id, op_id)
) WITHOUT ROWID;
INSERT INTO ops_new (doc_id, rev, op_id, user_id, op, created_at)
    SELECT doc_id, rev, op_id, user_id, op, created_at FROM ops;
DROP TABLE ops;
ALTER TABLE ops_new RENAME TO ops;

-- +goose Down
-- Fails when two users committed the same op id to one document.
CREATE TABLE ops_old (
    doc_id     TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    rev        INTEGER NOT NULL,
    op_id      TEXT,
    user_id    TEXT    NOT NULL,
    op         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT ops_pkey PRIMARY KEY (doc_id, rev),
    CONSTRAINT ops_op_id_unique UNIQUE (doc_id, op_id)
) WITHOUT ROWID;
INSERT INTO ops_old (doc_id, rev, op_id, user_id, op, created_at)
    SELECT doc_id, rev, op_id, user_id, op, created_at FROM ops;
DROP TABLE ops;
ALTER TABLE ops_old RENAME TO ops;
