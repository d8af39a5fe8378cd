import { clipSegment } from '../domain/geo/clip.ts';
import type { Rng } from './noise.ts';
import { valueNoise } from './noise.ts';
import type { PxRing } from './raster.ts';

/** Small planar geometry helpers in pixel coordinates. */

/** Rotated rectangle centred on (cx, cy), `angle` in radians, counter-clockwise in map terms. */
export function rectRing(cx: number, cy: number, w: number, h: number, angle = 0): PxRing {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const pts: [number, number][] = [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ];
  return pts.map(([x, y]) => [cx + x * c - y * s, cy + x * s + y * c]);
}

/** An irregular closed blob of mean radius r (pixels), roughness 0..1. */
export function blobRing(cx: number, cy: number, r: number, rng: Rng, rough = 0.3, n = 28): PxRing {
  const seed = Math.floor(rng.next() * 2 ** 31);
  const stretch = 1 + rng.range(-0.35, 0.35);
  const rot = rng.range(0, Math.PI);
  const ring: PxRing = [];
  for (let k = 0; k < n; k++) {
    const t = (k / n) * 2 * Math.PI;
    // Periodic noise: sample on a circle so the ring closes smoothly.
    const nz = valueNoise(2 + 1.5 * Math.cos(t), 2 + 1.5 * Math.sin(t), seed) * 2 - 1;
    const rr = r * (1 + rough * nz);
    const x = rr * Math.cos(t) * stretch;
    const y = (rr * Math.sin(t)) / stretch;
    ring.push([cx + x * Math.cos(rot) - y * Math.sin(rot), cy + x * Math.sin(rot) + y * Math.cos(rot)]);
  }
  return ring;
}

/** Shoelace area (pixels²) of a ring, absolute. */
export function ringArea(ring: PxRing): number {
  let a = 0;
  for (let i = 0; i < ring.length; i++) {
    const p = ring[i]!;
    const q = ring[(i + 1) % ring.length]!;
    a += p[0] * q[1] - q[0] * p[1];
  }
  return Math.abs(a) / 2;
}

/** Scales a ring about its vertex centroid. */
export function scaleRing(ring: PxRing, f: number): PxRing {
  const [cx, cy] = centroid(ring);
  return ring.map(([x, y]) => [cx + (x - cx) * f, cy + (y - cy) * f]);
}

export function centroid(ring: PxRing): [number, number] {
  let x = 0;
  let y = 0;
  for (const p of ring) {
    x += p[0];
    y += p[1];
  }
  return [x / ring.length, y / ring.length];
}

export function bboxOf(ring: PxRing): [number, number, number, number] {
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const [x, y] of ring) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/** Clips a polyline to a box, returning the inside pieces. */
export function clipPolyline(
  line: [number, number][],
  box: [number, number, number, number],
): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (let i = 0; i + 1 < line.length; i++) {
    const [a, b] = [line[i]!, line[i + 1]!];
    const seg = clipSegment(a[0], a[1], b[0], b[1], box[0], box[1], box[2], box[3]);
    if (!seg) {
      if (cur.length > 1) out.push(cur);
      cur = [];
      continue;
    }
    const c: [[number, number], [number, number]] = [
      [seg[0], seg[1]],
      [seg[2], seg[3]],
    ];
    const last = cur[cur.length - 1];
    if (!last || last[0] !== c[0][0] || last[1] !== c[0][1]) {
      if (cur.length > 1) out.push(cur);
      cur = [c[0]];
    }
    cur.push(c[1]);
  }
  if (cur.length > 1) out.push(cur);
  return out;
}

/** Resamples a polyline every `step` units. */
export function densify(line: [number, number][], step: number): [number, number][] {
  const out: [number, number][] = [line[0]!];
  for (let i = 0; i + 1 < line.length; i++) {
    const [ax, ay] = line[i]!;
    const [bx, by] = line[i + 1]!;
    const n = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / step));
    for (let k = 1; k <= n; k++) out.push([ax + ((bx - ax) * k) / n, ay + ((by - ay) * k) / n]);
  }
  return out;
}

/**
 * Meanders a (densified) centre line: each vertex moves along the local normal by a smooth
 * noise of the distance along the line, tapering to zero at both ends so junctions stay put.
 */
export function meander(
  line: [number, number][],
  amplitude: number,
  wavelength: number,
  seed: number,
  taper: number,
): [number, number][] {
  const n = line.length;
  const s = new Float64Array(n);
  for (let i = 1; i < n; i++)
    s[i] = s[i - 1]! + Math.hypot(line[i]![0] - line[i - 1]![0], line[i]![1] - line[i - 1]![1]);
  const total = s[n - 1]!;
  return line.map(([x, y], i) => {
    const a = line[Math.max(0, i - 3)]!;
    const b = line[Math.min(n - 1, i + 3)]!;
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const len = Math.hypot(dx, dy) || 1;
    const t = Math.min(1, s[i]! / taper, (total - s[i]!) / taper);
    const off =
      amplitude *
      t *
      (2 * valueNoise(s[i]! / wavelength, 0.5, seed) -
        1 +
        0.5 * (2 * valueNoise(s[i]! / (wavelength / 3), 7.5, seed) - 1));
    return [x - (dy / len) * off, y + (dx / len) * off];
  });
}

/** Distance from a point to a polyline. */
export function distToPolyline(px: number, py: number, line: [number, number][]): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i + 1 < line.length; i++) {
    const [ax, ay] = line[i]!;
    const [bx, by] = line[i + 1]!;
    const dx = bx - ax;
    const dy = by - ay;
    const l2 = dx * dx + dy * dy;
    let t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    t = Math.max(0, Math.min(1, t));
    const d = Math.hypot(ax + t * dx - px, ay + t * dy - py);
    if (d < best) best = d;
  }
  return best;
}
