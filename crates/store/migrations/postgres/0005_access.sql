-- Users, API keys and the audit log (`letsdata admin`, `letsdata server`).
CREATE TABLE users (
    user_id         TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    email           TEXT NOT NULL UNIQUE,
    create_datetime BIGINT NOT NULL
);
CREATE INDEX users_by_tenant ON users (tenant_id, create_datetime);

-- A key is kept as the SHA-256 of its secret, never the secret.
CREATE TABLE api_keys (
    api_key_id       TEXT PRIMARY KEY,
    key_hash         TEXT NOT NULL UNIQUE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id),
    user_id          TEXT REFERENCES users (user_id),
    scopes           TEXT NOT NULL,
    description      TEXT,
    create_datetime  BIGINT NOT NULL,
    revoked_datetime BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, create_datetime);

CREATE TABLE audit_log (
    seq       BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    actor     TEXT NOT NULL,
    user_id   TEXT,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);
