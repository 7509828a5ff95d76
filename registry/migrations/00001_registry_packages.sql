-- +goose Up
CREATE SEQUENCE registry_revision;

CREATE TABLE registry_packages (
    name         text        NOT NULL,
    version      text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('library', 'script')),
    hash         text        NOT NULL CHECK (length(hash) = 64),
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated', 'revoked')),
    reason       text        NOT NULL DEFAULT '',
    revision     bigint      NOT NULL,
    key_id       text        NOT NULL,
    envelope     bytea       NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX registry_packages_revision ON registry_packages (revision);
CREATE INDEX registry_packages_hash ON registry_packages (hash);

-- One row per catalogue change: the audit trail of publish/deprecate/revoke.
CREATE TABLE registry_events (
    revision bigint      PRIMARY KEY,
    name     text        NOT NULL,
    version  text        NOT NULL,
    action   text        NOT NULL,
    reason   text        NOT NULL DEFAULT '',
    at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE registry_events;
DROP TABLE registry_packages;
DROP SEQUENCE registry_revision;
