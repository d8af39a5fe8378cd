/**
 * The API client: same-origin fetches with the session cookie, the CSRF token on every
 * mutating request, `{code, message}` errors as ApiError, and feature detection from
 * /openapi.json so the UI hides what the server does not offer (no probing 404s).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
export const setCsrf = (token: string | null): void => {
  csrf = token;
};

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  let payload: BodyInit | undefined;
  if (body instanceof Blob) payload = body;
  else if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) h['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers: h, body: payload ?? null, credentials: 'same-origin' });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (data ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, e.code ?? 'HTTP', e.message ?? `${method} ${path}: ${res.status}`);
  }
  return data as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
  request<T>('POST', path, body, headers);

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const q = u.toString();
  return q ? `?${q}` : '';
}

// ---- shapes ----

export interface User {
  id: number;
  username: string;
  display_name: string;
  role: 'admin' | 'analyst' | 'prosecutor' | 'field';
  counties: string[];
  csrf_token?: string;
}

export interface ClueItem {
  id: number;
  scenario: string;
  status: string;
  dismiss_reason: string | null;
  confidence: number;
  priority: number;
  area_m2: number;
  area_ha: number;
  area_mu: number;
  first_seen: string;
  last_seen: string;
  county: string | null;
  detector: string;
  before_scene: string | null;
  after_scene: string | null;
  bbox: [number, number, number, number];
}

export interface ClueEvent {
  id: number;
  at: string;
  actor: string;
  kind: string;
  from_status: string | null;
  to_status: string | null;
  reason: string | null;
  comment: string | null;
  data: Record<string, unknown>;
}

export interface ClueDetail {
  type: 'Feature';
  id: number;
  geometry: GeoJSON.Geometry;
  properties: Omit<ClueItem, 'id' | 'bbox' | 'county'> & {
    county_adcode: string | null;
    model_version: string;
    /** Other scenarios whose detectors found this site (folded into this clue). */
    also_scenarios?: string[];
    events: ClueEvent[];
    [k: string]: unknown;
  };
}

export interface ZoneOverlap {
  id: number;
  kind: string;
  properties: Record<string, unknown>;
  overlap_m2: number;
}

export interface Scene {
  id: string;
  sensor: string;
  platform: string | null;
  datetime: string;
  bbox: [number, number, number, number] | null;
  status: string;
}

export interface StatsGroup {
  key: string;
  name?: string | null;
  clues: number;
  dismissed: number;
  confirmed: number;
  cases_filed: number;
  area_m2: number;
  area_ha: number;
  area_mu: number;
}

export interface Stats {
  patrolled_km2: number;
  totals: Omit<StatsGroup, 'key' | 'name'>;
  by_scenario: StatsGroup[];
  by_status: StatsGroup[];
  by_county: StatsGroup[];
  by_month: StatsGroup[];
}

export interface County {
  adcode: string;
  name: string;
  nameEn?: string;
  areaKm2?: number;
  bbox?: [number, number, number, number];
}

export interface Patrol {
  id: string;
  name?: string | null;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  tilesTotal: number;
  tilesDone: number;
  tilesFailed: number;
  etaSeconds?: number | null;
  coveredKm2?: number | null;
  clueCount?: number | null;
  createdAt?: string;
}

export interface PrPoint {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  clues?: number;
}

export interface Detector {
  id: string;
  name: { zh: string; en: string } | string;
  version: string;
  threshold: number;
  minAreaM2?: number;
  zoning?: { layer?: string; rule?: string } | null;
  metrics?: {
    objectF1?: number;
    precision?: number;
    recall?: number;
    prCurve?: PrPoint[];
    [k: string]: unknown;
  } | null;
  versions?: unknown[];
}

// ---- feature detection ----

export interface Features {
  patrols: boolean;
  detectors: boolean;
  packets: boolean;
  counties: boolean;
}

/** Which optional parts of the API exist on this server, from its OpenAPI document. */
export async function detectFeatures(): Promise<Features> {
  let paths: string[] = [];
  try {
    const doc = await get<{ paths?: Record<string, unknown> }>('/openapi.json');
    paths = Object.keys(doc.paths ?? {});
  } catch {
    // no OpenAPI: the optional parts stay hidden
  }
  const has = (p: string) => paths.includes(p);
  return {
    patrols: has('/patrols') && has('/patrols/{id}/events'),
    detectors: has('/detectors'),
    packets: has('/clues/{id}/packet'),
    counties: has('/zones/counties'),
  };
}

/** GET that yields null on 404 (an endpoint or object that is not there). */
export async function getOptional<T>(path: string): Promise<T | null> {
  try {
    return await get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}
