-- +goose Up
-- "Log out everywhere": every token carries the epoch its user had when it
-- was issued; a token whose epoch is below the user's current one is
-- refused. Raising the epoch revokes all of a user's tokens in one write,
-- without a revocation row per token.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN token_epoch;
