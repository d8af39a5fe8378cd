import { contours } from 'd3-contour';
import type { PolygonCoords, Ring } from '../geo/area.ts';
import { multiPolygonAreaM2 } from '../geo/area.ts';

/**
 * Turn a per-pixel change probability into polygons: threshold, 8-connected components,
 * marching-squares outlines (holes kept), drop components under the minimum mapping unit,
 * confidence = mean probability of the component's pixels.
 */
export interface PolygonizeInput {
  width: number;
  height: number;
  probability: Float32Array;
  /** 1 where the pixel was observed in both dates; unobserved pixels never become change. */
  valid?: Uint8Array;
  threshold: number;
  minAreaM2: number;
  /** Pixel-corner coordinates (x right, y down) → [lon, lat]. */
  toLonLat: (x: number, y: number) => [number, number];
}

export interface ChangePolygon {
  coordinates: PolygonCoords[];
  areaM2: number;
  confidence: number;
  pixels: number;
  /** Pixel bounding box [x0, y0, x1, y1) in the input raster. */
  bbox: [number, number, number, number];
}

/** Label 8-connected foreground pixels; returns labels (0 = background) and the count. */
export function labelComponents(
  mask: Uint8Array,
  width: number,
  height: number,
): { labels: Int32Array; count: number } {
  const labels = new Int32Array(width * height);
  const parent: number[] = [0];
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  // Already-visited neighbours W, NW, N, NE, in that order (no per-pixel allocation: this runs
  // over every pixel of the coverage mask, a million a tile).
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!mask[i]) continue;
      let label = x > 0 ? labels[i - 1]! : 0;
      if (y > 0) {
        const up = i - width;
        for (let n = x > 0 ? up - 1 : up, end = x < width - 1 ? up + 1 : up; n <= end; n++) {
          const ln = labels[n]!;
          if (!ln) continue;
          if (!label) label = ln;
          else if (ln !== label) union(label, ln);
        }
      }
      if (!label) {
        label = parent.length;
        parent.push(label);
      }
      labels[i] = label;
    }
  }
  // Flatten to consecutive ids 1..count.
  const remap = new Int32Array(parent.length);
  let count = 0;
  for (let l = 1; l < parent.length; l++) {
    const root = find(l);
    if (!remap[root]) remap[root] = ++count;
    remap[l] = remap[root]!;
  }
  for (let i = 0; i < labels.length; i++) if (labels[i]) labels[i] = remap[labels[i]!]!;
  return { labels, count };
}

function signedArea(ring: Ring): number {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    s += (ring[j]![0] - ring[i]![0]) * (ring[j]![1] + ring[i]![1]);
  }
  return s / 2; // > 0 for counter-clockwise in a y-up frame
}

/** Drop vertices that sit on the straight line between their neighbours (lossless). */
function dropCollinear(ring: Ring): Ring {
  const open = ring.slice(0, -1);
  if (open.length <= 3) return ring;
  const out: Ring = [];
  for (let i = 0; i < open.length; i++) {
    const a = open[(i - 1 + open.length) % open.length]!;
    const b = open[i]!;
    const c = open[(i + 1) % open.length]!;
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (Math.abs(cross) > 1e-12) out.push(b);
  }
  if (out.length < 3) return ring;
  out.push([out[0]![0], out[0]![1]]);
  return out;
}

/** RFC 7946 winding: exterior counter-clockwise, holes clockwise (in lon/lat, y up). */
function orient(ring: Ring, exterior: boolean): Ring {
  const ccw = signedArea(ring) > 0;
  return ccw === exterior ? ring : [...ring].reverse();
}

export function polygonize(input: PolygonizeInput): ChangePolygon[] {
  const { width, height, probability, valid, threshold } = input;
  const mask = new Uint8Array(width * height);
  let any = 0;
  let all = 1;
  for (let i = 0; i < mask.length; i++) {
    const p = probability[i]!;
    const m = p >= threshold && (!valid || valid[i]) ? 1 : 0;
    mask[i] = m;
    any |= m;
    all &= m;
  }
  // Most detectors find nothing on most tiles: no labelling pass (and its label raster) then.
  if (!any) return [];
  // Every pixel in (a patrol tile's coverage seen clear in both windows): the raster's outline.
  if (all && width > 1 && height > 1) return wholeRaster(input);
  const { labels, count } = labelComponents(mask, width, height);
  if (count === 0) return [];

  const stats = Array.from({ length: count + 1 }, () => ({
    x0: width,
    y0: height,
    x1: 0,
    y1: 0,
    n: 0,
    sum: 0,
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x]!;
      if (!l) continue;
      const s = stats[l]!;
      if (x < s.x0) s.x0 = x;
      if (y < s.y0) s.y0 = y;
      if (x + 1 > s.x1) s.x1 = x + 1;
      if (y + 1 > s.y1) s.y1 = y + 1;
      s.n++;
      s.sum += probability[y * width + x]!;
    }
  }

  const result: ChangePolygon[] = [];
  const generator = contours().smooth(false).thresholds([0.5]);
  for (let l = 1; l <= count; l++) {
    const s = stats[l]!;
    // One pixel of padding so outlines close inside the crop.
    const cw = s.x1 - s.x0 + 2;
    const ch = s.y1 - s.y0 + 2;
    const crop = new Array<number>(cw * ch).fill(0);
    for (let y = s.y0; y < s.y1; y++) {
      for (let x = s.x0; x < s.x1; x++) {
        if (labels[y * width + x] === l) crop[(y - s.y0 + 1) * cw + (x - s.x0 + 1)] = 1;
      }
    }
    const mp = generator.size([cw, ch]).contour(crop, 0.5);
    const coordinates: PolygonCoords[] = [];
    for (const poly of mp.coordinates) {
      const rings = poly.map((ring, k) => {
        const mapped: Ring = ring.map(([x, y]) => input.toLonLat(x! + s.x0 - 1, y! + s.y0 - 1));
        return orient(dropCollinear(mapped), k === 0);
      });
      if (rings.length && rings[0]!.length >= 4) coordinates.push(rings);
    }
    if (!coordinates.length) continue;
    const areaM2 = multiPolygonAreaM2(coordinates);
    if (areaM2 < input.minAreaM2) continue;
    result.push({
      coordinates,
      areaM2,
      confidence: s.sum / s.n,
      pixels: s.n,
      bbox: [s.x0, s.y0, s.x1, s.y1],
    });
  }
  return result.sort((a, b) => b.confidence * b.areaM2 - a.confidence * a.areaM2);
}

/**
 * The one polygon of a raster whose every pixel is in, vertex for vertex what the contour
 * traces (marching squares at 0.5 cuts each corner by half a pixel), without tracing a
 * million cells.
 */
function wholeRaster(input: PolygonizeInput): ChangePolygon[] {
  const { width: w, height: h, probability } = input;
  const outline: [number, number][] = [
    [w, h - 0.5],
    [w, 0.5],
    [w - 0.5, 0],
    [0.5, 0],
    [0, 0.5],
    [0, h - 0.5],
    [0.5, h],
    [w - 0.5, h],
    [w, h - 0.5],
  ];
  const ring: Ring = outline.map(([x, y]) => input.toLonLat(x, y));
  const coordinates: PolygonCoords[] = [[orient(dropCollinear(ring), true)]];
  const areaM2 = multiPolygonAreaM2(coordinates);
  if (areaM2 < input.minAreaM2) return [];
  const n = w * h;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probability[i]!;
  return [{ coordinates, areaM2, confidence: sum / n, pixels: n, bbox: [0, 0, w, h] }];
}

/**
 * Pixels observed in both dates that lie more than `margin` pixels (Chebyshev distance) from
 * every unobserved pixel of the raster: the cloud, shadow and no-data masks grown by `margin`
 * pixels, for detection only. Mask edges — thin cloud fringes and haze a scene's mask leaves
 * clear, shadow penumbrae, the rim of a composite's never-seen-clear holes — are where changes
 * are found that did not happen (Landsat's QA_PIXEL flags such a ring as "dilated cloud";
 * Sentinel-2's SCL has none). The raster border is not unobserved (tiles overlap).
 * Two separable passes, O(n).
 */
export function erodeValid(valid: Uint8Array, width: number, height: number, margin: number): Uint8Array {
  if (margin <= 0) return valid;
  // Pass 1: no unobserved pixel within `margin` along the row.
  const rows = new Uint8Array(valid.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let last = -margin - 1; // last unobserved x seen from the left
    for (let x = 0; x < width; x++) {
      if (!valid[o + x]) last = x;
      rows[o + x] = x - last > margin ? 1 : 0;
    }
    let next = width + margin; // next unobserved x seen from the right
    for (let x = width - 1; x >= 0; x--) {
      if (!valid[o + x]) next = x;
      if (next - x <= margin) rows[o + x] = 0;
    }
  }
  // Pass 2: the same along the column, on the row result.
  const out = new Uint8Array(valid.length);
  for (let x = 0; x < width; x++) {
    let last = -margin - 1;
    for (let y = 0; y < height; y++) {
      if (!rows[y * width + x]) last = y;
      out[y * width + x] = y - last > margin ? 1 : 0;
    }
    let next = height + margin;
    for (let y = height - 1; y >= 0; y--) {
      if (!rows[y * width + x]) next = y;
      if (next - y <= margin) out[y * width + x] = 0;
    }
  }
  return out;
}

/**
 * Clues are polygonized only on pixels with no unobserved pixel (not clear in both windows) within
 * this many pixels: the masks grown by 2 px (20 m) for detection (erodeValid), as Landsat's
 * QA_PIXEL "dilated cloud" ring does. Covered area (the patrolled km²) is still the unmasked pixels.
 */
export const MASK_MARGIN_PX = 2;

/** The pixels a tile's detectors may report changes on (both dates observed, away from mask edges). */
export function detectionValid(valid: Uint8Array, width: number, height: number): Uint8Array {
  return erodeValid(valid, width, height, MASK_MARGIN_PX);
}
