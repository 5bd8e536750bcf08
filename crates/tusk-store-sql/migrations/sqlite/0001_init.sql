-- One table holds every record kind; tusk-store decodes `data` (JSON text).
CREATE TABLE records (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    owner      TEXT,
    data       TEXT    NOT NULL,
    expires_at INTEGER,
    version    INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE INDEX records_by_owner ON records (kind, owner);
CREATE INDEX records_by_expiry ON records (expires_at);
