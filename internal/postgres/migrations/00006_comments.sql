-- +goose Up
-- Review comments anchored to code ranges. A thread's root carries the
-- anchor: code points [anchor_from, anchor_to) of the text at revision
-- anchor_rev. Readers bring it to the head by transforming it through the
-- ops after anchor_rev and store it back (re-basing), so the replay stays
-- short; detached is set once every code point of the range was deleted.
-- quote is the text the range covered when the comment was written, shown
-- for a detached thread. A reply has parent_id set (always a root) and its
-- own anchor columns unused. Replies go with their thread, and threads with
-- their document (ON DELETE CASCADE).
CREATE TABLE comments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id      TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    parent_id   BIGINT  REFERENCES comments (id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    anchor_rev  BIGINT  NOT NULL DEFAULT 0,
    anchor_from INTEGER NOT NULL DEFAULT 0,
    anchor_to   INTEGER NOT NULL DEFAULT 0,
    quote       TEXT    NOT NULL DEFAULT '',
    resolved    BOOLEAN NOT NULL DEFAULT FALSE,
    detached    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX comments_doc_id ON comments (doc_id, id);
CREATE INDEX comments_parent_id ON comments (parent_id);

-- +goose Down
DROP TABLE comments;
