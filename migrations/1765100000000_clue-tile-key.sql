-- Up Migration
-- Clue vector tiles at z ≤ 11 (clusters, then one point per clue) read every clue of the tile:
-- up to 10,000 in a z8 tile of a dense district. Through the GiST index of tile_point that is a
-- heap fetch and a geometry recheck per clue, then ST_X/ST_Y per clue to group them (≈ 30 ms).
-- Instead each clue gets its point as integer pixel coordinates at zoom 23 (2^31 per axis, from
-- the top-left corner of web mercator, ≈ 2 cm) and their Morton (Z-order) code: every tile, at
-- any zoom, is then one contiguous range of codes, and every cluster cell of a tile a range
-- inside it (grouping is a bit shift). A B-tree on the code that also carries the columns the
-- tiles show and filter on answers a whole tile by an index-only range scan. Kept by the same
-- trigger as tile_point, so it is never stale: no aggregate has to be refreshed.

CREATE FUNCTION skypatrol_morton_spread(v bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  -- Bits 0..30 of v moved to the even bits 0..60 (the usual magic-number interleave).
  SELECT (s4 | (s4 << 1)) & 6148914691236517205 FROM (
    SELECT (s3 | (s3 << 2)) & 3689348814741910323 AS s4 FROM (
      SELECT (s2 | (s2 << 4)) & 1085102592571150095 AS s3 FROM (
        SELECT (s1 | (s1 << 8)) & 71777214294589695 AS s2 FROM (
          SELECT (v | (v << 16)) & 281470681808895 AS s1) a) b) c) d
$$;

-- Morton code of pixel (ix, iy) at zoom 23: x bits even, y bits odd, 62 bits in all.
CREATE FUNCTION skypatrol_morton(ix integer, iy integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT skypatrol_morton_spread(ix::bigint) | (skypatrol_morton_spread(iy::bigint) << 1)
$$;

ALTER TABLE clues
  ADD COLUMN tile_ix integer,
  ADD COLUMN tile_iy integer,
  ADD COLUMN tile_key bigint;

CREATE OR REPLACE FUNCTION skypatrol_clue_tile_point() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  half constant float8 := 20037508.342789244;
BEGIN
  NEW.tile_point := ST_Transform(ST_PointOnSurface(NEW.geom), 3857);
  NEW.tile_ix := LEAST(2147483647, GREATEST(0, floor((ST_X(NEW.tile_point) + half) / (2 * half) * 2147483648)))::integer;
  NEW.tile_iy := LEAST(2147483647, GREATEST(0, floor((half - ST_Y(NEW.tile_point)) / (2 * half) * 2147483648)))::integer;
  NEW.tile_key := skypatrol_morton(NEW.tile_ix, NEW.tile_iy);
  RETURN NEW;
END;
$$;

UPDATE clues SET
  tile_ix = LEAST(2147483647, GREATEST(0, floor((ST_X(tile_point) + 20037508.342789244) / 40075016.68557849 * 2147483648)))::integer,
  tile_iy = LEAST(2147483647, GREATEST(0, floor((20037508.342789244 - ST_Y(tile_point)) / 40075016.68557849 * 2147483648)))::integer
  WHERE tile_point IS NOT NULL;
UPDATE clues SET tile_key = skypatrol_morton(tile_ix, tile_iy) WHERE tile_ix IS NOT NULL;

CREATE INDEX clues_tile_key_idx ON clues (tile_key)
  INCLUDE (tile_ix, tile_iy, id, priority, confidence, area_mu, scenario, status, first_seen, last_seen, county_adcode);
