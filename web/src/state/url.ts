/**
 * The workspace state that belongs in a shared link, kept in the URL hash:
 *   #view=map&clue=12&scenario=mine,river&status=new&county=150781&from=2025-06-01&…
 * parse() and serialize() are inverse for every valid state; unknown or invalid values fall
 * back to defaults so an edited link never breaks the page.
 */

export type View = 'map' | 'dashboard' | 'patrols' | 'detectors';
export type ImageryDate = 'after' | 'before' | 'none';
export type ImageryMode = 'true-color' | 'false-color' | 'ndvi';
export type CompareMode = 'swipe' | 'side';
export type Sort = '-last_seen' | '-confidence' | '-area' | '-priority';

export interface Filters {
  scenario: string[];
  /** Scenario filter matches clues that also concern a scenario (their `also_scenarios`) too. */
  also: boolean;
  status: string[];
  county: string;
  from: string;
  to: string;
  minConfidence: number | null;
  minAreaMu: number | null;
  priority: number[];
  inView: boolean;
}

export interface UrlState {
  view: View;
  lang: 'zh' | 'en';
  clue: number | null;
  page: number;
  sort: Sort;
  filters: Filters;
  img: ImageryDate;
  mode: ImageryMode;
  /** Imagery windows (YYYY-MM-DD); empty = chosen from the catalogue. */
  beforeFrom: string;
  beforeTo: string;
  afterFrom: string;
  afterTo: string;
  layers: { coverage: boolean; counties: boolean; zoning: boolean; clues: boolean };
  compare: CompareMode;
  detector: string;
  /** Map camera: lng, lat, zoom (null until the map has moved). */
  camera: [number, number, number] | null;
}

export const emptyFilters = (): Filters => ({
  scenario: [],
  also: false,
  status: [],
  county: '',
  from: '',
  to: '',
  minConfidence: null,
  minAreaMu: null,
  priority: [],
  inView: false,
});

export const defaultState = (): UrlState => ({
  view: 'map',
  lang: 'zh',
  clue: null,
  page: 0,
  sort: '-last_seen',
  filters: emptyFilters(),
  img: 'after',
  mode: 'true-color',
  beforeFrom: '',
  beforeTo: '',
  afterFrom: '',
  afterTo: '',
  layers: { coverage: true, counties: true, zoning: false, clues: true },
  compare: 'swipe',
  detector: '',
  camera: null,
});

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ID = /^[a-z0-9_-]{1,64}$/;
const oneOf = <T extends string>(v: string | null, values: readonly T[], dflt: T): T =>
  values.includes(v as T) ? (v as T) : dflt;
const date = (v: string | null) => (v && DATE.test(v) ? v : '');
const list = (v: string | null) => (v ? v.split(',').filter((x) => ID.test(x)) : []);
const numIn = (v: string | null, lo: number, hi: number): number | null => {
  if (v === null || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n >= lo && n <= hi ? n : null;
};

export function parse(hash: string): UrlState {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const d = defaultState();
  const clue = numIn(p.get('clue'), 1, Number.MAX_SAFE_INTEGER);
  const cam = (p.get('cam') ?? '').split(',').map(Number);
  const layers = p.get('layers');
  const on = (k: string, dflt: boolean) => (layers === null ? dflt : layers.split(',').includes(k));
  return {
    view: oneOf(p.get('view'), ['map', 'dashboard', 'patrols', 'detectors'] as const, d.view),
    lang: oneOf(p.get('lang'), ['zh', 'en'] as const, d.lang),
    clue: clue === null ? null : Math.trunc(clue),
    page: Math.trunc(numIn(p.get('page'), 0, 1e6) ?? 0),
    sort: oneOf(p.get('sort'), ['-last_seen', '-confidence', '-area', '-priority'] as const, d.sort),
    filters: {
      scenario: list(p.get('scenario')),
      also: p.get('also') === '1',
      status: list(p.get('status')),
      county: /^[0-9]{6,12}$/.test(p.get('county') ?? '') ? (p.get('county') as string) : '',
      from: date(p.get('from')),
      to: date(p.get('to')),
      minConfidence: numIn(p.get('conf'), 0, 1),
      minAreaMu: numIn(p.get('mu'), 0, 1e9),
      priority: (p.get('prio') ?? '')
        .split(',')
        .filter((x) => /^[0-3]$/.test(x))
        .map(Number),
      inView: p.get('inview') === '1',
    },
    img: oneOf(p.get('img'), ['after', 'before', 'none'] as const, d.img),
    mode: oneOf(p.get('mode'), ['true-color', 'false-color', 'ndvi'] as const, d.mode),
    beforeFrom: date(p.get('bf')),
    beforeTo: date(p.get('bt')),
    afterFrom: date(p.get('af')),
    afterTo: date(p.get('at')),
    layers: {
      coverage: on('coverage', d.layers.coverage),
      counties: on('counties', d.layers.counties),
      zoning: on('zoning', d.layers.zoning),
      clues: on('clues', d.layers.clues),
    },
    compare: oneOf(p.get('cmp'), ['swipe', 'side'] as const, d.compare),
    detector: ID.test(p.get('det') ?? '') ? (p.get('det') as string) : '',
    camera:
      cam.length === 3 &&
      cam.every(Number.isFinite) &&
      Math.abs(cam[1]!) <= 85 &&
      cam[2]! >= 0 &&
      cam[2]! <= 24
        ? (cam as [number, number, number])
        : null,
  };
}

export function serialize(st: UrlState): string {
  const d = defaultState();
  const p = new URLSearchParams();
  const set = (k: string, v: string, dflt = '') => {
    if (v !== dflt) p.set(k, v);
  };
  set('view', st.view, d.view);
  set('lang', st.lang, d.lang);
  if (st.clue !== null) p.set('clue', String(st.clue));
  if (st.page) p.set('page', String(st.page));
  set('sort', st.sort, d.sort);
  const f = st.filters;
  set('scenario', f.scenario.join(','));
  if (f.also) p.set('also', '1');
  set('status', f.status.join(','));
  set('county', f.county);
  set('from', f.from);
  set('to', f.to);
  if (f.minConfidence !== null) p.set('conf', String(f.minConfidence));
  if (f.minAreaMu !== null) p.set('mu', String(f.minAreaMu));
  set('prio', f.priority.join(','));
  if (f.inView) p.set('inview', '1');
  set('img', st.img, d.img);
  set('mode', st.mode, d.mode);
  set('bf', st.beforeFrom);
  set('bt', st.beforeTo);
  set('af', st.afterFrom);
  set('at', st.afterTo);
  const layers = (Object.keys(st.layers) as (keyof UrlState['layers'])[])
    .filter((k) => st.layers[k])
    .join(',');
  set('layers', layers, 'coverage,counties,clues');
  set('cmp', st.compare, d.compare);
  set('det', st.detector);
  if (st.camera) p.set('cam', st.camera.map((v, i) => v.toFixed(i === 2 ? 2 : 5)).join(','));
  return p.toString();
}

/** The query parameters of /web/clues and /tiles/clues for these filters. */
export function filterParams(f: Filters): Record<string, string | number | undefined> {
  return {
    // "Also concerns": a river clue on a filled wetland is listed under wetland too.
    [f.also ? 'concerns' : 'scenario']: f.scenario.join(',') || undefined,
    status: f.status.join(',') || undefined,
    county: f.county || undefined,
    from: f.from || undefined,
    to: f.to || undefined,
    min_confidence: f.minConfidence ?? undefined,
  };
}
