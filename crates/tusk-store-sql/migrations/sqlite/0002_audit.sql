-- The audit trail: append-only, filtered by actor, subject, resource and
-- time, purged by age. `data` is the event's JSON text.
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    event    TEXT    NOT NULL,
    actor    TEXT,
    subject  TEXT,
    resource TEXT,
    data     TEXT    NOT NULL
);

CREATE INDEX audit_events_by_at ON audit_events (at);
