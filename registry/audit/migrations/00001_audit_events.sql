-- +goose Up
CREATE TABLE IF NOT EXISTS audit_events (
    id          text PRIMARY KEY,
    time        timestamptz NOT NULL,
    kind        text NOT NULL,
    request_id  text NOT NULL DEFAULT '',
    client_id   text NOT NULL DEFAULT '',
    script_hash text NOT NULL DEFAULT '',
    command     text NOT NULL DEFAULT '',
    limits      jsonb,
    outcome     text NOT NULL,
    code        text NOT NULL DEFAULT '',
    status      integer NOT NULL DEFAULT 0,
    duration_us bigint NOT NULL DEFAULT 0,
    steps       bigint NOT NULL DEFAULT 0,
    executor_id text NOT NULL DEFAULT '',
    node_id     text NOT NULL DEFAULT '',
    job_id      text NOT NULL DEFAULT '',
    action      text NOT NULL DEFAULT '',
    target      text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time DESC);
CREATE INDEX IF NOT EXISTS audit_events_client_time ON audit_events (client_id, time DESC);
CREATE INDEX IF NOT EXISTS audit_events_outcome_time ON audit_events (outcome, time DESC);
CREATE INDEX IF NOT EXISTS audit_events_job ON audit_events (job_id) WHERE job_id <> '';

-- +goose Down
DROP TABLE IF EXISTS audit_events;
