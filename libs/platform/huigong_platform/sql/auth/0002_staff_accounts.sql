-- Staff accounts (logins for people, the console) and their sessions, beside the API keys in the
-- admin-owned `auth` schema. An account is bound to one principal exactly as a key is, so a
-- person logged in acts as that principal under the same access rules. Accounts are created,
-- reset and disabled only with `huigong users …` under the admin DSN; the services may read
-- accounts, open and end sessions and record login attempts (grants in database.py).
CREATE TABLE auth.accounts (
    -- What the person types at the login page: letters, digits, '.', '-', '_'.
    username        text        PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    display_name    text        NOT NULL CHECK (display_name <> ''),
    role            text        NOT NULL,
    code            text        NOT NULL CHECK (code <> ''),
    -- argon2id in PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash); never the password.
    password_hash   text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- 演示: demo accounts that bin/run creates on a development machine.
    demo            boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text        NOT NULL,
    password_set_at timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    disabled_by     text,
    disable_reason  text,
    CONSTRAINT accounts_disabling_named CHECK ((disabled_at IS NULL) = (disabled_by IS NULL))
);
CREATE INDEX accounts_principal ON auth.accounts (role, code);

-- Every creation, password reset, disabling and re-enabling, with who did it and why: append-only.
CREATE TABLE auth.account_events (
    id       bigserial   PRIMARY KEY,
    username text        NOT NULL REFERENCES auth.accounts (username),
    action   text        NOT NULL CHECK (action IN ('created', 'password_reset', 'disabled', 'enabled')),
    actor    text        NOT NULL,
    reason   text,
    detail   jsonb       NOT NULL DEFAULT '{}',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_events_username ON auth.account_events (username, id);
CREATE TRIGGER account_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON auth.account_events
    FOR EACH STATEMENT EXECUTE FUNCTION auth.key_events_are_immutable();

-- A login's session. The cookie holds `<session_id>.<secret>`; only the SHA-256 of the secret is
-- kept (32 random bytes: no dictionary to try). The CSRF token is derived from the secret.
CREATE TABLE auth.sessions (
    session_id    text        PRIMARY KEY CHECK (session_id ~ '^[a-z2-7]{16}$'),
    secret_sha256 bytea       NOT NULL CHECK (length(secret_sha256) = 32),
    username      text        NOT NULL REFERENCES auth.accounts (username),
    role          text        NOT NULL,
    code          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Ends at the first of: expires_at (absolute), idle_until (moved on by use), revocation.
    expires_at    timestamptz NOT NULL,
    idle_until    timestamptz NOT NULL,
    client        text        NOT NULL DEFAULT '',
    revoked_at    timestamptz,
    revoked_by    text,
    revoke_reason text
);
CREATE INDEX sessions_username ON auth.sessions (username) WHERE revoked_at IS NULL;

-- Every login attempt, successful or not, without the password: for the rate limit (failures
-- per account and per address in a window) and for auditors.
CREATE TABLE auth.login_attempts (
    id        bigserial   PRIMARY KEY,
    username  text        NOT NULL,
    client    text        NOT NULL DEFAULT '',
    succeeded boolean     NOT NULL,
    reason    text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_username ON auth.login_attempts (username, at) WHERE NOT succeeded;
CREATE INDEX login_attempts_client ON auth.login_attempts (client, at) WHERE NOT succeeded;
