/**
 * Analyst pages: per detector its metrics, the precision–recall curve (SVG), a threshold slider
 * that reads precision, recall, F1 and expected clues off the curve's points, and a comparison
 * of versions.
 */
import { type Detector, get, getOptional, type PrPoint } from '../api.ts';
import type { Ctx } from '../context.ts';
import { h } from '../dom.ts';
import { lang, num, s } from '../i18n.ts';
import { prChart } from '../svg.ts';

const nameOfDetector = (d: Detector) => (typeof d.name === 'string' ? d.name : (d.name?.[lang()] ?? d.id));
const fmt = (v: unknown) => (typeof v === 'number' ? num(v, 3) : '—');

/** The curve point whose threshold is nearest to `th`. */
export function nearestPoint(curve: PrPoint[], th: number): PrPoint | null {
  let best: PrPoint | null = null;
  for (const p of curve) if (!best || Math.abs(p.threshold - th) < Math.abs(best.threshold - th)) best = p;
  return best;
}

type Metrics = Record<string, unknown> & {
  prCurve?: PrPoint[];
  calibration?: { pr?: PrPoint[] };
  heldOut?: {
    overall?: Record<string, unknown>;
    prCurve?: PrPoint[];
    multiLabel?: { overall?: Record<string, unknown> };
  } | null;
};
interface Version {
  version: string;
  current?: boolean;
  threshold?: number;
  minAreaM2?: number;
  createdAt?: string | null;
  note?: string | null;
  metrics?: Record<string, unknown> | null;
}

/** The PR curve wherever the metrics carry it (held-out first, then calibration). */
export function curveOf(m: Metrics | null | undefined): PrPoint[] {
  const c = m?.prCurve ?? m?.heldOut?.prCurve ?? m?.calibration?.pr ?? [];
  return c.filter(
    (p) => Number.isFinite(p.threshold) && Number.isFinite(p.precision) && Number.isFinite(p.recall),
  );
}

/** Headline numbers: held-out overall, else the summary the list carries. */
function headline(m: Metrics | null | undefined, summary: Record<string, unknown> | null | undefined) {
  const o = (m?.heldOut?.overall ?? summary ?? {}) as Record<string, unknown>;
  return Object.entries(o).filter(([, v]) => typeof v === 'number') as [string, number][];
}

/** A two-column table of named figures. */
const factsTable = (id: string, rows: [string, number][]) =>
  h(
    'table',
    { class: 'facts', id },
    rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, fmt(v)))),
  );

const asArray = <T>(v: unknown, key: string): T[] =>
  Array.isArray(v) ? (v as T[]) : (((v as Record<string, unknown> | null)?.[key] as T[] | undefined) ?? []);

export async function renderDetectors(ctx: Ctx, root: HTMLElement): Promise<void> {
  const t = s();
  if (!ctx.features.detectors) {
    root.replaceChildren(h('p', { class: 'muted pad', id: 'detectors-unavailable' }, t.detectorsUnavailable));
    return;
  }
  root.replaceChildren(h('p', { class: 'muted pad' }, t.loading));
  const list = asArray<Detector>(await get<unknown>('/detectors'), 'detectors');
  const id =
    ctx.state.detector && list.some((d) => d.id === ctx.state.detector)
      ? ctx.state.detector
      : (list[0]?.id ?? '');
  const nav = h(
    'nav',
    { class: 'detector-nav' },
    list.map((d) =>
      h(
        'a',
        {
          href: '#',
          'data-detector': d.id,
          class: d.id === id ? 'active' : '',
          onclick: (e: Event) => {
            e.preventDefault();
            ctx.update({ detector: d.id });
          },
        },
        nameOfDetector(d),
      ),
    ),
  );
  const page = h('div', { class: 'detector-page', id: 'detector-page' });
  root.replaceChildren(h('div', { class: 'detectors' }, h('h2', {}, t.detectors), nav, page));
  if (!id) return;
  const summary = list.find((x) => x.id === id);
  const one = await getOptional<Record<string, unknown>>(`/detectors/${encodeURIComponent(id)}`);
  const d = ((one?.manifest as Detector | undefined) ??
    (one as unknown as Detector | null) ??
    summary) as Detector;
  if (!d) return;
  const metrics = (one?.metrics ?? d.metrics ?? null) as Metrics | null;
  const versions = asArray<Version>(
    one?.versions ?? (await getOptional<unknown>(`/detectors/${encodeURIComponent(id)}/versions`)),
    'versions',
  );
  const curve = curveOf(metrics);
  const out = h('div', { class: 'at-threshold', id: 'at-threshold' });
  const chartBox = h('div', { class: 'pr-box' });
  const thLabel = h('span', { id: 'threshold-value' }, num(d.threshold, 2));
  const draw = (th: number) => {
    const p = nearestPoint(curve, th) as (PrPoint & { decoyRate?: number }) | null;
    thLabel.textContent = num(th, 2);
    chartBox.replaceChildren(
      prChart(
        curve.map((c) => ({ x: c.recall, y: c.precision })),
        p ? { x: p.recall, y: p.precision } : null,
        {
          x: t.recall,
          y: t.precision,
          title: t.prCurve,
        },
      ),
    );
    out.replaceChildren(
      h('h4', {}, t.atThreshold, ' ', num(p?.threshold ?? th, 2)),
      h(
        'table',
        { class: 'facts' },
        h('tr', {}, h('td', {}, t.precision), h('td', { id: 'at-precision' }, fmt(p?.precision))),
        h('tr', {}, h('td', {}, t.recall), h('td', { id: 'at-recall' }, fmt(p?.recall))),
        h('tr', {}, h('td', {}, t.f1), h('td', { id: 'at-f1' }, fmt(p?.f1))),
        p?.decoyRate !== undefined
          ? h('tr', {}, h('td', {}, t.decoyRate), h('td', { id: 'at-decoy' }, fmt(p.decoyRate)))
          : null,
        h(
          'tr',
          {},
          h('td', {}, t.expectedClues),
          h('td', { id: 'at-clues' }, p?.clues !== undefined ? num(p.clues) : '—'),
        ),
      ),
    );
  };
  const ths = curve.map((c) => c.threshold);
  const slider = h('input', {
    type: 'range',
    id: 'threshold',
    min: ths.length ? Math.min(...ths) : 0,
    max: ths.length ? Math.max(...ths) : 1,
    step: 0.01,
    value: d.threshold,
    'aria-label': t.threshold,
    oninput: (e: Event) => draw(Number((e.target as HTMLInputElement).value)),
  });
  const metricRows = headline(metrics, summary?.metrics as Record<string, unknown> | null);
  const multiRows = Object.entries(metrics?.heldOut?.multiLabel?.overall ?? {}).filter(
    ([k, v]) => typeof v === 'number' && ['precision', 'recall', 'f1', 'tp', 'fp', 'fn'].includes(k),
  ) as [string, number][];
  const zoning = d.zoning as Record<string, unknown> | null | undefined;
  const vrows = versions.map((v) => {
    const vm = (v.metrics ?? {}) as Record<string, unknown>;
    return h(
      'tr',
      { 'data-version': v.version, class: v.current ? 'current' : '' },
      h('td', {}, v.version, v.current ? ' ✓' : ''),
      h('td', {}, fmt(v.threshold)),
      h('td', {}, v.minAreaM2 !== undefined ? num(v.minAreaM2) : '—'),
      h('td', {}, fmt(vm.precision)),
      h('td', {}, fmt(vm.recall)),
      h('td', {}, fmt(vm.objectF1 ?? vm.f1)),
      h('td', {}, v.note ?? ''),
    );
  });
  const parts: (Node | null)[] = [
    h('h3', {}, `${nameOfDetector(d)} · ${t.version} ${d.version}`),
    h(
      'table',
      { class: 'facts' },
      h('tr', {}, h('td', {}, t.threshold), h('td', {}, num(d.threshold, 2))),
      d.minAreaM2 !== undefined ? h('tr', {}, h('td', {}, t.minAreaM2), h('td', {}, num(d.minAreaM2))) : null,
      zoning
        ? h(
            'tr',
            {},
            h('td', {}, t.zoningRule),
            h(
              'td',
              {},
              [zoning.layer, zoning.rule, zoning.description]
                .filter((x) => typeof x === 'string')
                .join(' · '),
            ),
          )
        : null,
    ),
    h('h4', {}, t.metrics),
    metricRows.length
      ? factsTable('metrics', metricRows)
      : h('p', { class: 'muted', id: 'metrics' }, t.noData),
    multiRows.length
      ? h('section', {}, h('h4', {}, t.multiLabel), factsTable('metrics-multi-label', multiRows))
      : null,
    curve.length
      ? h(
          'div',
          { class: 'pr' },
          h('h4', {}, t.prCurve),
          chartBox,
          h('div', {}, h('label', {}, t.threshold, ' ', thLabel, slider), out),
        )
      : null,
    vrows.length
      ? h(
          'section',
          {},
          h('h4', {}, t.versions),
          h(
            'table',
            { class: 'zones', id: 'versions' },
            h(
              'tr',
              {},
              h('th', {}, t.version),
              h('th', {}, t.threshold),
              h('th', {}, t.minAreaM2),
              h('th', {}, t.precision),
              h('th', {}, t.recall),
              h('th', {}, t.f1),
              h('th', {}, t.note),
            ),
            vrows,
          ),
        )
      : null,
  ];
  page.replaceChildren(...parts.filter((x): x is Node => x !== null));
  if (curve.length) draw(d.threshold);
  document.body.dataset.detectorReady = id;
}
