/**
 * Patrol launcher: a county, a rectangle drawn on the map or an uploaded GeoJSON polygon; the
 * before/after windows and the scenarios; then live progress over Server-Sent Events, with the
 * clue layer refreshed as tiles finish with new clues.
 */
import { ApiError, type Detector, get, type Patrol, post } from '../api.ts';
import type { Ctx } from '../context.ts';
import { $, flash, h } from '../dom.ts';
import { lang, nameOf, num, SCENARIO_NAMES, s } from '../i18n.ts';

let aoi: GeoJSON.Polygon | GeoJSON.MultiPolygon | null = null;
let aoiLabel = '';
let source: EventSource | null = null;

const asList = (v: unknown): Patrol[] => {
  if (Array.isArray(v)) return v as Patrol[];
  const o = (v ?? {}) as { runs?: Patrol[]; items?: Patrol[]; patrols?: Patrol[] };
  return o.runs ?? o.items ?? o.patrols ?? [];
};

function progressBox(
  p: Pick<Patrol, 'status' | 'tilesDone' | 'tilesFailed' | 'tilesTotal'> & { etaSeconds?: number | null },
  newClues: number,
) {
  const t = s();
  const pct = p.tilesTotal ? Math.round(((p.tilesDone + p.tilesFailed) / p.tilesTotal) * 100) : 0;
  return h(
    'div',
    {
      class: 'progress',
      id: 'patrol-progress',
      'data-status': p.status,
      'data-done': p.tilesDone,
      'data-total': p.tilesTotal,
    },
    h(
      'div',
      { class: 'row' },
      h('strong', {}, t.patrolStatus[p.status] ?? p.status),
      h('span', {}, `${pct}%`),
    ),
    h('progress', { max: 100, value: pct }),
    h(
      'div',
      { class: 'row muted' },
      h(
        'span',
        {},
        `${p.tilesDone}/${p.tilesTotal} ${t.tiles}${p.tilesFailed ? ` (${p.tilesFailed} ✗)` : ''}`,
      ),
      p.etaSeconds ? h('span', {}, `${t.eta} ${t.seconds(p.etaSeconds)}`) : null,
      h('span', { id: 'patrol-new-clues' }, `${newClues} ${t.newClues}`),
    ),
  );
}

/** Follow one patrol's events until it ends. */
function watch(ctx: Ctx, id: string, box: HTMLElement): void {
  source?.close();
  let newClues = 0;
  let last: Parameters<typeof progressBox>[0] = {
    status: 'queued',
    tilesDone: 0,
    tilesFailed: 0,
    tilesTotal: 0,
  };
  const es = new EventSource(`/patrols/${encodeURIComponent(id)}/events`);
  source = es;
  es.addEventListener('progress', (e) => {
    last = JSON.parse((e as MessageEvent).data);
    box.replaceChildren(progressBox(last, newClues));
  });
  es.addEventListener('tile', (e) => {
    const d = JSON.parse((e as MessageEvent).data) as { clueIds?: number[] };
    if (d.clueIds?.length) {
      newClues += d.clueIds.length;
      ctx.refreshClues();
      box.replaceChildren(progressBox(last, newClues));
    }
  });
  es.addEventListener('end', (e) => {
    const d = JSON.parse((e as MessageEvent).data) as { status: Patrol['status'] };
    last = { ...last, status: d.status };
    box.replaceChildren(progressBox(last, newClues));
    es.close();
    if (source === es) source = null;
    ctx.refreshClues();
    void loadPatrols(ctx);
  });
  es.onerror = () => {
    // The server closed the stream (patrol over) or the network dropped; EventSource retries by itself.
  };
}

async function loadPatrols(ctx: Ctx): Promise<void> {
  const t = s();
  const ul = $('#patrol-list');
  if (!ul) return;
  const list = asList(await get<unknown>('/patrols'));
  ul.replaceChildren(
    ...list.slice(0, 20).map((p) =>
      h(
        'li',
        { 'data-patrol-id': p.id, 'data-status': p.status },
        h(
          'div',
          { class: 'row' },
          h('strong', {}, p.name || p.id.slice(0, 8)),
          h('span', {}, t.patrolStatus[p.status] ?? p.status),
        ),
        h(
          'div',
          { class: 'row muted' },
          h('span', {}, `${p.tilesDone}/${p.tilesTotal} ${t.tiles}`),
          p.coveredKm2 !== undefined && p.coveredKm2 !== null
            ? h('span', {}, `${num(p.coveredKm2, 1)} km²`)
            : null,
          p.clueCount !== undefined && p.clueCount !== null
            ? h('span', {}, `${p.clueCount} ${t.clues}`)
            : null,
        ),
        h(
          'div',
          { class: 'row' },
          p.status === 'queued' || p.status === 'running'
            ? h(
                'button',
                {
                  type: 'button',
                  onclick: () => void post(`/patrols/${p.id}/cancel`).then(() => loadPatrols(ctx)),
                },
                t.cancelPatrol,
              )
            : null,
          p.status === 'failed' || p.status === 'cancelled'
            ? h(
                'button',
                {
                  type: 'button',
                  onclick: () =>
                    void post(`/patrols/${p.id}/resume`).then(() => {
                      watch(ctx, p.id, $('#patrol-live'));
                      return loadPatrols(ctx);
                    }),
                },
                t.resumePatrol,
              )
            : null,
        ),
      ),
    ),
  );
}

function isPolygonal(g: unknown): g is GeoJSON.Polygon | GeoJSON.MultiPolygon {
  const t = (g as { type?: string })?.type;
  return (
    (t === 'Polygon' || t === 'MultiPolygon') && Array.isArray((g as { coordinates?: unknown }).coordinates)
  );
}

export async function renderPatrols(ctx: Ctx, root: HTMLElement): Promise<void> {
  const t = s();
  if (!ctx.features.patrols) {
    root.replaceChildren(h('p', { class: 'muted pad', id: 'patrols-unavailable' }, t.patrolsUnavailable));
    return;
  }
  // The scenarios are the installed detectors; without the detector service the server picks
  // every installed detector (no scenario list is sent).
  let scenarios: string[] = [];
  if (ctx.features.detectors) {
    try {
      const r = await get<Detector[] | { detectors: Detector[] }>('/detectors');
      scenarios = (Array.isArray(r) ? r : r.detectors).map((d) => d.id);
    } catch {
      scenarios = [];
    }
  }
  const w = ctx.windows();
  const msg = h('p', { class: 'flash', id: 'patrol-msg', role: 'status' });
  const aoiText = h('p', { class: 'muted', id: 'aoi-text' }, aoiLabel ? t.aoiReady(aoiLabel) : '');
  const setAoi = (g: typeof aoi, label: string) => {
    aoi = g;
    aoiLabel = label;
    aoiText.textContent = g ? t.aoiReady(label) : '';
    ctx.main.showAoi(g);
  };
  const county = h(
    'select',
    {
      id: 'patrol-county',
      onchange: (e: Event) => {
        const c = ctx.counties.find((x) => x.adcode === (e.target as HTMLSelectElement).value);
        setAoi(null, '');
        aoiText.textContent = c ? t.aoiReady(c.name) : '';
        if (c?.bbox) ctx.main.fit(c.bbox);
      },
    },
    h('option', { value: '' }, '—'),
    ctx.counties
      .filter((c) => ctx.user.role !== 'prosecutor' || ctx.user.counties.includes(c.adcode))
      .map((c) => h('option', { value: c.adcode }, lang() === 'en' && c.nameEn ? c.nameEn : c.name)),
  );
  const date = (id: string, v: string) => h('input', { type: 'date', id, value: v, required: true });
  const form = h(
    'form',
    {
      id: 'patrol-form',
      class: 'patrol-form',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const fd = (id: string) => $<HTMLInputElement>(`#${id}`).value;
        const chosen = [
          ...document.querySelectorAll<HTMLInputElement>('input[name="patrol-scenario"]:checked'),
        ].map((i) => i.value);
        if (!aoi && !county.value) {
          flash(msg, t.noAoi, 'error');
          return;
        }
        const body = {
          ...(fd('patrol-name') ? { name: fd('patrol-name') } : {}),
          ...(aoi ? { aoi } : { county: county.value }),
          before: { from: fd('pb-from'), to: fd('pb-to') },
          after: { from: fd('pa-from'), to: fd('pa-to') },
          ...(scenarios.length ? { scenarios: chosen } : {}),
        };
        try {
          const r = await post<{ id: string; status: Patrol['status']; tilesTotal: number }>(
            '/patrols',
            body,
          );
          flash(msg, `${t.patrolStatus[r.status] ?? r.status} · ${r.tilesTotal} ${t.tiles}`, 'ok');
          const live = $('#patrol-live');
          live.replaceChildren(
            progressBox({ status: r.status, tilesDone: 0, tilesFailed: 0, tilesTotal: r.tilesTotal }, 0),
          );
          watch(ctx, r.id, live);
          void loadPatrols(ctx);
        } catch (err) {
          flash(msg, `${t.failed}: ${err instanceof ApiError ? err.message : String(err)}`, 'error');
        }
      },
    },
    h('h2', {}, t.newPatrol),
    h('label', {}, t.patrolName, h('input', { id: 'patrol-name', maxlength: 100 })),
    h(
      'fieldset',
      {},
      h('legend', {}, t.patrolArea),
      h('label', {}, t.pickCounty, county),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            id: 'draw-rect',
            onclick: async () => {
              flash(msg, t.drawHint, 'ok');
              const g = await ctx.main.drawRectangle();
              county.value = '';
              const c = g.coordinates[0]!;
              setAoi(
                g,
                `${c[0]![0]!.toFixed(3)},${c[0]![1]!.toFixed(3)} – ${c[2]![0]!.toFixed(3)},${c[2]![1]!.toFixed(3)}`,
              );
              msg.textContent = '';
            },
          },
          t.drawRect,
        ),
        h(
          'label',
          { class: 'button' },
          t.uploadGeojson,
          h('input', {
            type: 'file',
            id: 'aoi-file',
            accept: '.geojson,.json,application/geo+json,application/json',
            onchange: async (e: Event) => {
              const file = (e.target as HTMLInputElement).files?.[0];
              if (!file) return;
              try {
                const j = JSON.parse(await file.text()) as Record<string, unknown>;
                const g =
                  j.type === 'FeatureCollection'
                    ? (j.features as { geometry: unknown }[])[0]?.geometry
                    : j.type === 'Feature'
                      ? j.geometry
                      : j;
                if (!isPolygonal(g)) throw new Error('not polygonal');
                county.value = '';
                setAoi(g, file.name);
                msg.textContent = '';
              } catch {
                flash(msg, t.badGeojson, 'error');
              }
            },
          }),
        ),
      ),
      aoiText,
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, t.beforeWindow),
      h('div', { class: 'row' }, date('pb-from', w.before.from), date('pb-to', w.before.to)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, t.afterWindow),
      h('div', { class: 'row' }, date('pa-from', w.after.from), date('pa-to', w.after.to)),
    ),
    h(
      'fieldset',
      { class: 'scenarios', hidden: !scenarios.length },
      h('legend', {}, t.scenarios),
      scenarios.map((k) =>
        h(
          'label',
          { class: 'check' },
          h('input', { type: 'checkbox', name: 'patrol-scenario', value: k, checked: true }),
          nameOf(SCENARIO_NAMES, k),
        ),
      ),
    ),
    h('button', { type: 'submit', class: 'primary', id: 'patrol-start' }, t.start),
    msg,
  );
  root.replaceChildren(
    form,
    h('div', { id: 'patrol-live' }),
    h('h3', {}, t.patrols),
    h('ol', { id: 'patrol-list', class: 'patrol-list' }),
  );
  await loadPatrols(ctx);
}

export function stopPatrolStream(): void {
  source?.close();
  source = null;
}
