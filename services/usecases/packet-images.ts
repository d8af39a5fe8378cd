import sharp from 'sharp';
import { isSkypatrolError } from '../core/errors.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import { fromLonLatFn, toLonLatFn, utmZoneEpsg, utmZoneOf } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';
import type { SensorId } from '../domain/imagery/sensors.ts';
import { type CatalogScene, readSceneOnTile } from './read-tile.ts';
import { renderPlanes } from './render-tile.ts';

/**
 * The pictures of an inspection packet, rendered from the catalogued COGs themselves: before
 * and after chips around the clue with its outline, and an overview of the surroundings with
 * county boundaries, overlapping zoning, a scale bar and a north arrow. Each picture is read
 * onto a north-up grid in the clue's UTM zone (`readSceneOnTile`, the same reads the patrol
 * makes), so pixels are square metres on the ground.
 */

export interface PacketScene extends CatalogScene {
  platform: string | null;
  cloud_cover: number | null;
}

export interface SceneMeta {
  id: string;
  sensor: string;
  platform: string | null;
  datetime: Date;
  cloudCover: number | null;
}

export interface Picture {
  /** Lossless, for the packet's images/ folder. */
  png: Buffer;
  /** The same picture as JPEG (quality 90, no chroma subsampling) for the PDF. */
  jpeg: Buffer;
  width: number;
  height: number;
  /** Ground side of the square picture in metres, and metres per pixel. */
  sideM: number;
  resolutionM: number;
  scene: SceneMeta;
  /** Share of the clue's surroundings observed clear (mask) in this scene. */
  clearFraction: number;
}

export interface PictureResult {
  picture: Picture | null;
  /** Why candidates were skipped or nothing could be drawn. */
  notes: string[];
}

type Coords = number[][][][];

export interface ViewGrid {
  tile: AnalysisTile;
  toPx: (lon: number, lat: number) => [number, number];
}

/** A square north-up grid of `px` pixels and `sideM` metres centred on a lon/lat point. */
export function viewGrid(center: [number, number], sideM: number, px: number): ViewGrid {
  const epsg = utmZoneEpsg(center[0], center[1]);
  const fwd = fromLonLatFn(epsg)!;
  const inv = toLonLatFn(epsg)!;
  const [cx, cy] = fwd(center[0], center[1]);
  const res = sideM / px;
  const grid: Grid = {
    epsg,
    width: px,
    height: px,
    originX: cx - sideM / 2,
    originY: cy + sideM / 2,
    resX: res,
    resY: res,
  };
  const corners = [
    inv(grid.originX, grid.originY - sideM),
    inv(grid.originX + sideM, grid.originY - sideM),
    inv(grid.originX + sideM, grid.originY),
    inv(grid.originX, grid.originY),
  ];
  const lons = corners.map((c) => c[0]);
  const lats = corners.map((c) => c[1]);
  const tile: AnalysisTile = {
    id: 'packet-view',
    epsg,
    zone: utmZoneOf(center[0]),
    hemisphere: center[1] >= 0 ? 'N' : 'S',
    col: 0,
    row: 0,
    grid,
    boundsLonLat: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
    polygonLonLat: [...corners, corners[0]!] as [number, number][],
  };
  return {
    tile,
    toPx: (lon, lat) => {
      const [x, y] = fwd(lon, lat);
      return [(x - grid.originX) / res, (grid.originY - y) / res];
    },
  };
}

/** Largest extent (m) of the clue on the ground, measured on its view grid. */
export function clueExtentM(coords: Coords, center: [number, number]): number {
  const v = viewGrid(center, 1, 1);
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const poly of coords)
    for (const ring of poly)
      for (const [lon, lat] of ring) {
        const [x, y] = v.toPx(lon!, lat!);
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
  return Math.max(maxX - minX, maxY - minY);
}

function lineD(lines: number[][][], toPx: ViewGrid['toPx']): string {
  return lines
    .filter((l) => l.length > 1)
    .map(
      (l) =>
        `M${l
          .map(([lon, lat]) =>
            toPx(lon!, lat!)
              .map((v) => v.toFixed(1))
              .join(' '),
          )
          .join(' L')}`,
    )
    .join(' ');
}

function pathD(coords: Coords, toPx: ViewGrid['toPx']): string {
  const parts: string[] = [];
  for (const poly of coords)
    for (const ring of poly) {
      const pts = ring.map(([lon, lat]) => toPx(lon!, lat!));
      parts.push(`M${pts.map(([x, y]) => `${x.toFixed(1)} ${y.toFixed(1)}`).join(' L')} Z`);
    }
  return parts.join(' ');
}

export interface Overlay {
  /** The clue outline. */
  clue: Coords;
  /** County boundaries and zoning outlines as lines (lon/lat linestrings), both optional. */
  boundaries?: number[][][];
  zones?: number[][][];
  marker?: [number, number];
  scaleBar?: boolean;
}

function niceLength(maxM: number): number {
  const steps = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000];
  let best = steps[0]!;
  for (const s of steps) if (s <= maxM) best = s;
  return best;
}

function overlaySvg(v: ViewGrid, px: number, sideM: number, o: Overlay): string {
  const parts: string[] = [];
  if (o.zones?.length)
    parts.push(
      `<path d="${lineD(o.zones, v.toPx)}" fill="none" stroke="#3ee0ff" stroke-width="1.6" opacity="0.9"/>`,
    );
  if (o.boundaries?.length)
    parts.push(
      `<path d="${lineD(o.boundaries, v.toPx)}" fill="none" stroke="#ffe14d" stroke-width="2.2" stroke-dasharray="9 5"/>`,
    );
  const d = pathD(o.clue, v.toPx);
  parts.push(
    `<path d="${d}" fill="none" stroke="#000" stroke-width="4.5" stroke-opacity="0.55" stroke-linejoin="round"/>`,
  );
  parts.push(`<path d="${d}" fill="none" stroke="#ff2a2a" stroke-width="2.4" stroke-linejoin="round"/>`);
  if (o.marker) {
    const [x, y] = v.toPx(o.marker[0], o.marker[1]);
    parts.push(
      `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="14" fill="none" stroke="#fff" stroke-width="3"/>`,
      `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="14" fill="none" stroke="#ff2a2a" stroke-width="1.5"/>`,
    );
  }
  if (o.scaleBar) {
    const metres = niceLength(sideM / 4);
    const len = (metres / sideM) * px;
    const x0 = 14;
    const y0 = px - 18;
    const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
    parts.push(
      `<rect x="${x0 - 6}" y="${y0 - 22}" width="${len + 12}" height="34" fill="#000" fill-opacity="0.45"/>`,
      `<rect x="${x0}" y="${y0}" width="${len.toFixed(1)}" height="5" fill="#fff"/>`,
      `<text x="${x0}" y="${y0 - 6}" font-family="DejaVu Sans, Noto Sans CJK SC, sans-serif" font-size="14" fill="#fff">${label}</text>`,
      `<g transform="translate(${px - 28} 14)"><rect x="-14" y="-6" width="28" height="46" fill="#000" fill-opacity="0.45"/>` +
        '<path d="M0 0 L9 22 L0 17 L-9 22 Z" fill="#fff"/>' +
        '<text x="0" y="36" text-anchor="middle" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#fff">N</text></g>',
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${px}" height="${px}" viewBox="0 0 ${px} ${px}">${parts.join('')}</svg>`;
}

/** Share of clear pixels in the square of `frac` of the view around its centre. */
function clearShare(valid: Uint8Array, px: number, frac: number): number {
  const half = Math.max(1, Math.round((px * frac) / 2));
  const c = Math.floor(px / 2);
  let clear = 0;
  let n = 0;
  for (let y = Math.max(0, c - half); y < Math.min(px, c + half); y++)
    for (let x = Math.max(0, c - half); x < Math.min(px, c + half); x++) {
      n++;
      clear += valid[y * px + x]!;
    }
  return n ? clear / n : 0;
}

function meta(s: PacketScene): SceneMeta {
  return {
    id: s.id,
    sensor: s.sensor,
    platform: s.platform,
    datetime: s.datetime,
    cloudCover: s.cloud_cover,
  };
}

const BANDS = ['red', 'green', 'blue'] as const;

/**
 * Render the clearest of the candidate scenes over a view (the preferred scene wins ties):
 * true colour, nodata grey, with the overlay drawn on top.
 */
export async function renderPicture(
  candidates: PacketScene[],
  preferred: string | null,
  center: [number, number],
  sideM: number,
  px: number,
  overlay: Overlay,
  /** Fraction of the view (centred) whose clear share chooses the scene. */
  judgeFraction = 0.5,
): Promise<PictureResult> {
  const notes: string[] = [];
  const v = viewGrid(center, sideM, px);
  let best: { scene: PacketScene; planes: Float32Array[]; clear: number } | null = null;
  const ordered = [...candidates].sort((a, b) => (a.id === preferred ? -1 : b.id === preferred ? 1 : 0));
  for (const scene of ordered) {
    let read: Awaited<ReturnType<typeof readSceneOnTile>>;
    try {
      read = await readSceneOnTile({ ...scene, sensor: scene.sensor as SensorId }, v.tile, BANDS);
    } catch (err) {
      notes.push(
        `${scene.id}: ${isSkypatrolError(err) ? `${err.code}: ${err.message}` : (err as Error).message}`,
      );
      continue;
    }
    if (!read) {
      notes.push(`${scene.id}: does not cover the clue`);
      continue;
    }
    const clear = clearShare(read.valid, px, judgeFraction);
    if (!best || clear > best.clear + 1e-9)
      best = { scene, planes: BANDS.map((b) => read!.bands[b]!), clear };
    if (clear >= 0.999 && scene.id === preferred) break;
  }
  if (!best) return { picture: null, notes: notes.length ? notes : ['no catalogued scene for this date'] };
  const rgba = renderPlanes(best.planes, 'true-color');
  const img = sharp(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), {
    raw: { width: px, height: px, channels: 4 },
  })
    .flatten({ background: '#7f7f7f' })
    .composite([{ input: Buffer.from(overlaySvg(v, px, sideM, overlay)) }]);
  const [png, jpeg] = await Promise.all([
    img.clone().png({ compressionLevel: 6 }).toBuffer(),
    img.clone().jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer(),
  ]);
  return {
    picture: {
      png,
      jpeg,
      width: px,
      height: px,
      sideM,
      resolutionM: sideM / px,
      scene: meta(best.scene),
      clearFraction: best.clear,
    },
    notes,
  };
}
