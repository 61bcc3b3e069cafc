/**
 * The accounts tables, owned by this folder: dashboard users, their roles per organization, their
 * sessions, and the one-time tokens of invitations and password resets. Secrets are kept as
 * SHA-256 of random tokens (sessions, invitations, resets) or argon2id (passwords).
 */
export const ACCOUNTS_DDL = `
  CREATE TABLE users (
    id                   uuid PRIMARY KEY,
    email                text NOT NULL CHECK (email = lower(email)),
    password_hash        text,
    global_admin         boolean NOT NULL DEFAULT false,
    totp_secret          text,
    totp_enabled         boolean NOT NULL DEFAULT false,
    oidc_issuer          text,
    oidc_subject         text,
    disabled_at          timestamptz,
    password_changed_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (email),
    UNIQUE (oidc_issuer, oidc_subject)
  );

  CREATE TABLE memberships (
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organization_id)
  );
  CREATE INDEX memberships_organization ON memberships (organization_id);

  CREATE TABLE user_sessions (
    token_hash    text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    client_ip     text,
    user_agent    text
  );
  CREATE INDEX user_sessions_user ON user_sessions (user_id);
  CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);

  CREATE TABLE user_tokens (
    token_hash       text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('invitation', 'password-reset')),
    email            text NOT NULL,
    user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    organization_id  uuid REFERENCES organizations (id) ON DELETE CASCADE,
    role             text CHECK (role IN ('admin', 'member', 'viewer')),
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
  );
`;

/**
 * Migration 37 (secrets at rest): TOTP secrets sealed with the secrets key (infra/secrets).
 * totp_secret keeps values written before, sealed and emptied at the next start; nothing writes it.
 */
export const totpSecretsSealed = `
  ALTER TABLE users ADD COLUMN totp_secret_sealed text;
`;
