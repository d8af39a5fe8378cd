/** Filters and the clue list (server-paged from /web/clues), synced with the map's clue tiles. */
import { ApiError, type ClueItem, get, qs } from '../api.ts';
import type { Ctx } from '../context.ts';
import { $, h } from '../dom.ts';
import {
  lang,
  nameOf,
  num,
  PRIORITY_NAMES,
  SCENARIO_COLORS,
  SCENARIO_NAMES,
  STATUS_NAMES,
  s,
} from '../i18n.ts';
import { emptyFilters, type Filters, filterParams, type Sort } from '../state/url.ts';

export const PAGE_SIZE = 50;

let items: ClueItem[] = [];
let total = 0;
let seq = 0;

export const listItems = (): ClueItem[] => items;
export const listTotal = (): number => total;

/** Query of /web/clues for the state (exported for the bench and tests). */
export function listQuery(ctx: Ctx): string {
  const f = ctx.state.filters;
  return qs({
    ...filterParams(f),
    min_area_m2: f.minAreaMu !== null ? (f.minAreaMu * 10000) / 15 : undefined,
    priority: f.priority.join(',') || undefined,
    bbox: f.inView ? ctx.main.bbox().join(',') : undefined,
    sort: ctx.state.sort,
    limit: PAGE_SIZE,
    offset: ctx.state.page * PAGE_SIZE,
  });
}

export async function loadList(ctx: Ctx): Promise<void> {
  const my = ++seq;
  const list = $('#clue-list');
  list.setAttribute('aria-busy', 'true');
  let res: { total: number; items: ClueItem[] };
  try {
    res = await get<{ total: number; items: ClueItem[] }>(`/web/clues${listQuery(ctx)}`);
  } catch (e) {
    if (my !== seq) return;
    list.removeAttribute('aria-busy');
    items = [];
    total = 0;
    renderList(ctx);
    list.replaceChildren(
      h(
        'li',
        { class: 'empty flash error', id: 'list-error' },
        `${s().error}: ${e instanceof ApiError ? e.message : String(e)}`,
      ),
    );
    return;
  }
  if (my !== seq) return; // a newer request won
  items = res.items;
  total = res.total;
  list.removeAttribute('aria-busy');
  renderList(ctx);
}

export function renderList(ctx: Ctx): void {
  const t = s();
  const list = $('#clue-list');
  if (!list) return;
  list.replaceChildren();
  $('#count').textContent = t.total(total);
  const first = ctx.state.page * PAGE_SIZE;
  $('#pager-text').textContent = total ? t.page(first + 1, first + items.length, total) : '';
  ($('#prev-page') as HTMLButtonElement).disabled = ctx.state.page === 0;
  ($('#next-page') as HTMLButtonElement).disabled = first + items.length >= total;
  if (!items.length) {
    list.append(h('li', { class: 'empty' }, t.empty));
    return;
  }
  for (const c of items) {
    const li = h(
      'li',
      {
        'data-clue-id': c.id,
        class: ctx.state.clue === c.id ? 'active' : '',
        tabindex: 0,
        onclick: () => ctx.update({ clue: c.id }),
      },
      h(
        'div',
        { class: 'row' },
        h(
          'strong',
          {},
          h('span', { class: 'dot', style: `background:${SCENARIO_COLORS[c.scenario] ?? '#e03131'}` }),
          `#${c.id} ${nameOf(SCENARIO_NAMES, c.scenario)}`,
        ),
        h('span', { class: `status st-${c.status}` }, nameOf(STATUS_NAMES, c.status)),
      ),
      h(
        'div',
        { class: 'row muted' },
        h('span', {}, `${num(c.area_mu, 1)} ${t.mu} · ${num(c.area_ha, 2)} ${t.ha}`),
        h('span', {}, `${t.confidence} ${num(c.confidence * 100, 0)}%`),
      ),
      h(
        'div',
        { class: 'row muted' },
        h('span', {}, `${t.lastSeen} ${c.last_seen}`),
        c.priority > 0
          ? h('span', { class: `prio p${c.priority}` }, nameOf(PRIORITY_NAMES, c.priority))
          : null,
      ),
    );
    list.append(li);
  }
  list.querySelector('li.active')?.scrollIntoView({ block: 'nearest' });
}

/** The filter form; every change goes through ctx.update (URL, list, map). */
export function renderSide(ctx: Ctx, root: HTMLElement): void {
  const t = s();
  const f = ctx.state.filters;
  const set = (patch: Partial<Filters>) =>
    ctx.update({ filters: { ...ctx.state.filters, ...patch }, page: 0 });
  const multi = (
    id: string,
    table: Record<string, { zh: string; en: string }>,
    selected: string[],
    key: 'scenario' | 'status',
  ) =>
    h(
      'select',
      {
        id,
        multiple: true,
        size: 4,
        'aria-label': key === 'scenario' ? t.scenario : t.status,
        onchange: (e: Event) =>
          set({
            [key]: [...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value),
          } as Partial<Filters>),
      },
      Object.keys(table).map((k) =>
        h('option', { value: k, selected: selected.includes(k) }, nameOf(table, k)),
      ),
    );
  const countyOptions = ctx.counties.filter(
    (c) => ctx.user.role === 'admin' || ctx.user.role === 'analyst' || ctx.user.counties.includes(c.adcode),
  );
  root.replaceChildren(
    h(
      'details',
      { class: 'filters', open: true },
      h('summary', {}, t.filters),
      h(
        'div',
        { class: 'grid' },
        h('label', {}, t.scenario, multi('f-scenario', SCENARIO_NAMES, f.scenario, 'scenario')),
        h('label', {}, t.status, multi('f-status', STATUS_NAMES, f.status, 'status')),
        h(
          'label',
          {},
          t.county,
          h(
            'select',
            {
              id: 'f-county',
              onchange: (e: Event) => set({ county: (e.target as HTMLSelectElement).value }),
            },
            h('option', { value: '' }, t.allCounties),
            countyOptions.map((c) =>
              h(
                'option',
                { value: c.adcode, selected: c.adcode === f.county },
                lang() === 'en' && c.nameEn ? c.nameEn : c.name,
              ),
            ),
          ),
        ),
        h(
          'label',
          {},
          t.priority,
          h(
            'select',
            {
              id: 'f-priority',
              onchange: (e: Event) => {
                const v = (e.target as HTMLSelectElement).value;
                set({ priority: v === '' ? [] : [Number(v)] });
              },
            },
            h('option', { value: '' }, t.any),
            [3, 2, 1, 0].map((p) =>
              h(
                'option',
                { value: p, selected: f.priority.length === 1 && f.priority[0] === p },
                nameOf(PRIORITY_NAMES, p),
              ),
            ),
          ),
        ),
        h(
          'label',
          {},
          t.dateFrom,
          h('input', {
            id: 'f-from',
            type: 'date',
            value: f.from,
            onchange: (e: Event) => set({ from: (e.target as HTMLInputElement).value }),
          }),
        ),
        h(
          'label',
          {},
          t.dateTo,
          h('input', {
            id: 'f-to',
            type: 'date',
            value: f.to,
            onchange: (e: Event) => set({ to: (e.target as HTMLInputElement).value }),
          }),
        ),
        h(
          'label',
          {},
          t.minConfidence,
          h('input', {
            id: 'f-conf',
            type: 'number',
            min: 0,
            max: 1,
            step: 0.05,
            value: f.minConfidence ?? '',
            onchange: (e: Event) => {
              const v = (e.target as HTMLInputElement).value;
              set({ minConfidence: v === '' ? null : Math.max(0, Math.min(1, Number(v))) });
            },
          }),
        ),
        h(
          'label',
          {},
          t.minArea,
          h('input', {
            id: 'f-area',
            type: 'number',
            min: 0,
            step: 1,
            value: f.minAreaMu ?? '',
            onchange: (e: Event) => {
              const v = (e.target as HTMLInputElement).value;
              set({ minAreaMu: v === '' ? null : Math.max(0, Number(v)) });
            },
          }),
        ),
      ),
      h(
        'div',
        { class: 'row' },
        h(
          'label',
          { class: 'check', title: t.alsoFilterHint },
          h('input', {
            id: 'f-also',
            type: 'checkbox',
            checked: f.also,
            onchange: (e: Event) => set({ also: (e.target as HTMLInputElement).checked }),
          }),
          t.alsoFilter,
        ),
        h(
          'label',
          { class: 'check' },
          h('input', {
            id: 'f-inview',
            type: 'checkbox',
            checked: f.inView,
            onchange: (e: Event) => set({ inView: (e.target as HTMLInputElement).checked }),
          }),
          t.inView,
        ),
        h(
          'button',
          { type: 'button', id: 'f-reset', onclick: () => ctx.update({ filters: emptyFilters(), page: 0 }) },
          t.reset,
        ),
      ),
    ),
    h(
      'div',
      { class: 'list-head' },
      h('h2', {}, t.clues, ' ', h('span', { id: 'count', class: 'count' }, '…')),
      h(
        'select',
        {
          id: 'sort',
          'aria-label': t.sort,
          onchange: (e: Event) =>
            ctx.update({ sort: (e.target as HTMLSelectElement).value as Sort, page: 0 }),
        },
        (
          [
            ['-last_seen', t.sortNewest],
            ['-confidence', t.sortConfidence],
            ['-area', t.sortArea],
            ['-priority', t.sortPriority],
          ] as const
        ).map(([v, label]) => h('option', { value: v, selected: ctx.state.sort === v }, label)),
      ),
    ),
    h('ol', { id: 'clue-list', class: 'clue-list' }),
    h(
      'div',
      { class: 'pager' },
      h(
        'button',
        {
          type: 'button',
          id: 'prev-page',
          onclick: () => ctx.update({ page: Math.max(0, ctx.state.page - 1) }),
        },
        t.prevPage,
      ),
      h('span', { id: 'pager-text', class: 'muted' }),
      h(
        'button',
        { type: 'button', id: 'next-page', onclick: () => ctx.update({ page: ctx.state.page + 1 }) },
        t.nextPage,
      ),
    ),
  );
  renderList(ctx);
}
