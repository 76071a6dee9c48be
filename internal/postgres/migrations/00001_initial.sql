-- +goose Up
-- Times are Unix milliseconds. User ids in ops, chat and sessions are stored
-- as text and not tied to users by a foreign key: the op log records who
-- wrote an op and never blocks on account state.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL,
    username_key  TEXT   NOT NULL CONSTRAINT users_username_unique UNIQUE,
    email         TEXT   NOT NULL,
    email_key     TEXT   NOT NULL CONSTRAINT users_email_unique UNIQUE,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- content and snapshot_rev are the latest snapshot; head_rev is the newest
-- committed revision of the op log, advanced in the same transaction as the
-- ops themselves so that appends based on a stale head are refused (the row
-- lock makes a racing transaction on another instance wait, then lose).
CREATE TABLE documents (
    id           TEXT    PRIMARY KEY,
    title        TEXT    NOT NULL,
    language     TEXT    NOT NULL,
    owner_id     BIGINT  REFERENCES users (id),
    is_public    BOOLEAN NOT NULL DEFAULT TRUE,
    content      TEXT    NOT NULL,
    snapshot_rev BIGINT  NOT NULL DEFAULT 0,
    head_rev     BIGINT  NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX documents_owner_id ON documents (owner_id);

CREATE TABLE ops (
    doc_id     TEXT   NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    rev        BIGINT NOT NULL,
    op_id      TEXT,
    user_id    TEXT   NOT NULL,
    op         TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT ops_pkey PRIMARY KEY (doc_id, rev),
    CONSTRAINT ops_op_id_unique UNIQUE (doc_id, op_id)
);

CREATE TABLE chat_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id     TEXT   NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL,
    username   TEXT   NOT NULL,
    message    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX chat_messages_doc_id ON chat_messages (doc_id, id);

CREATE TABLE doc_sessions (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_id    TEXT   NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    user_id   TEXT   NOT NULL,
    server_id TEXT   NOT NULL,
    joined_at BIGINT NOT NULL,
    left_at   BIGINT
);
CREATE INDEX doc_sessions_doc_id ON doc_sessions (doc_id, joined_at);

CREATE TABLE revoked_tokens (
    jti        TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- +goose Down
DROP TABLE revoked_tokens;
DROP TABLE doc_sessions;
DROP TABLE chat_messages;
DROP TABLE ops;
DROP TABLE documents;
DROP TABLE users;
