-- Up Migration
-- The scene catalog grows up: STAC items keep their original JSON, masks are described
-- separately from bands, and an item that fails to import is recorded with its reason
-- (sensor and date may be unknown then).
ALTER TABLE scenes ALTER COLUMN sensor DROP NOT NULL;
ALTER TABLE scenes ALTER COLUMN datetime DROP NOT NULL;
ALTER TABLE scenes ADD COLUMN error_code text;
ALTER TABLE scenes ADD COLUMN mask jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE scenes ADD COLUMN item jsonb;
ALTER TABLE scenes ADD CONSTRAINT scenes_ready_complete
  CHECK (status = 'failed' OR (sensor IS NOT NULL AND datetime IS NOT NULL AND footprint IS NOT NULL));
ALTER TABLE scenes ADD CONSTRAINT scenes_failed_has_reason
  CHECK (status = 'ready' OR (error_code IS NOT NULL AND error IS NOT NULL));
CREATE INDEX scenes_cloud_idx ON scenes (cloud_cover);
