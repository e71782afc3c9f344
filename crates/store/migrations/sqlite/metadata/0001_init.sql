-- Metadata database: tenants, users and datasets (one row per dataset, the record as JSON).
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id       TEXT PRIMARY KEY,
    tenant_name     TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    create_datetime INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS datasets (
    dataset_id      TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(tenant_id),
    dataset_name    TEXT NOT NULL,
    dataset_status  TEXT NOT NULL,
    version         INTEGER NOT NULL,
    record          TEXT NOT NULL,
    create_datetime INTEGER NOT NULL,
    UNIQUE (tenant_id, dataset_name)
);

CREATE INDEX IF NOT EXISTS datasets_by_status ON datasets (dataset_status);
