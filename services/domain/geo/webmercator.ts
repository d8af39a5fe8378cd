/**
 * Web Mercator (EPSG:3857) tile maths for XYZ tiles (origin top-left, y down), as used by
 * MapLibre and PostGIS `ST_TileEnvelope`. Pure.
 */

/** Half the world's width in EPSG:3857 metres (π · 6378137). */
export const WORLD_HALF = Math.PI * 6378137;
/** Latitude where EPSG:3857 is cut off (square world). */
export const MAX_LAT = 85.0511287798066;
/** Deepest zoom the API serves. */
export const MAX_ZOOM = 24;

export interface TileCoord {
  z: number;
  x: number;
  y: number;
}

/** True when z/x/y addresses an existing tile. */
export function isValidTile({ z, x, y }: TileCoord): boolean {
  if (!Number.isInteger(z) || !Number.isInteger(x) || !Number.isInteger(y)) return false;
  if (z < 0 || z > MAX_ZOOM) return false;
  const n = 2 ** z;
  return x >= 0 && x < n && y >= 0 && y < n;
}

/** [minX, minY, maxX, maxY] of a tile in EPSG:3857 metres (the same as `ST_TileEnvelope`). */
export function tileBounds3857({ z, x, y }: TileCoord): [number, number, number, number] {
  const size = (2 * WORLD_HALF) / 2 ** z;
  const minX = -WORLD_HALF + x * size;
  const maxY = WORLD_HALF - y * size;
  return [minX, maxY - size, minX + size, maxY];
}

/** EPSG:3857 metres → [lon, lat] degrees. */
export function mercatorToLonLat(mx: number, my: number): [number, number] {
  const lon = (mx / WORLD_HALF) * 180;
  const lat = (Math.atan(Math.exp((my / WORLD_HALF) * Math.PI)) * 360) / Math.PI - 90;
  return [lon, lat];
}

/** [lon, lat] degrees → EPSG:3857 metres (latitude clamped to ±MAX_LAT). */
export function lonLatToMercator(lon: number, lat: number): [number, number] {
  const phi = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  return [(lon / 180) * WORLD_HALF, Math.log(Math.tan(Math.PI / 4 + phi / 2)) * 6378137];
}

/** [west, south, east, north] of a tile in degrees. */
export function tileBounds4326(t: TileCoord): [number, number, number, number] {
  const [minX, minY, maxX, maxY] = tileBounds3857(t);
  const [w, s] = mercatorToLonLat(minX, minY);
  const [e, n] = mercatorToLonLat(maxX, maxY);
  return [w, s, e, n];
}

/** The tile containing a point at zoom z. */
export function lonLatToTile(lon: number, lat: number, z: number): TileCoord {
  const n = 2 ** z;
  const [mx, my] = lonLatToMercator(lon, lat);
  const x = Math.min(n - 1, Math.max(0, Math.floor(((mx + WORLD_HALF) / (2 * WORLD_HALF)) * n)));
  const y = Math.min(n - 1, Math.max(0, Math.floor(((WORLD_HALF - my) / (2 * WORLD_HALF)) * n)));
  return { z, x, y };
}

/** Size of one pixel of a `tileSize`-pixel tile at zoom z, in EPSG:3857 metres. */
export function pixelSize3857(z: number, tileSize = 256): number {
  return (2 * WORLD_HALF) / (tileSize * 2 ** z);
}

/** Ground size of a pixel at latitude `lat` (Mercator metres shrink by cos φ on the ground). */
export function groundResolution(z: number, lat: number, tileSize = 256): number {
  return pixelSize3857(z, tileSize) * Math.cos((lat * Math.PI) / 180);
}

/** The EPSG:3857 grid of a tile (for warping imagery onto it). */
export function tileGrid(t: TileCoord, tileSize = 256) {
  const [minX, , , maxY] = tileBounds3857(t);
  const res = pixelSize3857(t.z, tileSize);
  return {
    epsg: 3857,
    width: tileSize,
    height: tileSize,
    originX: minX,
    originY: maxY,
    resX: res,
    resY: res,
  };
}

export interface VectorLayerSpec {
  id: string;
  description?: string;
  fields: Record<string, string>;
  minzoom?: number;
  maxzoom?: number;
}

export interface TileJsonOptions {
  /** Tile URL templates with {z}/{x}/{y}. */
  tiles: string[];
  name?: string;
  description?: string;
  attribution?: string;
  minzoom?: number;
  maxzoom?: number;
  /** [west, south, east, north]; the whole Mercator world when absent. */
  bounds?: [number, number, number, number] | null;
  vectorLayers?: VectorLayerSpec[];
}

/** A TileJSON 3.0.0 document. */
export function tileJson(o: TileJsonOptions): Record<string, unknown> {
  const minzoom = o.minzoom ?? 0;
  const maxzoom = o.maxzoom ?? 22;
  const bounds = o.bounds ?? [-180, -MAX_LAT, 180, MAX_LAT];
  const [w, s, e, n] = bounds;
  const centerZoom = Math.min(maxzoom, Math.max(minzoom, zoomToFit(bounds)));
  return {
    tilejson: '3.0.0',
    ...(o.name ? { name: o.name } : {}),
    ...(o.description ? { description: o.description } : {}),
    ...(o.attribution ? { attribution: o.attribution } : {}),
    scheme: 'xyz',
    tiles: o.tiles,
    minzoom,
    maxzoom,
    bounds,
    center: [(w + e) / 2, (s + n) / 2, centerZoom],
    ...(o.vectorLayers ? { vector_layers: o.vectorLayers } : {}),
  };
}

/** Largest zoom at which `bounds` fits in one 256-pixel tile's worth of width/height (≥ 0). */
export function zoomToFit([w, s, e, n]: [number, number, number, number]): number {
  const [x0, y0] = lonLatToMercator(w, s);
  const [x1, y1] = lonLatToMercator(e, n);
  const span = Math.max(x1 - x0, y1 - y0);
  if (!(span > 0)) return 14;
  return Math.max(0, Math.min(22, Math.floor(Math.log2((2 * WORLD_HALF) / span))));
}
