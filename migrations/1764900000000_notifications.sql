-- Up Migration
-- Notifications: per-user subscriptions (webhook or e-mail) to new high-priority clues in the
-- user's counties, an outbox of deliveries unique per (subscription, clue) so nothing is sent
-- twice, daily digests unique per (subscription, day). Also what the clue vector tiles need to
-- stay fast at low zooms: a generalised point per clue, in web mercator, kept by trigger.

CREATE TABLE notify_subscriptions (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  channel       text NOT NULL CHECK (channel IN ('webhook', 'email')),
  -- webhook: an http(s) URL; email: an address.
  target        text NOT NULL CHECK (length(target) BETWEEN 3 AND 2048),
  -- webhook only: the HMAC-SHA256 key of the x-skypatrol-signature header.
  secret        text CHECK (secret IS NULL OR length(secret) BETWEEN 16 AND 256),
  min_priority  smallint NOT NULL DEFAULT 2 CHECK (min_priority BETWEEN 0 AND 3),
  -- NULL: every scenario.
  scenarios     text[] CHECK (scenarios IS NULL OR (cardinality(scenarios) > 0 AND array_position(scenarios, NULL) IS NULL)),
  digest        text NOT NULL DEFAULT 'none' CHECK (digest IN ('daily', 'none')),
  -- NULL: the user's whole scope; else only clues intersecting this area (EPSG:4326).
  aoi           geometry(MultiPolygon, 4326) CHECK (aoi IS NULL OR ST_IsValid(aoi)),
  active        boolean NOT NULL DEFAULT true,
  -- Clues created before this are never notified (a new subscription does not replay the backlog).
  since         timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((channel = 'webhook') = (secret IS NOT NULL)),
  CHECK (channel <> 'webhook' OR target ~ '^https?://'),
  CHECK (channel <> 'email' OR target ~ '^[^@\s<>",;]+@[^@\s<>",;]+$')
);
CREATE INDEX notify_subscriptions_user_idx ON notify_subscriptions (user_id);

-- The outbox: one row per (subscription, clue), whatever happens.
CREATE TABLE notify_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id  bigint NOT NULL REFERENCES notify_subscriptions (id) ON DELETE CASCADE,
  clue_id          bigint NOT NULL REFERENCES clues (id),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sent', 'failed', 'gave_up')),
  attempts         integer NOT NULL DEFAULT 0,
  -- due time of the next attempt; while an attempt runs, the end of its lease.
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  -- what the target answered (HTTP status, SMTP response), for the operator.
  response         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  UNIQUE (subscription_id, clue_id),
  CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notify_deliveries_due_idx ON notify_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'failed');

CREATE TABLE notify_digests (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id  bigint NOT NULL REFERENCES notify_subscriptions (id) ON DELETE CASCADE,
  day              date NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sent', 'failed', 'gave_up', 'empty')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  clues            integer NOT NULL DEFAULT 0,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  UNIQUE (subscription_id, day)
);

-- New clues are found by creation time (a look-back window, not the whole table).
CREATE INDEX clues_created_at_idx ON clues (created_at);

-- Vector tiles at low zooms: clues of 20–400 m are a few pixels there, so they are served as
-- one point each (in EPSG:3857, no per-request transform) from a GiST index of those points.
ALTER TABLE clues ADD COLUMN tile_point geometry(Point, 3857);
CREATE FUNCTION skypatrol_clue_tile_point() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.tile_point := ST_Transform(ST_PointOnSurface(NEW.geom), 3857);
  RETURN NEW;
END;
$$;
CREATE TRIGGER clues_tile_point
  BEFORE INSERT OR UPDATE OF geom ON clues
  FOR EACH ROW EXECUTE FUNCTION skypatrol_clue_tile_point();
UPDATE clues SET tile_point = ST_Transform(ST_PointOnSurface(geom), 3857);
CREATE INDEX clues_tile_point_gix ON clues USING gist (tile_point);

-- Data versions of the vector layers, for the API's rendered-tile cache: every statement that
-- changes a layer's table draws a new number. Sequences take no row lock, so concurrent writers
-- never queue behind each other here (a reader racing a commit may cache one stale tile under
-- the new number; the cache entries live at most a minute, the clients' max-age).
CREATE SEQUENCE tile_version_clues;
CREATE SEQUENCE tile_version_coverage;
CREATE SEQUENCE tile_version_zones;
CREATE FUNCTION skypatrol_bump_tile_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval(TG_ARGV[0]::regclass);
  RETURN NULL;
END;
$$;
CREATE TRIGGER clues_tile_version
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clues
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_bump_tile_version('tile_version_clues');
CREATE TRIGGER patrol_tiles_tile_version
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON patrol_tiles
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_bump_tile_version('tile_version_coverage');
CREATE TRIGGER zones_tile_version
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON zones
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_bump_tile_version('tile_version_zones');
