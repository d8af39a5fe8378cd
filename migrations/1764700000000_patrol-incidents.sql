-- Up Migration
-- Patrols on the queue: every polygon a tile job finds is a detection of its run; detections
-- of one site (across tile borders, across runs) are one clue, the incident the prosecutor
-- reviews. Coverage is summarised per run and county. A run remembers which schedule made it.

CREATE TABLE detections (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id       uuid NOT NULL REFERENCES patrol_runs (id) ON DELETE CASCADE,
  tile_id      text NOT NULL,
  scenario     text NOT NULL,
  clue_id      bigint REFERENCES clues (id),
  confidence   real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  geom         geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  area_m2      double precision NOT NULL CHECK (area_m2 >= 0),
  properties   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX detections_run_idx ON detections (run_id, scenario);
CREATE INDEX detections_clue_idx ON detections (clue_id);
CREATE INDEX detections_geom_gix ON detections USING gist (geom);

-- A clue as an incident: which run saw it last, how often, how large it has been.
ALTER TABLE clues
  ADD COLUMN last_run_id    uuid REFERENCES patrol_runs (id) ON DELETE SET NULL,
  ADD COLUMN runs_seen      integer NOT NULL DEFAULT 1,
  ADD COLUMN peak_area_m2   double precision,
  -- The area before the run that saw it last (growth is measured against it).
  ADD COLUMN previous_area_m2 double precision,
  ADD COLUMN merged_into    bigint REFERENCES clues (id),
  ADD COLUMN recheck        text CHECK (recheck IS NULL OR recheck IN ('still_damaged', 'restored')),
  ADD COLUMN recheck_at     date;
CREATE INDEX clues_last_run_idx ON clues (last_run_id);

ALTER TABLE clue_events DROP CONSTRAINT clue_events_kind_check;
ALTER TABLE clue_events ADD CONSTRAINT clue_events_kind_check CHECK (kind IN (
  'created', 'transition', 'comment', 'priority', 'attachment', 'seen_again', 'merged', 'recheck'));

ALTER TABLE patrol_runs
  ADD COLUMN schedule_id   text,
  ADD COLUMN covered_km2   double precision,
  ADD COLUMN error         text;

ALTER TABLE patrol_tiles
  ADD COLUMN covered_km2   double precision,
  ADD COLUMN detections    integer NOT NULL DEFAULT 0,
  ADD COLUMN stages        jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX patrol_tiles_status_idx ON patrol_tiles (run_id, status);
CREATE INDEX patrol_tiles_finished_idx ON patrol_tiles (run_id, finished_at);

-- Patrolled (clear-observed) km² per run, scenario and county, written when a run finishes.
-- Every scenario of a run reads the same composites, so they share one coverage; it is stored
-- per scenario all the same, so that statistics never have to know that.
CREATE TABLE patrol_coverage (
  run_id         uuid NOT NULL REFERENCES patrol_runs (id) ON DELETE CASCADE,
  scenario       text NOT NULL,
  county_adcode  text NOT NULL,
  area_km2       double precision NOT NULL CHECK (area_km2 >= 0),
  PRIMARY KEY (run_id, scenario, county_adcode)
);
