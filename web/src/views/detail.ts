/**
 * Clue detail: before/after comparison (swipe or side by side), facts, zoning overlaps, history,
 * review actions with reasons, comment, field photos and the inspection packet. The next clue's
 * data is preloaded so j/→ is instant.
 */
import {
  ApiError,
  type ClueDetail,
  type ClueEvent,
  get,
  post,
  type Scene,
  type ZoneOverlap,
} from '../api.ts';
import { type Ctx, canDesk, canTransition, confirmStep, NEXT_STATUS } from '../context.ts';
import { $, flash, h } from '../dom.ts';
import {
  EVENT_NAMES,
  nameOf,
  num,
  PRIORITY_NAMES,
  REASON_NAMES,
  SCENARIO_NAMES,
  STATUS_NAMES,
  s,
  ZONE_NAMES,
} from '../i18n.ts';
import { type Compare, createCompare, type ImagerySource } from '../map.ts';
import { dismissDialog } from './dialogs.ts';

interface Loaded {
  clue: ClueDetail;
  zones: ZoneOverlap[];
}

const cache = new Map<number, Promise<Loaded>>();
let compare: Compare | null = null;
let shown: number | null = null;

function load(id: number): Promise<Loaded> {
  let p = cache.get(id);
  if (!p) {
    p = Promise.all([get<ClueDetail>(`/clues/${id}`), get<ZoneOverlap[]>(`/web/clues/${id}/zones`)]).then(
      ([clue, zones]) => ({ clue, zones }),
    );
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}

/** Fetch a clue in the background (the next one in the list). */
export function preload(id: number): void {
  void load(id)
    .then(() => {
      document.body.dataset.preloaded = String(id);
    })
    .catch(() => undefined);
}

export function invalidate(id: number): void {
  cache.delete(id);
}

export function closeDetail(): void {
  compare?.destroy();
  compare = null;
  shown = null;
  const el = $('#detail');
  el.hidden = true;
  el.replaceChildren();
  document.body.classList.remove('has-detail');
}

function bboxOf(g: GeoJSON.Geometry): [number, number, number, number] {
  const b: [number, number, number, number] = [180, 90, -180, -90];
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = c as [number, number];
      b[0] = Math.min(b[0], x);
      b[1] = Math.min(b[1], y);
      b[2] = Math.max(b[2], x);
      b[3] = Math.max(b[3], y);
    } else if (Array.isArray(c)) c.forEach(walk);
  };
  if ('coordinates' in g) walk(g.coordinates);
  return b;
}

const sceneOf = (ctx: Ctx, id: string | null | undefined): Scene | undefined =>
  id ? ctx.scenes.find((x) => x.id === id) : undefined;

function imageryLabel(ctx: Ctx, sceneId: string | null | undefined, which: 'before' | 'after'): string {
  const t = s();
  const sc = sceneOf(ctx, sceneId);
  if (sc) return `${sc.datetime.slice(0, 10)} · ${sc.sensor}${sc.platform ? ` (${sc.platform})` : ''}`;
  const w = ctx.windows()[which];
  return `${t.window} ${w.from} – ${w.to}`;
}

function timeline(events: ClueEvent[], clueId: number): HTMLElement {
  const t = s();
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    [...events].reverse().map((e) =>
      h(
        'li',
        { 'data-kind': e.kind },
        h(
          'div',
          { class: 'row muted' },
          h('span', {}, new Date(e.at).toLocaleString(document.documentElement.lang)),
          h('span', {}, e.actor),
        ),
        h(
          'div',
          {},
          h('strong', {}, nameOf(EVENT_NAMES, e.kind)),
          e.kind === 'transition'
            ? ` ${nameOf(STATUS_NAMES, e.from_status)} → ${nameOf(STATUS_NAMES, e.to_status)}`
            : e.kind === 'priority'
              ? ` ${nameOf(PRIORITY_NAMES, String((e.data as { priority?: number }).priority ?? ''))}`
              : '',
          e.reason ? ` · ${t.reason}: ${nameOf(REASON_NAMES, e.reason)}` : '',
        ),
        e.comment ? h('div', { class: 'comment' }, e.comment) : null,
        e.kind === 'attachment' && typeof e.data.attachment_id === 'string'
          ? h(
              'a',
              {
                href: `/clues/${clueId}/attachments/${e.data.attachment_id}`,
                target: '_blank',
                rel: 'noopener',
              },
              h('img', {
                class: 'thumb',
                src: `/clues/${clueId}/attachments/${e.data.attachment_id}`,
                alt: String(e.data.filename ?? t.photo),
                loading: 'lazy',
              }),
            )
          : null,
      ),
    ),
  );
}

function zoningTable(zones: ZoneOverlap[]): HTMLElement {
  const t = s();
  if (!zones.length) return h('p', { class: 'muted', id: 'zoning' }, t.noOverlaps);
  const p = (z: ZoneOverlap, k: string) =>
    z.properties[k] === undefined || z.properties[k] === null ? '' : String(z.properties[k]);
  const deadline = (z: ZoneOverlap) => p(z, 'reclaim_by') || p(z, 'valid_to');
  // Permit columns only when some overlapping feature is a permit.
  const cols: [string, (z: ZoneOverlap) => string][] = [
    [t.permitNo, (z) => p(z, 'permit_no')],
    [t.holder, (z) => p(z, 'holder')],
    [t.deadline, deadline],
  ];
  const shownCols = cols.filter(([, f]) => zones.some((z) => f(z) !== ''));
  return h(
    'table',
    { class: 'zones', id: 'zoning' },
    h(
      'tr',
      {},
      h('th', {}, t.zoning),
      shownCols.map(([label]) => h('th', {}, label)),
      h('th', {}, t.overlap),
    ),
    zones.map((z) =>
      h(
        'tr',
        { 'data-zone-id': z.id },
        h('td', {}, nameOf(ZONE_NAMES, z.kind), p(z, 'name') ? ` · ${p(z, 'name')}` : ''),
        shownCols.map(([, f]) => h('td', {}, f(z))),
        h('td', {}, `${num(z.overlap_m2, 0)} m²`),
      ),
    ),
  );
}

async function act(ctx: Ctx, id: number, fn: () => Promise<unknown>, msgEl: HTMLElement): Promise<boolean> {
  try {
    await fn();
    invalidate(id);
    flash(msgEl, s().done, 'ok');
    ctx.refreshClues();
    await showDetail(ctx, id, { keepCompare: true });
    flash($('#detail-msg'), s().done, 'ok');
    return true;
  } catch (e) {
    flash(msgEl, `${s().failed}: ${e instanceof ApiError ? e.message : String(e)}`, 'error');
    return false;
  }
}

/** Dismiss with the reason dialog. */
export async function dismiss(ctx: Ctx, id: number): Promise<void> {
  const v = await dismissDialog();
  if (!v) return;
  await act(
    ctx,
    id,
    () =>
      post(`/clues/${id}/transitions`, {
        to: 'dismissed',
        reason: v.reason,
        ...(v.comment ? { comment: v.comment } : {}),
      }),
    $('#detail-msg'),
  );
}

/** The next step on the confirm path (keyboard c). */
export async function confirmNext(ctx: Ctx, id: number): Promise<void> {
  const loaded = await load(id);
  const to = confirmStep(ctx.user.role, loaded.clue.properties.status);
  const msg = $('#detail-msg');
  if (!to) {
    flash(msg, s().noActions, 'error');
    return;
  }
  await act(ctx, id, () => post(`/clues/${id}/transitions`, { to }), msg);
}

export async function showDetail(ctx: Ctx, id: number, opts: { keepCompare?: boolean } = {}): Promise<void> {
  const t = s();
  const el = $('#detail');
  el.hidden = false;
  document.body.classList.add('has-detail');
  if (shown !== id) el.replaceChildren(h('p', { class: 'muted pad' }, t.loading));
  let data: Loaded;
  try {
    data = await load(id);
  } catch (e) {
    el.replaceChildren(
      h(
        'div',
        { class: 'pad' },
        h('p', { class: 'flash error' }, `${t.error}: ${e instanceof ApiError ? e.message : String(e)}`),
      ),
    );
    return;
  }
  if (ctx.state.clue !== id) return; // the user moved on
  const { clue, zones } = data;
  const p = clue.properties;
  const role = ctx.user.role;
  const keep = opts.keepCompare && shown === id && compare;
  const oldCompare = keep ? $('#compare') : null;
  shown = id;
  const bbox = bboxOf(clue.geometry);
  ctx.main.highlight(id);

  const before: ImagerySource =
    p.before_scene && sceneOf(ctx, p.before_scene)
      ? { scene: p.before_scene }
      : { window: ctx.windows().before };
  const after: ImagerySource =
    p.after_scene && sceneOf(ctx, p.after_scene) ? { scene: p.after_scene } : { window: ctx.windows().after };

  const msg = h('p', { id: 'detail-msg', class: 'flash', role: 'status' });
  const commentBox = h('textarea', {
    id: 'action-comment',
    rows: 2,
    maxlength: 4000,
    placeholder: t.commentOptional,
  });

  const transitions = (NEXT_STATUS[p.status] ?? []).filter((to) => canTransition(role, p.status, to));
  const actions = h(
    'div',
    { class: 'actions', id: 'actions' },
    transitions.map((to) =>
      h(
        'button',
        {
          type: 'button',
          class: to === 'dismissed' ? 'danger' : 'primary',
          'data-to': to,
          onclick: () =>
            to === 'dismissed'
              ? dismiss(ctx, id)
              : act(
                  ctx,
                  id,
                  () =>
                    post(`/clues/${id}/transitions`, {
                      to,
                      ...(commentBox.value.trim() ? { comment: commentBox.value.trim() } : {}),
                    }),
                  msg,
                ),
        },
        t.transitionTo(nameOf(STATUS_NAMES, to)),
      ),
    ),
  );

  const photo = h('input', {
    type: 'file',
    id: 'photo-input',
    accept: 'image/jpeg,image/png,image/webp',
    capture: 'environment',
    onchange: async (e: Event) => {
      const file = (e.target as HTMLInputElement).files?.[0];
      if (!file) return;
      await act(
        ctx,
        id,
        () =>
          post(`/clues/${id}/attachments?filename=${encodeURIComponent(file.name)}`, file, {
            'content-type': file.type || 'application/octet-stream',
          }),
        msg,
      );
    },
  });

  const desk = canDesk(role);
  const body = h(
    'div',
    { class: 'detail-body', 'data-clue': id },
    h(
      'header',
      { class: 'detail-head' },
      h('h2', {}, `#${id} ${nameOf(SCENARIO_NAMES, p.scenario)}`),
      h(
        'span',
        { class: `status st-${p.status}`, id: 'detail-status', 'data-status': p.status },
        nameOf(STATUS_NAMES, p.status),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'icon',
          id: 'detail-close',
          'aria-label': t.close,
          onclick: () => ctx.update({ clue: null }),
        },
        '×',
      ),
    ),
    // A site several scenarios' detectors found: the clue names the others (their legal bases apply too).
    p.also_scenarios?.length
      ? h(
          'p',
          { class: 'also', id: 'detail-also' },
          `${t.alsoConcerns}: ${p.also_scenarios.map((s) => nameOf(SCENARIO_NAMES, s)).join('、')}`,
        )
      : null,
    h(
      'section',
      {},
      h(
        'div',
        { class: 'row' },
        h('h3', {}, t.compare),
        h(
          'div',
          { class: 'seg', role: 'group' },
          h(
            'button',
            {
              type: 'button',
              id: 'cmp-swipe',
              'aria-pressed': ctx.state.compare === 'swipe',
              onclick: () => ctx.update({ compare: 'swipe' }),
            },
            t.swipe,
          ),
          h(
            'button',
            {
              type: 'button',
              id: 'cmp-side',
              'aria-pressed': ctx.state.compare === 'side',
              onclick: () => ctx.update({ compare: 'side' }),
            },
            t.sideBySide,
          ),
        ),
      ),
      oldCompare ?? h('div', { id: 'compare', class: 'compare' }),
      h(
        'div',
        { class: 'row muted small' },
        h('span', { id: 'before-label' }, `${t.beforeImage}: ${imageryLabel(ctx, p.before_scene, 'before')}`),
        h('span', { id: 'after-label' }, `${t.afterImage}: ${imageryLabel(ctx, p.after_scene, 'after')}`),
      ),
    ),
    h(
      'table',
      { class: 'facts' },
      h(
        'tr',
        {},
        h('td', {}, t.area),
        h(
          'td',
          { id: 'fact-area' },
          `${num(p.area_m2, 0)} m² · ${num(p.area_ha, 2)} ${t.ha} · ${num(p.area_mu, 1)} ${t.mu}`,
        ),
      ),
      h('tr', {}, h('td', {}, t.confidence), h('td', {}, `${num(p.confidence * 100, 1)}%`)),
      h('tr', {}, h('td', {}, t.firstSeen), h('td', {}, String(p.first_seen))),
      h('tr', {}, h('td', {}, t.lastSeen), h('td', {}, String(p.last_seen))),
      h('tr', {}, h('td', {}, t.scenes), h('td', {}, `${p.before_scene ?? '—'} → ${p.after_scene ?? '—'}`)),
      h('tr', {}, h('td', {}, t.detector), h('td', {}, `${p.detector} v${p.model_version}`)),
      h(
        'tr',
        {},
        h('td', {}, t.county),
        h('td', {}, ctx.counties.find((c) => c.adcode === p.county_adcode)?.name ?? p.county_adcode ?? '—'),
      ),
      h('tr', {}, h('td', {}, t.priority), h('td', {}, nameOf(PRIORITY_NAMES, p.priority))),
      p.dismiss_reason
        ? h('tr', {}, h('td', {}, t.reason), h('td', {}, nameOf(REASON_NAMES, p.dismiss_reason)))
        : null,
    ),
    h('section', {}, h('h3', {}, t.zoningOverlaps), zoningTable(zones)),
    h(
      'section',
      {},
      h('h3', {}, t.actions),
      desk ? [actions, commentBox] : h('p', { class: 'muted' }, t.fieldOnly),
      desk && !transitions.length ? h('p', { class: 'muted' }, t.noActions) : null,
      desk
        ? h(
            'label',
            { class: 'inline' },
            t.setPriority,
            h(
              'select',
              {
                id: 'priority-select',
                onchange: (e: Event) =>
                  act(
                    ctx,
                    id,
                    () =>
                      post(`/clues/${id}/priority`, {
                        priority: Number((e.target as HTMLSelectElement).value),
                      }),
                    msg,
                  ),
              },
              [0, 1, 2, 3].map((v) =>
                h('option', { value: v, selected: p.priority === v }, nameOf(PRIORITY_NAMES, v)),
              ),
            ),
          )
        : null,
      msg,
    ),
    desk
      ? h(
          'section',
          {},
          h('h3', {}, t.comment),
          h(
            'form',
            {
              id: 'comment-form',
              onsubmit: (e: Event) => {
                e.preventDefault();
                const ta = $<HTMLTextAreaElement>('#comment-text');
                const text = ta.value.trim();
                if (text) void act(ctx, id, () => post(`/clues/${id}/comments`, { text }), msg);
              },
            },
            h('textarea', { id: 'comment-text', rows: 2, maxlength: 4000 }),
            h('button', { type: 'submit' }, t.addComment),
          ),
        )
      : null,
    h('section', {}, h('h3', {}, t.photo), h('label', { class: 'button' }, t.uploadPhoto, photo)),
    ctx.features.packets
      ? h(
          'section',
          {},
          h(
            'a',
            {
              class: 'button primary',
              id: 'packet-link',
              href: `/clues/${id}/packet`,
              download: `clue-${id}-packet.zip`,
            },
            t.packet,
          ),
        )
      : null,
    h('section', {}, h('h3', {}, t.history), timeline(p.events ?? [], id)),
  );
  el.replaceChildren(body);
  if (!keep) {
    compare?.destroy();
    compare = createCompare(
      $('#compare'),
      clue as unknown as GeoJSON.Feature,
      bbox,
      before,
      after,
      ctx.state.mode === 'ndvi' ? 'ndvi' : ctx.state.mode,
      ctx.state.compare,
    );
    const c = compare;
    void c.ready.then(() => {
      if (compare === c) document.body.dataset.compareReady = String(id);
    });
  }
  document.body.dataset.detail = String(id);
  document.body.dataset.detailAt = String(performance.now());
}

export function setCompareMode(mode: 'swipe' | 'side'): void {
  compare?.setMode(mode);
  $('#cmp-swipe')?.setAttribute('aria-pressed', String(mode === 'swipe'));
  $('#cmp-side')?.setAttribute('aria-pressed', String(mode === 'side'));
}

export const shownClue = (): number | null => shown;
