/**
 * Liang–Barsky: the part of segment (ax, ay)→(bx, by) inside the closed rectangle
 * [xmin, xmax] × [ymin, ymax], as [x0, y0, x1, y1], or null when none of it is inside.
 */
export function clipSegment(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): [number, number, number, number] | null {
  let t0 = 0;
  let t1 = 1;
  const dx = bx - ax;
  const dy = by - ay;
  const p = [-dx, dx, -dy, dy];
  const q = [ax - xmin, xmax - ax, ay - ymin, ymax - ay];
  for (let i = 0; i < 4; i++) {
    const pi = p[i]!;
    const qi = q[i]!;
    if (pi === 0) {
      if (qi < 0) return null;
    } else {
      const t = qi / pi;
      if (pi < 0) {
        if (t > t1) return null;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return null;
        if (t < t1) t1 = t;
      }
    }
  }
  return [ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy];
}
