-- Up Migration
-- Chain of custody for inspection packets: every packet (and batch) the system issues is
-- recorded with the SHA-256 of its manifest, append-only like clue_events. A packet shown
-- later is then checked against what was issued (`packet verify` looks it up), not only
-- against itself. Scene asset hashes need no table: they live with the scene
-- (scenes.assets[band].sha256, scenes.mask.sha256) and with each clue (clues.inputs.custody).
CREATE TABLE packet_issues (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  manifest_sha256  text NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
  kind             text NOT NULL CHECK (kind IN ('packet', 'batch')),
  clue_ids         bigint[] NOT NULL CHECK (cardinality(clue_ids) > 0),
  generated_by     text NOT NULL,
  generated_at     timestamptz NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX packet_issues_sha_idx ON packet_issues (manifest_sha256);
CREATE INDEX packet_issues_clues_idx ON packet_issues USING gin (clue_ids);
CREATE TRIGGER packet_issues_append_only
  BEFORE UPDATE OR DELETE ON packet_issues
  FOR EACH ROW EXECUTE FUNCTION skypatrol_refuse_change();
CREATE TRIGGER packet_issues_no_truncate
  BEFORE TRUNCATE ON packet_issues
  FOR EACH STATEMENT EXECUTE FUNCTION skypatrol_refuse_change();
