-- Up Migration
-- A clue's also_scenarios (the other scenarios whose detectors found its site and were folded
-- into it: a wetland filled inside a river management area is a river clue that also concerns
-- the wetland reserve) were computed from its detections on every read, so no filter could use
-- them. They are now stored on the clue and kept by a trigger on detections (a detection added,
-- moved to another clue when clues merge, changed or deleted), so "every clue that concerns the
-- wetland reserve" is one indexed condition for the list, the map tiles and the exports.

ALTER TABLE clues ADD COLUMN also_scenarios text[] NOT NULL DEFAULT '{}';

-- Recompute one clue's list from its detections: sorted, once each, never its own scenario.
CREATE FUNCTION skypatrol_clue_also_scenarios(clue bigint) RETURNS void
  LANGUAGE sql AS $$
  UPDATE clues c SET also_scenarios = a.list
    FROM (SELECT ARRAY(
            SELECT DISTINCT s FROM detections d,
                   jsonb_array_elements_text(COALESCE(d.properties->'also_scenarios', '[]'::jsonb)) s
             WHERE d.clue_id = clue AND s <> (SELECT scenario FROM clues WHERE id = clue)
             ORDER BY s) AS list) a
   WHERE c.id = clue AND c.also_scenarios IS DISTINCT FROM a.list
$$;

-- A detection added to a clue merges its scenarios into the clue's list (no scan of the clue's
-- other detections, and nothing at all for the many detections no other scenario claimed); one
-- taken off a clue (clues merging, a run deleted) or changed makes that clue's list be computed
-- again from what is left.
CREATE FUNCTION skypatrol_detection_also_scenarios() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.clue_id IS NOT NULL
     AND jsonb_typeof(NEW.properties->'also_scenarios') = 'array'
     AND jsonb_array_length(NEW.properties->'also_scenarios') > 0 THEN
    UPDATE clues c SET also_scenarios = ARRAY(
        SELECT DISTINCT s FROM unnest(c.also_scenarios || ARRAY(
                 SELECT jsonb_array_elements_text(NEW.properties->'also_scenarios'))) s
         WHERE s <> c.scenario ORDER BY s)
     WHERE c.id = NEW.clue_id
       AND NOT c.also_scenarios @> ARRAY(
             SELECT s FROM jsonb_array_elements_text(NEW.properties->'also_scenarios') s
              WHERE s <> c.scenario);
  END IF;
  IF TG_OP <> 'INSERT' AND OLD.clue_id IS NOT NULL
     AND (TG_OP = 'DELETE' OR OLD.clue_id IS DISTINCT FROM NEW.clue_id
          OR OLD.properties IS DISTINCT FROM NEW.properties)
     AND jsonb_typeof(OLD.properties->'also_scenarios') = 'array'
     AND jsonb_array_length(OLD.properties->'also_scenarios') > 0 THEN
    PERFORM skypatrol_clue_also_scenarios(OLD.clue_id);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER detections_also_scenarios
  AFTER INSERT OR DELETE OR UPDATE OF clue_id, properties ON detections
  FOR EACH ROW EXECUTE FUNCTION skypatrol_detection_also_scenarios();

-- Backfill: the clues some detection names other scenarios for.
SELECT skypatrol_clue_also_scenarios(id) FROM clues c
 WHERE EXISTS (SELECT 1 FROM detections d WHERE d.clue_id = c.id AND d.properties ? 'also_scenarios');

CREATE INDEX clues_also_scenarios_gin ON clues USING gin (also_scenarios);

-- Clue tiles at z ≤ 11 are answered by the covering index clues_tile_key_idx alone (an
-- index-only range scan): it carries also_scenarios too, so a `concerns` filter keeps them so.
DROP INDEX clues_tile_key_idx;
CREATE INDEX clues_tile_key_idx ON clues (tile_key)
  INCLUDE (tile_ix, tile_iy, id, priority, confidence, area_mu, scenario, status, first_seen, last_seen,
           county_adcode, also_scenarios);
