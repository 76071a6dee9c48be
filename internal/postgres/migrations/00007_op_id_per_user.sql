-- +goose Up
-- Op ids belong to their author: an op id is unique per (document, user),
-- not per document, so another user who read my ids in the op log cannot
-- pre-empt my next one and make my edit look like a duplicate. The
-- constraint keeps its name (the store recognizes "op_id" in it).
ALTER TABLE ops DROP CONSTRAINT ops_op_id_unique;
ALTER TABLE ops ADD CONSTRAINT ops_op_id_unique UNIQUE (doc_id, user_id, op_id);

-- +goose Down
-- Fails when two users committed the same op id to one document.
ALTER TABLE ops DROP CONSTRAINT ops_op_id_unique;
ALTER TABLE ops ADD CONSTRAINT ops_op_id_unique UNIQUE (doc_id, op_id);
