import * as turf from '@turf/turf';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { type GeoJsonFC, type Landscape, OUTFLOW } from './landscape.ts';
import { orPolygon, type PxRing } from './raster.ts';
import { lonLat7, pxToLonLat, type Region } from './region.ts';
import { CLASS } from './spectra.ts';

/**
 * Zoning layers in the forms of the data contracts (shared docs "Zoning layers"), built so the
 * planted events and decoys are consistent with them. Vector maths in lon/lat with Turf; a
 * bit raster of the same polygons on the 10 m grid lets the event planner test membership.
 */

export const ZONE = {
  grassland: 1,
  forest: 2,
  blackSoil: 4,
  river: 8,
  lake: 16,
  wetland: 32,
  tempPermit: 64,
  minePermit: 128,
} as const;

export type ZoneKind =
  | 'temporary_land_permit'
  | 'mining_permit'
  | 'forest_land'
  | 'black_soil_zone'
  | 'river_management_area'
  | 'grassland'
  | 'lake_protection_zone'
  | 'wetland_reserve'
  | 'admin_division';

export const ZONE_KINDS: readonly ZoneKind[] = [
  'admin_division',
  'black_soil_zone',
  'forest_land',
  'grassland',
  'lake_protection_zone',
  'mining_permit',
  'river_management_area',
  'temporary_land_permit',
  'wetland_reserve',
];

export type ZoneFeature = Feature<Polygon | MultiPolygon, Record<string, string | number>>;

export const APPROVAL_NO = 'GS(2024)0650号';
export const ADMIN_ATTRIBUTION =
  'Boundaries: Tianditu (国家地理信息公共服务平台), map approval 审图号 GS(2024)0650号, via yuanqingye27-cmyk/china-map-puzzle (MIT)';

/** Lake protection belt width beyond the lake polygon. */
export const LAKE_BUFFER_KM = 1;
/** Wetland reserve: this far either side of the outflow channel. */
export const WETLAND_BUFFER_KM = 1.1;

export interface BaseZones {
  layers: Partial<Record<ZoneKind, ZoneFeature[]>>;
  /** ZONE bits per 10 m pixel; grassland is derived (see `grasslandBits`). */
  bits: Uint8Array;
  /** Construction land (settlements, homestead plots): in no zoning layer. */
  unzoned: Uint8Array;
}

/** Rounds every position to 7 decimals and makes rings RFC 7946 (exterior CCW, holes CW). */
export function tidy<T extends Polygon | MultiPolygon>(g: T): T {
  const round = (ring: Position[]) => ring.map((p) => lonLat7([p[0]!, p[1]!]));
  const f = turf.rewind(turf.feature(g), { mutate: false }) as Feature<T>;
  const geom = f.geometry;
  if (geom.type === 'Polygon')
    return { type: 'Polygon', coordinates: geom.coordinates.map(round) } as unknown as T;
  return {
    type: 'MultiPolygon',
    coordinates: (geom as MultiPolygon).coordinates.map((p) => p.map(round)),
  } as unknown as T;
}

/** A pixel ring → closed lon/lat ring. */
export function ringToLonLat(region: Region, ring: PxRing): Position[] {
  const out = ring.map(([x, y]) => pxToLonLat(region, x, y) as Position);
  out.push([out[0]![0]!, out[0]![1]!]);
  return out;
}

export function pxPolygon(region: Region, ring: PxRing): Polygon {
  return tidy({ type: 'Polygon', coordinates: [ringToLonLat(region, ring)] });
}

function regionPolygon(region: Region): Feature<Polygon> {
  return turf.polygon([region.ringLonLat]);
}

/** Burns a lon/lat polygon into the bit raster. */
export function burnZone(region: Region, bits: Uint8Array, g: Polygon | MultiPolygon, bit: number): void {
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  const { width, height, originX, originY, resX } = region.grid;
  for (const poly of polys) {
    const rings = poly.map((ring) =>
      ring.map((p) => {
        const [x, y] = region.fromLonLat(p[0]!, p[1]!);
        return [(x - originX) / resX, (originY - y) / resX] as [number, number];
      }),
    );
    orPolygon(bits, width, height, rings, bit);
  }
}

function clipToRegion(
  region: Region,
  g: Feature<Polygon | MultiPolygon> | null,
): Polygon | MultiPolygon | null {
  if (!g) return null;
  const inter = turf.intersect(turf.featureCollection([regionPolygon(region), g]));
  return inter ? inter.geometry : null;
}

/** Lake, river, wetland, forest and black-soil layers, and the raster of them. */
export function baseZones(l: Landscape): BaseZones {
  const region = l.region;
  const { width: W, height: H } = region.grid;
  const bits = new Uint8Array(W * H);
  const layers: BaseZones['layers'] = {};

  layers.lake_protection_zone = [];
  for (const lake of l.lakes) {
    const buffered = turf.buffer(turf.polygon(lake.coordinates), LAKE_BUFFER_KM, {
      units: 'kilometers',
      steps: 8,
    });
    if (!buffered) continue;
    const g = tidy(buffered.geometry as Polygon | MultiPolygon);
    const hulun = lake.name === 'Hulun Nuur';
    layers.lake_protection_zone.push({
      type: 'Feature',
      properties: {
        name: hulun ? '呼伦湖保护范围（湖体及外延 1 km）' : `${lake.name} 保护范围（外延 1 km）`,
      },
      geometry: g,
    });
    burnZone(region, bits, g, ZONE.lake);
  }

  layers.river_management_area = [];
  for (const r of l.rivers) {
    const buffered = turf.buffer(turf.lineString(r.lineLonLat), (r.halfWidthM + r.floodplainM) / 1000, {
      units: 'kilometers',
      steps: 4,
    });
    const g = clipToRegion(region, buffered ?? null);
    if (!g) continue;
    const t = tidy(g);
    layers.river_management_area.push({
      type: 'Feature',
      properties: { name: `${r.name} 河道管理范围`, river: r.name },
      geometry: t,
    });
    burnZone(region, bits, t, ZONE.river);
  }

  layers.wetland_reserve = [];
  const outflow = l.rivers.filter((r) => r.approximated);
  const wetlandLines = outflow.length ? outflow : l.rivers.slice(0, 1);
  for (const r of wetlandLines) {
    const buffered = turf.buffer(turf.lineString(r.lineLonLat), WETLAND_BUFFER_KM, {
      units: 'kilometers',
      steps: 6,
    });
    const g = clipToRegion(region, buffered ?? null);
    if (!g) continue;
    const t = tidy(g);
    layers.wetland_reserve.push({
      type: 'Feature',
      properties: {
        name: r.name === OUTFLOW.name ? '达兰鄂罗木河湿地保护区（模拟）' : `${r.name} 湿地保护区（模拟）`,
        level: 'provincial',
      },
      geometry: t,
    });
    burnZone(region, bits, t, ZONE.wetland);
  }

  layers.forest_land = l.forests.map((f) => {
    const g = pxPolygon(region, f.ring);
    burnZone(region, bits, g, ZONE.forest);
    return {
      type: 'Feature',
      properties: { name: `${f.kind === 'conifer' ? '樟子松林' : '杨桦林'} ${f.id + 1}`, code: '0301' },
      geometry: g,
    } satisfies ZoneFeature;
  });
  layers.black_soil_zone = l.blocks.map((b) => {
    const g = pxPolygon(region, b.ring);
    burnZone(region, bits, g, ZONE.blackSoil);
    return { type: 'Feature', properties: { name: b.name, code: '0103' }, geometry: g } satisfies ZoneFeature;
  });
  layers.mining_permit = l.mines.map((m) => {
    const g = pxPolygon(region, m.permit);
    burnZone(region, bits, g, ZONE.minePermit);
    return {
      type: 'Feature',
      properties: {
        permit_no: m.permitNo,
        valid_to: m.validTo,
        holder: m.holder,
        valid_from: '2016-01-01',
        mineral: m.id === 0 && m.name.includes('煤') ? '煤' : '建筑用砂',
      },
      geometry: g,
    } satisfies ZoneFeature;
  });

  const unzoned = new Uint8Array(W * H);
  const unzonedRings = [...l.settlements.map((s) => s.ring), ...l.homesteads.map((h) => h.plot)];
  for (const ring of unzonedRings) burnZone(region, unzoned, pxPolygon(region, ring), 1);
  return { layers, bits, unzoned };
}

/** Grassland bit: steppe land in no other land-use layer, not construction land, not a lake. */
export function grasslandBits(l: Landscape, z: BaseZones): void {
  const exclusive = ZONE.forest | ZONE.blackSoil | ZONE.tempPermit | ZONE.minePermit;
  for (let i = 0; i < z.bits.length; i++) {
    const c = l.cls[i]!;
    const inLake = l.lakeDepth[i]! > 0;
    if (!inLake && !z.unzoned[i] && !(z.bits[i]! & exclusive) && c !== CLASS.river)
      z.bits[i] = z.bits[i]! | ZONE.grassland;
  }
}

/**
 * The grassland layer as vector: the region minus lakes, forest land, black-soil zones, mining
 * and temporary-land permits and construction land.
 */
export function grasslandLayer(l: Landscape, layers: BaseZones['layers']): ZoneFeature[] {
  const region = l.region;
  let g: Feature<Polygon | MultiPolygon> | null = regionPolygon(region);
  const cut: Feature<Polygon | MultiPolygon>[] = [];
  for (const lake of l.lakes) cut.push(turf.polygon(lake.coordinates));
  for (const kind of ['forest_land', 'black_soil_zone', 'mining_permit', 'temporary_land_permit'] as const) {
    for (const f of layers[kind] ?? []) cut.push(turf.feature(f.geometry));
  }
  for (const s of l.settlements) cut.push(turf.feature(pxPolygon(region, s.ring)));
  for (const h of l.homesteads) cut.push(turf.feature(pxPolygon(region, h.plot)));
  for (const c of cut) {
    if (!g) break;
    g = turf.difference(turf.featureCollection([g, c]));
  }
  if (!g) return [];
  return [
    { type: 'Feature', properties: { name: '基本草原（模拟）', code: '0401' }, geometry: tidy(g.geometry) },
  ];
}

/** The real county-level divisions, rewound to RFC 7946, with attribution and approval number. */
export function adminLayer(counties: GeoJsonFC): ZoneFeature[] {
  return counties.features.map((f) => {
    // One county repeats a vertex: drop consecutive duplicates before rewinding.
    const g = tidy(turf.cleanCoords(f.geometry as Polygon | MultiPolygon) as Polygon | MultiPolygon);
    return {
      type: 'Feature',
      properties: {
        name: String(f.properties?.name),
        adcode: String(f.properties?.adcode),
        level: 'county',
        source: ADMIN_ATTRIBUTION,
        approval: APPROVAL_NO,
      },
      geometry: g,
    };
  });
}

/** A FeatureCollection of a layer, stably ordered. */
export function layerCollection(
  kind: ZoneKind,
  features: ZoneFeature[],
): FeatureCollection & { name: string } {
  return { type: 'FeatureCollection', name: kind, features };
}
