-- +goose Up
-- Sharing (issue 9). visibility is public, link or private; is_public stays,
-- kept equal to visibility = 'public' by every write, for the seed's field.
-- link_role is what a signed-in non-member gets on a public or link
-- document. created_by never changes (ownership may): it counts a user's
-- creations for the per-hour limit on documents created by joining.
ALTER TABLE documents ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'link', 'private'));
ALTER TABLE documents ADD COLUMN link_role TEXT NOT NULL DEFAULT 'editor'
    CHECK (link_role IN ('editor', 'viewer'));
ALTER TABLE documents ADD COLUMN created_by INTEGER;
UPDATE documents SET visibility = CASE WHEN is_public THEN 'public' ELSE 'private' END, created_by = owner_id;
CREATE INDEX documents_created_by ON documents (created_by, created_at);

-- The members of a document besides its owner.
CREATE TABLE document_members (
    doc_id     TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('editor', 'viewer')),
    created_at INTEGER NOT NULL,
    CONSTRAINT document_members_pkey PRIMARY KEY (doc_id, user_id)
) WITHOUT ROWID;
CREATE INDEX document_members_user_id ON document_members (user_id);

-- Tombstones: ids of deleted documents, which no join re-creates, with who
-- created them when (still counted by the creation limit).
CREATE TABLE deleted_documents (
    id         TEXT    PRIMARY KEY,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL
);
CREATE INDEX deleted_documents_created_by ON deleted_documents (created_by, created_at);

-- +goose Down
DROP TABLE deleted_documents;
DROP TABLE document_members;
DROP INDEX documents_created_by;
ALTER TABLE documents DROP COLUMN created_by;
ALTER TABLE documents DROP COLUMN link_role;
ALTER TABLE documents DROP COLUMN visibility;
