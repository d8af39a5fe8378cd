-- Up Migration
-- Users, roles and county scopes; sessions and API tokens (stored hashed); an append-only
-- login audit; attachments (field photos) stored in the database next to their event; clues
-- scoped to the county whose admin_division zone contains their centroid.

CREATE TABLE users (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
  display_name   text NOT NULL DEFAULT '',
  password_hash  text NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'analyst', 'prosecutor', 'field')),
  -- county adcodes (6 digits); prosecutors and field teams act only there.
  counties       text[] NOT NULL DEFAULT '{}',
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (array_position(counties, NULL) IS NULL),
  CHECK (role IN ('admin', 'analyst') OR cardinality(counties) > 0)
);

-- API tokens for scripts: only sha256(token) is stored; the token is shown once.
CREATE TABLE api_tokens (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  user_id       bigint NOT NULL REFERENCES users (id),
  name          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Cookie sessions for the web: only sha256(session id) is stored. The CSRF token is useless
-- without the session cookie, so it is kept as is (GET /auth/me can hand it out again).
CREATE TABLE sessions (
  id_sha256     text PRIMARY KEY CHECK (id_sha256 ~ '^[0-9a-f]{64}$'),
  user_id       bigint NOT NULL REFERENCES users (id),
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  ip            text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Every login attempt, append-only like clue_events. Also the store of the login rate limit.
CREATE TABLE login_events (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  username  text NOT NULL,
  user_id   bigint REFERENCES users (id),
  success   boolean NOT NULL,
  reason    text NOT NULL CHECK (reason IN ('ok', 'bad_credentials', 'inactive', 'rate_limited')),
  ip        text
);
CREATE INDEX login_events_limit_idx ON login_events (username, ip, at);
CREATE TRIGGER login_events_append_only
  BEFORE UPDATE OR DELETE ON login_events
  FOR EACH ROW EXECUTE FUNCTION skypatrol_refuse_change();
CREATE TRIGGER login_events_no_truncate
  BEFORE TRUNCATE ON login_events
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_refuse_change();

-- Who did it, as a reference (clue_events.actor keeps the readable name or the detector).
ALTER TABLE clue_events ADD COLUMN actor_user_id bigint REFERENCES users (id);

-- Field photos. Content lives in the database (bytea, ≤ 10 MB): written in the same
-- transaction as its event, covered by the same backups, no shared volume between API
-- instances; sha256 is the chain-of-custody fingerprint. Evidence is never changed.
CREATE TABLE attachments (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clue_id     bigint NOT NULL REFERENCES clues (id),
  event_id    bigint NOT NULL UNIQUE REFERENCES clue_events (id),
  filename    text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  mime        text NOT NULL CHECK (mime IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes       integer NOT NULL CHECK (bytes BETWEEN 1 AND 10485760),
  sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  content     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (octet_length(content) = bytes)
);
CREATE INDEX attachments_clue_idx ON attachments (clue_id);
CREATE TRIGGER attachments_append_only
  BEFORE UPDATE OR DELETE ON attachments
  FOR EACH ROW EXECUTE FUNCTION skypatrol_refuse_change();

-- A clue is scoped to the county whose admin_division contains its centroid (the smallest
-- such division, so a county wins over its prefecture), unless the inserter set one.
CREATE FUNCTION skypatrol_clue_county() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.county_adcode IS NULL THEN
    SELECT z.properties->>'adcode' INTO NEW.county_adcode
      FROM zones z
     WHERE z.kind = 'admin_division'
       AND z.properties ? 'adcode'
       AND ST_Contains(z.geom, ST_Centroid(NEW.geom))
     ORDER BY ST_Area(z.geom) ASC
     LIMIT 1;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER clues_county
  BEFORE INSERT ON clues
  FOR EACH ROW EXECUTE FUNCTION skypatrol_clue_county();
CREATE INDEX clues_county_idx ON clues (county_adcode);
