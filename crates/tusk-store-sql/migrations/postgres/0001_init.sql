-- One table holds every record kind; tusk-store decodes `data` (JSON text).
-- `id` sorts bytewise (COLLATE "C") so list order matches SQLite and memory.
CREATE TABLE records (
    kind       TEXT   NOT NULL,
    id         TEXT   COLLATE "C" NOT NULL,
    owner      TEXT,
    data       TEXT   NOT NULL,
    expires_at BIGINT,
    version    BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE INDEX records_by_owner ON records (kind, owner);
CREATE INDEX records_by_expiry ON records (expires_at);
