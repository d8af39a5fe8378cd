/**
 * The Skypatrol workspace: sign-in, the clue map with filters, list and detail, the dashboard,
 * the patrol launcher and the detector pages. The shareable state lives in the URL hash
 * (state/url.ts); views are plain modules that render from it.
 */
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import {
  type ClueItem,
  type County,
  detectFeatures,
  get,
  post,
  type Scene,
  type Stats,
  setCsrf,
  type User,
} from './api.ts';
import type { Ctx } from './context.ts';
import { $, h } from './dom.ts';
import { type Lang, s, setLang } from './i18n.ts';
import { createMainMap, type Window } from './map.ts';
import { parse, serialize, type UrlState } from './state/url.ts';
import { renderDashboard } from './views/dashboard.ts';
import { closeDetail, confirmNext, dismiss, preload, setCompareMode, showDetail } from './views/detail.ts';
import { renderDetectors } from './views/detectors.ts';
import { closeDialog, dialogOpen, helpDialog } from './views/dialogs.ts';
import { listItems, loadList, PAGE_SIZE, renderSide } from './views/list.ts';
import { renderLogin } from './views/login.ts';
import { renderPatrols, stopPatrolStream } from './views/patrols.ts';

const SIGNED_IN = 'skypatrol.signedIn';
let state: UrlState = parse(location.hash);
let ctx: Ctx | null = null;
/** After a page change by keyboard: select the first or last clue of the new page. */
let pendingSelect: 'first' | 'last' | null = null;

setLang(state.lang);

function renderStatic(): void {
  const t = s();
  document.querySelectorAll<HTMLElement>('[data-i18n]').forEach((el) => {
    const v = t[el.dataset.i18n as keyof typeof t];
    if (typeof v === 'string') el.textContent = v;
  });
  $('#lang').textContent = t.switchTo;
  document.title = `${t.brand} Skypatrol`;
}

async function checkHealth(): Promise<void> {
  const el = $('#health');
  const t = s();
  try {
    const res = await fetch('/health');
    el.className = `health ${res.ok ? 'ok' : 'bad'}`;
    el.textContent = res.ok ? t.healthOk : t.healthBad;
  } catch {
    el.className = 'health bad';
    el.textContent = t.healthBad;
  }
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const addDays = (iso: string, n: number) => day(new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86_400_000));

/** Default windows: the last 92 days of imagery in the catalogue, and the same months a year before. */
function defaultWindows(scenes: Scene[]): { before: Window; after: Window } {
  const last =
    scenes
      .map((x) => x.datetime.slice(0, 10))
      .sort()
      .pop() ?? day(new Date());
  const afterFrom = addDays(last, -92);
  return {
    after: { from: afterFrom, to: last },
    before: { from: addDays(afterFrom, -365), to: addDays(last, -365) },
  };
}

function writeHash(): void {
  const hash = serialize(state);
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}

/** A view's failure is shown in its place (never an unhandled rejection). */
function shown(p: Promise<void>, el: HTMLElement): void {
  p.catch((e: unknown) =>
    el.replaceChildren(
      h('p', { class: 'flash error pad' }, `${s().error}: ${e instanceof Error ? e.message : String(e)}`),
    ),
  );
}

function showView(c: Ctx): void {
  const v = state.view;
  document.body.dataset.view = v;
  document.querySelectorAll<HTMLAnchorElement>('#nav a').forEach((a) => {
    a.classList.toggle('active', a.dataset.view === v);
  });
  const mapViews = v === 'map' || v === 'patrols';
  $('#side').hidden = !mapViews;
  $('#map-wrap').hidden = !mapViews;
  $('#page').hidden = mapViews;
  $('#side-map').hidden = v !== 'map';
  $('#side-patrols').hidden = v !== 'patrols';
  if (mapViews) c.main.map.resize();
  if (v !== 'map') closeDetail();
  if (v !== 'patrols') {
    stopPatrolStream();
    c.main.showAoi(null);
  }
  if (v === 'dashboard') shown(renderDashboard(c, $('#page')), $('#page'));
  if (v === 'detectors') shown(renderDetectors(c, $('#page')), $('#page'));
  if (v === 'patrols') shown(renderPatrols(c, $('#side-patrols')), $('#side-patrols'));
}

function renderLayers(c: Ctx): void {
  const t = s();
  const w = c.windows();
  const toggle = (key: keyof UrlState['layers'], label: string) =>
    h(
      'label',
      { class: 'check' },
      h('input', {
        type: 'checkbox',
        id: `layer-${key}`,
        checked: state.layers[key],
        onchange: (e: Event) =>
          c.update({ layers: { ...state.layers, [key]: (e.target as HTMLInputElement).checked } }),
      }),
      label,
    );
  const date = (id: string, v: string, key: 'beforeFrom' | 'beforeTo' | 'afterFrom' | 'afterTo') =>
    h('input', {
      type: 'date',
      id,
      value: v,
      onchange: (e: Event) => c.update({ [key]: (e.target as HTMLInputElement).value } as Partial<UrlState>),
    });
  $('#layers').replaceChildren(
    h(
      'details',
      { id: 'layers-details', open: ($('#layers-details') as HTMLDetailsElement | null)?.open ?? false },
      h('summary', {}, t.layers),
      h(
        'label',
        {},
        t.imagery,
        h(
          'select',
          {
            id: 'img-date',
            onchange: (e: Event) =>
              c.update({ img: (e.target as HTMLSelectElement).value as UrlState['img'] }),
          },
          (['after', 'before', 'none'] as const).map((v) =>
            h('option', { value: v, selected: state.img === v }, t[v]),
          ),
        ),
        h(
          'select',
          {
            id: 'img-mode',
            onchange: (e: Event) =>
              c.update({ mode: (e.target as HTMLSelectElement).value as UrlState['mode'] }),
          },
          (
            [
              ['true-color', t.trueColor],
              ['false-color', t.falseColor],
              ['ndvi', t.ndvi],
            ] as const
          ).map(([v, l]) => h('option', { value: v, selected: state.mode === v }, l)),
        ),
      ),
      h(
        'div',
        { class: 'win' },
        h('span', {}, t.before),
        date('win-bf', w.before.from, 'beforeFrom'),
        date('win-bt', w.before.to, 'beforeTo'),
      ),
      h(
        'div',
        { class: 'win' },
        h('span', {}, t.after),
        date('win-af', w.after.from, 'afterFrom'),
        date('win-at', w.after.to, 'afterTo'),
      ),
      toggle('clues', t.clueLayer),
      toggle('coverage', t.coverage),
      toggle('zoning', t.zoning),
      toggle('counties', t.counties),
    ),
  );
}

function applyImagery(c: Ctx): void {
  const w = c.windows();
  c.main.setImagery(state.img === 'none' ? null : w[state.img], state.mode);
}

/** Move the map to a clue: its list bbox, else (a shared link to another page) its geometry. */
function flyToClue(c: Ctx, id: number): void {
  const item = listItems().find((x) => x.id === id);
  if (item) {
    c.main.fit(item.bbox);
    return;
  }
  void get<{ geometry?: GeoJSON.Geometry }>(`/clues/${id}`)
    .then((one) => {
      if (!one.geometry || !('coordinates' in one.geometry)) return;
      const flat =
        JSON.stringify(one.geometry.coordinates)
          .match(/-?\d+(\.\d+)?(e-?\d+)?/g)
          ?.map(Number) ?? [];
      const xs = flat.filter((_, k) => k % 2 === 0);
      const ys = flat.filter((_, k) => k % 2 === 1);
      if (xs.length) c.main.fit([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
    })
    .catch(() => undefined);
}

function selectClue(c: Ctx, fly: boolean): void {
  const id = state.clue;
  const items = listItems();
  for (const li of document.querySelectorAll<HTMLElement>('#clue-list li'))
    li.classList.toggle('active', Number(li.dataset.clueId) === id);
  document.querySelector('#clue-list li.active')?.scrollIntoView({ block: 'nearest' });
  if (id === null) {
    closeDetail();
    c.main.highlight(null);
    return;
  }
  if (fly) flyToClue(c, id);
  void showDetail(c, id);
  const i = items.findIndex((x) => x.id === id);
  const next = items[i + 1];
  if (next) preload(next.id);
}

async function reloadList(c: Ctx): Promise<void> {
  await loadList(c);
  if (pendingSelect) {
    const items = listItems();
    const pick = pendingSelect === 'first' ? items[0] : items[items.length - 1];
    pendingSelect = null;
    if (pick) c.update({ clue: pick.id });
  } else selectClue(c, false);
  document.body.dataset.listReady = String(performance.now());
}

function apply(c: Ctx, prev: UrlState): void {
  const changed = (k: keyof UrlState) => JSON.stringify(prev[k]) !== JSON.stringify(state[k]);
  if (changed('lang')) {
    setLang(state.lang);
    renderStatic();
    void checkHealth();
    renderWho(c.user);
    renderSide(c, $('#side-map'));
    renderLayers(c);
    showView(c);
    void reloadList(c);
    if (state.clue !== null) void showDetail(c, state.clue);
    return;
  }
  if (changed('view')) showView(c);
  const listChanged = changed('filters') || changed('sort') || changed('page');
  if (changed('filters')) {
    c.main.setClueFilters(state.filters);
    if (state.view === 'dashboard') void renderDashboard(c, $('#page'));
  }
  if (changed('filters') || changed('sort')) renderSide(c, $('#side-map'));
  if (listChanged) void reloadList(c);
  if (changed('clue') && !listChanged) selectClue(c, true);
  if (
    changed('img') ||
    changed('mode') ||
    changed('beforeFrom') ||
    changed('beforeTo') ||
    changed('afterFrom') ||
    changed('afterTo')
  ) {
    applyImagery(c);
    if (changed('beforeFrom') || changed('beforeTo') || changed('afterFrom') || changed('afterTo'))
      renderLayers(c);
  }
  if (changed('layers')) c.main.setLayers(state.layers);
  if (changed('compare')) setCompareMode(state.compare);
  if (changed('detector') && state.view === 'detectors') shown(renderDetectors(c, $('#page')), $('#page'));
}

function renderWho(u: User): void {
  $('#who').textContent = `${u.display_name || u.username} · ${s().roles[u.role] ?? u.role}`;
}

function onKey(c: Ctx, e: KeyboardEvent): void {
  if (e.key === 'Escape') {
    if (dialogOpen()) closeDialog();
    else if (state.clue !== null) c.update({ clue: null });
    return;
  }
  const target = e.target as HTMLElement;
  if (dialogOpen() || e.ctrlKey || e.metaKey || e.altKey) return;
  if (/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.isContentEditable) return;
  if (e.key === '?') {
    e.preventDefault();
    helpDialog();
    return;
  }
  if (state.view !== 'map') return;
  const items = listItems();
  const i = items.findIndex((x) => x.id === state.clue);
  if (e.key === 'j' || e.key === 'ArrowRight') {
    e.preventDefault();
    const next = items[i + 1];
    if (next) c.update({ clue: next.id });
    else if (!($('#next-page') as HTMLButtonElement).disabled && items.length === PAGE_SIZE) {
      pendingSelect = 'first';
      c.update({ page: state.page + 1 });
    }
  } else if (e.key === 'k' || e.key === 'ArrowLeft') {
    e.preventDefault();
    if (i > 0) c.update({ clue: items[i - 1]!.id });
    else if (i === 0 && state.page > 0) {
      pendingSelect = 'last';
      c.update({ page: state.page - 1 });
    } else if (i < 0 && items[0]) c.update({ clue: items[0].id });
  } else if (e.key === 'c' && state.clue !== null) {
    e.preventDefault();
    void confirmNext(c, state.clue);
  } else if (e.key === 'd' && state.clue !== null && c.user.role !== 'field') {
    e.preventDefault();
    void dismiss(c, state.clue);
  }
}

async function loadCounties(features: { counties: boolean }): Promise<County[]> {
  if (features.counties) {
    try {
      return await get<County[]>('/zones/counties');
    } catch {
      // fall back to the counties that have clues
    }
  }
  const stats = await get<Stats>('/stats');
  return stats.by_county
    .filter((g) => g.key !== 'unknown')
    .map((g) => ({ adcode: g.key, name: g.name ?? g.key }));
}

async function start(user: User): Promise<void> {
  localStorage.setItem(SIGNED_IN, '1');
  $('#login').hidden = true;
  $('#workspace').hidden = false;
  $('#nav').hidden = false;
  $('#logout').hidden = false;
  $('#help-btn').hidden = false;
  renderWho(user);
  const [features, scenes, extent] = await Promise.all([
    detectFeatures(),
    get<{ scenes: Scene[] }>('/scenes?limit=1000').then((r) => r.scenes.filter((x) => x.status === 'ready')),
    // The initial view (unless the link has one): the extent of the clues the user may see.
    state.camera
      ? null
      : get<{ extent: [number, number, number, number] | null }>('/clues?limit=1').then((r) => r.extent),
  ]);
  const counties = await loadCounties(features);
  const deskRoles = ['admin', 'analyst', 'prosecutor'];
  ($('#nav a[data-view="patrols"]') as HTMLElement).hidden = !(
    features.patrols && deskRoles.includes(user.role)
  );
  ($('#nav a[data-view="detectors"]') as HTMLElement).hidden = !(
    features.detectors && ['admin', 'analyst'].includes(user.role)
  );
  if (state.view === 'patrols' && !features.patrols) state.view = 'map';
  const dflt = defaultWindows(scenes);
  const main = createMainMap($('#map'), state, extent ?? scenes.find((x) => x.bbox)?.bbox ?? null);
  const c: Ctx = {
    get state() {
      return state;
    },
    user,
    features,
    scenes,
    counties,
    main,
    update(patch) {
      const prev = state;
      state = { ...state, ...patch };
      writeHash();
      apply(c, prev);
    },
    refreshClues() {
      main.refreshClues();
      void loadList(c).then(() => selectClue(c, false));
      if (state.view === 'dashboard') void renderDashboard(c, $('#page'));
    },
    windows() {
      return {
        before: { from: state.beforeFrom || dflt.before.from, to: state.beforeTo || dflt.before.to },
        after: { from: state.afterFrom || dflt.after.from, to: state.afterTo || dflt.after.to },
      };
    },
    listItems,
  };
  ctx = c;
  main.onClue((id) => c.update({ clue: id }));
  renderSide(c, $('#side-map'));
  renderLayers(c);
  main.setClueFilters(state.filters);
  main.setLayers(state.layers);
  applyImagery(c);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a'))
    a.addEventListener('click', (e) => {
      e.preventDefault();
      c.update({ view: a.dataset.view as UrlState['view'], clue: null });
    });
  document.addEventListener('keydown', (e) => onKey(c, e));
  let moveTimer: number | undefined;
  main.map.on('moveend', () => {
    const ctr = main.map.getCenter();
    state = { ...state, camera: [ctr.lng, ctr.lat, main.map.getZoom()] };
    writeHash();
    if (state.filters.inView) {
      clearTimeout(moveTimer);
      moveTimer = window.setTimeout(() => void reloadList(c), 250);
    }
  });
  showView(c);
  // The list loads while the map initialises.
  const listed = reloadList(c);
  await main.ready;
  await listed;
  if (state.clue !== null) flyToClue(c, state.clue);
  const idle = () => {
    document.body.dataset.mapIdleAt = String(performance.now());
    document.body.dataset.mapIdle = 'true';
  };
  if (main.map.loaded() && main.map.areTilesLoaded() && !main.map.isMoving()) idle();
  else main.map.once('idle', idle);
  document.body.dataset.readyAt = String(performance.now());
  document.body.dataset.ready = 'true';
}

async function boot(): Promise<void> {
  renderStatic();
  void checkHealth();
  $('#lang').addEventListener('click', () => {
    const next: Lang = state.lang === 'zh' ? 'en' : 'zh';
    if (ctx) ctx.update({ lang: next });
    else {
      state = { ...state, lang: next };
      writeHash();
      setLang(next);
      renderStatic();
      void checkHealth();
      if (!$('#login').hidden) renderLogin($('#login'), (u) => void start(u));
    }
  });
  $('#help-btn').addEventListener('click', () => helpDialog());
  $('#logout').addEventListener('click', async () => {
    await post('/auth/logout').catch(() => undefined);
    localStorage.removeItem(SIGNED_IN);
    setCsrf(null);
    location.reload();
  });
  window.addEventListener('hashchange', () => {
    if (!ctx) return;
    const prev = state;
    state = parse(location.hash);
    apply(ctx, prev);
  });
  // Only ask for the session when this browser signed in before (no 401 noise on a first visit).
  let user: User | null = null;
  if (localStorage.getItem(SIGNED_IN)) {
    try {
      user = await get<User>('/auth/me');
      setCsrf(user.csrf_token ?? null);
    } catch {
      localStorage.removeItem(SIGNED_IN);
    }
  }
  if (user) await start(user);
  else {
    $('#login').hidden = false;
    renderLogin($('#login'), (u) => void start(u));
    document.body.dataset.login = 'true';
  }
}

void boot();

export type { ClueItem };
