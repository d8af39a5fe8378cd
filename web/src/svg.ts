/** Charts as inline SVG (no chart library, no CDN): horizontal bars and a precision–recall curve. */
const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface Bar {
  key: string;
  label: string;
  value: number;
  color?: string;
  /** Text shown at the end of the bar (defaults to the value). */
  text?: string;
}

/** Horizontal bar chart, one row per item; `data-key`/`data-value` on each bar for tests. */
export function barChart(items: Bar[], title: string, width = 420, textWidth = 70): SVGSVGElement {
  const row = 26;
  const labelW = 130;
  const h = Math.max(1, items.length) * row + 8;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${h}`,
    width: '100%',
    role: 'img',
    'aria-label': title,
    class: 'chart',
  });
  const max = Math.max(1, ...items.map((i) => i.value));
  const barMax = width - labelW - textWidth;
  items.forEach((it, i) => {
    const y = 4 + i * row;
    const g = el('g', { class: 'bar', 'data-key': it.key, 'data-value': it.value });
    g.append(el('text', { x: labelW - 6, y: y + 16, 'text-anchor': 'end', class: 'label' }, it.label));
    const w = Math.max(it.value > 0 ? 2 : 0, (it.value / max) * barMax);
    g.append(
      el('rect', { x: labelW, y: y + 3, width: w, height: row - 8, rx: 3, fill: it.color ?? '#1c7ed6' }),
    );
    g.append(el('text', { x: labelW + w + 6, y: y + 16, class: 'value' }, it.text ?? String(it.value)));
    svg.append(g);
  });
  return svg;
}

export interface CurvePoint {
  x: number;
  y: number;
}

/** A line chart on [0,1]×[0,1] (recall × precision) with a highlighted point. */
export function prChart(
  points: CurvePoint[],
  marker: CurvePoint | null,
  labels: { x: string; y: string; title: string },
): SVGSVGElement {
  const W = 360;
  const H = 280;
  const m = { l: 44, r: 12, t: 12, b: 36 };
  const sx = (v: number) => m.l + v * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - v * (H - m.t - m.b);
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    role: 'img',
    'aria-label': labels.title,
    class: 'chart pr',
  });
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el('line', { x1: sx(0), x2: sx(1), y1: sy(t), y2: sy(t), class: 'grid' }));
    svg.append(el('line', { x1: sx(t), x2: sx(t), y1: sy(0), y2: sy(1), class: 'grid' }));
    svg.append(el('text', { x: m.l - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, t.toFixed(2)));
    svg.append(
      el('text', { x: sx(t), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, t.toFixed(2)),
    );
  }
  svg.append(
    el('text', { x: (sx(0) + sx(1)) / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis' }, labels.x),
  );
  svg.append(
    el(
      'text',
      {
        x: 12,
        y: (sy(0) + sy(1)) / 2,
        transform: `rotate(-90 12 ${(sy(0) + sy(1)) / 2})`,
        'text-anchor': 'middle',
        class: 'axis',
      },
      labels.y,
    ),
  );
  const sorted = [...points].sort((a, b) => a.x - b.x);
  if (sorted.length)
    svg.append(
      el('polyline', {
        points: sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' '),
        class: 'curve',
        fill: 'none',
      }),
    );
  for (const p of sorted) svg.append(el('circle', { cx: sx(p.x), cy: sy(p.y), r: 2.5, class: 'pt' }));
  if (marker) svg.append(el('circle', { cx: sx(marker.x), cy: sy(marker.y), r: 6, class: 'marker' }));
  return svg;
}
