-- Users, API keys and the audit log (`letsdata admin`, `letsdata server`).
CREATE TABLE IF NOT EXISTS users (
    user_id         TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(tenant_id),
    email           TEXT NOT NULL UNIQUE,
    create_datetime INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS users_by_tenant ON users (tenant_id, create_datetime);

-- A key is kept as the SHA-256 of its secret, never the secret.
CREATE TABLE IF NOT EXISTS api_keys (
    api_key_id       TEXT PRIMARY KEY,
    key_hash         TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(tenant_id),
    user_id          TEXT REFERENCES users(user_id),
    scopes           TEXT NOT NULL,
    description      TEXT,
    create_datetime  INTEGER NOT NULL,
    revoked_datetime INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, create_datetime);

CREATE TABLE IF NOT EXISTS audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    actor     TEXT NOT NULL,
    user_id   TEXT,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_tenant ON audit_log (tenant_id, seq);
