-- Up Migration
-- Skypatrol's first schema: scenes, zoning layers, patrol runs and their tiles, clues and
-- the append-only clue event log. Geometries are stored in EPSG:4326; areas are computed on
-- the ellipsoid (geography) where they matter.

CREATE TABLE scenes (
  id            text PRIMARY KEY,
  collection    text,
  sensor        text NOT NULL,
  platform      text,
  datetime      timestamptz NOT NULL,
  cloud_cover   real CHECK (cloud_cover IS NULL OR cloud_cover BETWEEN 0 AND 100),
  epsg          integer,
  footprint     geometry(MultiPolygon, 4326),
  assets        jsonb NOT NULL DEFAULT '{}'::jsonb,
  source        text NOT NULL,
  status        text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'failed')),
  error         text,
  added_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scenes_footprint_gix ON scenes USING gist (footprint);
CREATE INDEX scenes_datetime_idx ON scenes (datetime);
CREATE INDEX scenes_sensor_idx ON scenes (sensor);

CREATE TABLE zone_imports (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL,
  file            text NOT NULL,
  features        integer NOT NULL,
  repaired        integer NOT NULL DEFAULT 0,
  srs             text,
  imported_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE zones (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN (
                'temporary_land_permit', 'mining_permit', 'forest_land', 'black_soil_zone',
                'river_management_area', 'grassland', 'lake_protection_zone', 'wetland_reserve',
                'admin_division')),
  import_id   bigint REFERENCES zone_imports (id) ON DELETE CASCADE,
  properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
  geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX zones_geom_gix ON zones USING gist (geom);
CREATE INDEX zones_kind_idx ON zones (kind);

CREATE TABLE patrol_runs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text,
  aoi           geometry(MultiPolygon, 4326) NOT NULL,
  before_from   date NOT NULL,
  before_to     date NOT NULL,
  after_from    date NOT NULL,
  after_to      date NOT NULL,
  scenarios     text[] NOT NULL,
  sensors       text[] NOT NULL DEFAULT '{}',
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  tiles_total   integer NOT NULL DEFAULT 0,
  tiles_done    integer NOT NULL DEFAULT 0,
  tiles_failed  integer NOT NULL DEFAULT 0,
  params        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  CHECK (before_from <= before_to AND after_from <= after_to AND before_to <= after_from)
);
CREATE INDEX patrol_runs_aoi_gix ON patrol_runs USING gist (aoi);

CREATE TABLE patrol_tiles (
  run_id       uuid NOT NULL REFERENCES patrol_runs (id) ON DELETE CASCADE,
  tile_id      text NOT NULL,
  bounds       geometry(Polygon, 4326) NOT NULL,
  status       text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  attempts     integer NOT NULL DEFAULT 0,
  error_code   text,
  error        text,
  coverage     geometry(MultiPolygon, 4326),
  started_at   timestamptz,
  finished_at  timestamptz,
  PRIMARY KEY (run_id, tile_id)
);
CREATE INDEX patrol_tiles_bounds_gix ON patrol_tiles USING gist (bounds);

CREATE TABLE clues (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scenario        text NOT NULL,
  status          text NOT NULL DEFAULT 'new' CHECK (status IN (
                    'new', 'in_review', 'field_check', 'confirmed', 'case_filed',
                    'remediation_check', 'closed', 'dismissed')),
  dismiss_reason  text CHECK (dismiss_reason IS NULL OR dismiss_reason IN (
                    'false_detection', 'lawful_or_permitted', 'duplicate', 'outside_jurisdiction')),
  confidence      real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  priority        smallint NOT NULL DEFAULT 0,
  geom            geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  area_m2         double precision NOT NULL CHECK (area_m2 >= 0),
  area_ha         double precision GENERATED ALWAYS AS (area_m2 / 10000.0) STORED,
  area_mu         double precision GENERATED ALWAYS AS (area_m2 * 15.0 / 10000.0) STORED,
  first_seen      date NOT NULL,
  last_seen       date NOT NULL,
  county_adcode   text,
  detector        text NOT NULL,
  model_version   text NOT NULL,
  model_sha256    text,
  run_id          uuid REFERENCES patrol_runs (id) ON DELETE SET NULL,
  before_scene    text,
  after_scene     text,
  inputs          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (first_seen <= last_seen),
  CHECK ((status = 'dismissed') = (dismiss_reason IS NOT NULL))
);
CREATE INDEX clues_geom_gix ON clues USING gist (geom);
CREATE INDEX clues_scenario_status_idx ON clues (scenario, status);
CREATE INDEX clues_last_seen_idx ON clues (last_seen);

-- Every transition, comment, priority change and attachment: append-only.
CREATE TABLE clue_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  clue_id      bigint NOT NULL REFERENCES clues (id),
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('created', 'transition', 'comment', 'priority', 'attachment', 'seen_again')),
  from_status  text,
  to_status    text,
  reason       text,
  comment      text,
  data         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX clue_events_clue_idx ON clue_events (clue_id, at);

CREATE FUNCTION skypatrol_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER clue_events_append_only
  BEFORE UPDATE OR DELETE ON clue_events
  FOR EACH ROW EXECUTE FUNCTION skypatrol_refuse_change();
CREATE TRIGGER clue_events_no_truncate
  BEFORE TRUNCATE ON clue_events
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_refuse_change();
