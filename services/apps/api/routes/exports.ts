import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { writeGeoPackage } from '../../../adapters/files/gpkg.ts';
import { cluesToKml } from '../../../adapters/files/kml.ts';
import { type ExportRow, exportClueRows } from '../../../adapters/postgis/stats-store.ts';
import { scopedClueFilter } from './scope.ts';
import { type ClueFilterParams, ClueFilterQuery, toClueFilter } from './stats.ts';

/** Most clues one export returns. */
export const MAX_EXPORT = 100_000;

type ExportFormat = 'geojson' | 'csv' | 'kml' | 'gpkg';

const CSV_COLUMNS = [
  'id',
  'scenario',
  'status',
  'confidence',
  'area_m2',
  'area_ha',
  'area_mu',
  'first_seen',
  'last_seen',
  'county',
  'county_adcode',
  'centroid_lon',
  'centroid_lat',
] as const;

/** RFC 4180 field; also defuses spreadsheet formulas (=, +, -, @ at the start of text). */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function csvRow(r: ExportRow): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    id: r.id,
    scenario: r.scenario,
    status: r.status,
    confidence: round(r.confidence, 4),
    area_m2: round(r.area_m2, 2),
    area_ha: round(r.area_ha, 6),
    area_mu: round(r.area_mu, 4),
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    county: r.county,
    county_adcode: r.county_adcode,
    centroid_lon: round(r.centroid_lon, 7),
    centroid_lat: round(r.centroid_lat, 7),
  };
  return CSV_COLUMNS.map((c) => csvField(values[c])).join(',');
}

/** UTF-8 with BOM (Excel then reads Chinese correctly), CRLF line ends. */
export function cluesToCsv(rows: ExportRow[]): Buffer {
  const lines = [CSV_COLUMNS.join(','), ...rows.map(csvRow)];
  return Buffer.from(`\uFEFF${lines.join('\r\n')}\r\n`, 'utf8');
}

function properties(r: ExportRow) {
  return {
    id: r.id,
    scenario: r.scenario,
    status: r.status,
    confidence: r.confidence,
    priority: r.priority,
    area_m2: r.area_m2,
    area_ha: r.area_ha,
    area_mu: r.area_mu,
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    county: r.county,
    county_adcode: r.county_adcode,
  };
}

function cluesToGeoJson(rows: ExportRow[]): Buffer {
  const parts = rows.map(
    (r) =>
      `{"type":"Feature","id":${r.id},"geometry":${r.geojson},"properties":${JSON.stringify(properties(r))}}`,
  );
  return Buffer.from(`{"type":"FeatureCollection","features":[\n${parts.join(',\n')}\n]}\n`, 'utf8');
}

function cluesToGpkg(rows: ExportRow[]): Buffer {
  return writeGeoPackage({
    name: 'clues',
    description: '天巡线索 Skypatrol clues',
    geometryType: 'MULTIPOLYGON',
    columns: [
      { name: 'clue_id', type: 'INTEGER' },
      { name: 'scenario', type: 'TEXT' },
      { name: 'status', type: 'TEXT' },
      { name: 'confidence', type: 'REAL' },
      { name: 'priority', type: 'INTEGER' },
      { name: 'area_m2', type: 'REAL' },
      { name: 'area_ha', type: 'REAL' },
      { name: 'area_mu', type: 'REAL' },
      { name: 'first_seen', type: 'DATE' },
      { name: 'last_seen', type: 'DATE' },
      { name: 'county', type: 'TEXT' },
      { name: 'county_adcode', type: 'TEXT' },
    ],
    features: rows.map((r) => {
      const { id, ...rest } = properties(r);
      return { properties: { clue_id: id, ...rest }, wkb: r.wkb, bbox: r.bbox };
    }),
  });
}

const CONTENT_TYPES: Record<ExportFormat, string> = {
  geojson: 'application/geo+json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  kml: 'application/vnd.google-earth.kml+xml; charset=utf-8',
  gpkg: 'application/geopackage+sqlite3',
};

export async function exportRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/exports/clues.:format',
    {
      schema: {
        tags: ['clues'],
        summary: 'Export filtered clues as GeoJSON, CSV (UTF-8 BOM; areas in m², ha, 亩), KML or GeoPackage',
        params: Type.Object({
          format: Type.Union([
            Type.Literal('geojson'),
            Type.Literal('csv'),
            Type.Literal('kml'),
            Type.Literal('gpkg'),
          ]),
        }),
        querystring: Type.Object({
          ...ClueFilterQuery,
          bbox: Type.Optional(
            Type.String({ maxLength: 200, description: 'west,south,east,north (EPSG:4326)' }),
          ),
          limit: Type.Integer({ minimum: 1, maximum: MAX_EXPORT, default: MAX_EXPORT }),
        }),
      },
    },
    async (req, reply) => {
      const { format } = req.params as { format: ExportFormat };
      const q = req.query as ClueFilterParams & { limit: number };
      const filter = await scopedClueFilter(req, toClueFilter(q));
      const rows = await exportClueRows(app.deps.pool, filter, q.limit);
      const body =
        format === 'csv'
          ? cluesToCsv(rows)
          : format === 'kml'
            ? Buffer.from(cluesToKml(rows.map((r) => ({ ...r, geometry: JSON.parse(r.geojson) }))), 'utf8')
            : format === 'gpkg'
              ? cluesToGpkg(rows)
              : cluesToGeoJson(rows);
      const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
      return reply
        .header('content-disposition', `attachment; filename="clues-${stamp}.${format}"`)
        .header('cache-control', 'no-store')
        .header('x-skypatrol-count', String(rows.length))
        .type(CONTENT_TYPES[format])
        .send(body);
    },
  );
}
