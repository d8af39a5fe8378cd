import maplibregl, { type GeoJSONSource, type LngLatBoundsLike, type MapGeoJSONFeature } from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import { type Lang, SCENARIO_NAMES, STATUS_NAMES, STRINGS } from './i18n.ts';

interface ClueProps {
  scenario: string;
  status: string;
  confidence: number;
  area_m2: number;
  area_ha: number;
  area_mu: number;
  first_seen: string;
  last_seen: string;
  detector: string;
  model_version: string;
  before_scene?: string;
  after_scene?: string;
}
interface ClueFeature {
  type: 'Feature';
  id: number;
  geometry: GeoJSON.Geometry;
  properties: ClueProps;
}
interface ClueCollection {
  type: 'FeatureCollection';
  total: number;
  extent: [number, number, number, number] | null;
  features: ClueFeature[];
}

type I18nKey = 'subtitle' | 'clues' | 'imagery' | 'after' | 'before' | 'none' | 'trueColor' | 'falseColor';

interface SceneInfo {
  id: string;
  sensor: string;
  datetime: string;
  bbox: [number, number, number, number];
}

const params = new URLSearchParams(location.search);
const state = {
  imgDate: (['after', 'before', 'none'].includes(params.get('img') ?? '') ? params.get('img') : 'after') as
    | 'after'
    | 'before'
    | 'none',
  imgMode: (params.get('mode') === 'false-color' ? 'false-color' : 'true-color') as
    | 'true-color'
    | 'false-color',
  scenes: [] as SceneInfo[],
  lang: (new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh') as Lang,
  clues: [] as ClueFeature[],
  selected: null as number | null,
};
const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const fmt = (v: number, d = 2) =>
  v.toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-US', {
    maximumFractionDigits: d,
    minimumFractionDigits: d,
  });
const name = (table: Record<string, { zh: string; en: string }>, key: string) =>
  table[key]?.[state.lang] ?? key;

// Offline style: no basemap server, no glyphs (no text layers), everything from our API.
const map = new maplibregl.Map({
  container: 'map',
  style: {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9eef2' } }],
  },
  center: [116.5, 49.5],
  zoom: 5,
  attributionControl: { compact: true, customAttribution: 'Skypatrol · Copernicus Sentinel-2 (OSCD)' },
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');

function renderStatic(): void {
  const s = STRINGS[state.lang];
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll<HTMLElement>('[data-i18n]').forEach((el) => {
    const key = el.dataset.i18n as I18nKey;
    el.textContent = s[key];
  });
  $('#lang').textContent = s.switchTo;
}

function renderList(): void {
  const s = STRINGS[state.lang];
  const list = $('#clue-list');
  list.replaceChildren();
  $('#count').textContent = `(${state.clues.length})`;
  const totalHa = state.clues.reduce((a, c) => a + c.properties.area_ha, 0);
  $('#summary').textContent = state.clues.length ? s.total(state.clues.length, totalHa) : '';
  if (!state.clues.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = s.empty;
    list.append(li);
    return;
  }
  for (const c of state.clues) {
    const p = c.properties;
    const li = document.createElement('li');
    li.dataset.clueId = String(c.id);
    if (state.selected === c.id) li.classList.add('active');
    li.innerHTML = `
      <div class="row"><strong>#${c.id} ${name(SCENARIO_NAMES, p.scenario)}</strong><span class="conf">${s.confidence} ${fmt(p.confidence * 100, 0)}%</span></div>
      <div class="row muted"><span>${fmt(p.area_mu, 1)} ${s.mu} · ${fmt(p.area_ha, 2)} ${s.ha}</span><span>${name(STATUS_NAMES, p.status)}</span></div>
      <div class="muted">${s.lastSeen} ${p.last_seen}</div>`;
    li.addEventListener('click', () => select(c.id, true));
    list.append(li);
  }
}

function popupHtml(c: ClueFeature): string {
  const s = STRINGS[state.lang];
  const p = c.properties;
  return `<strong>#${c.id} ${name(SCENARIO_NAMES, p.scenario)}</strong>
    <table>
      <tr><td>${s.status}</td><td>${name(STATUS_NAMES, p.status)}</td></tr>
      <tr><td>${s.confidence}</td><td>${fmt(p.confidence * 100, 1)}%</td></tr>
      <tr><td>${s.area}</td><td>${fmt(p.area_m2, 0)} m² · ${fmt(p.area_ha, 2)} ${s.ha} · ${fmt(p.area_mu, 1)} ${s.mu}</td></tr>
      <tr><td>${s.firstSeen}</td><td>${p.first_seen}</td></tr>
      <tr><td>${s.detector}</td><td>${p.detector} v${p.model_version}</td></tr>
    </table>`;
}

let popup: maplibregl.Popup | null = null;
function select(id: number, fly: boolean): void {
  state.selected = id;
  const c = state.clues.find((x) => x.id === id);
  renderList();
  map.setFilter('clues-selected', ['==', ['id'], id]);
  if (!c) return;
  const b = bboxOf(c.geometry);
  if (fly) map.fitBounds(b, { padding: 120, maxZoom: 16, duration: 400 });
  popup?.remove();
  popup = new maplibregl.Popup({ closeButton: true, maxWidth: '320px' })
    .setLngLat([(b[0] + b[2]) / 2, b[3]])
    .setHTML(popupHtml(c))
    .addTo(map);
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

async function loadClues(): Promise<ClueCollection> {
  const res = await fetch('/clues?limit=1000');
  if (!res.ok) throw new Error(`GET /clues: ${res.status}`);
  return (await res.json()) as ClueCollection;
}

/** Scene overviews from our own API as image layers under the clues (no external basemap). */
function imageryLayers(): void {
  const wanted = new Set<string>();
  for (const c of state.clues) {
    const id = state.imgDate === 'before' ? c.properties.before_scene : c.properties.after_scene;
    if (id && state.imgDate !== 'none') wanted.add(id);
  }
  for (const scene of state.scenes) {
    const sourceId = `scene-${scene.id}`;
    const layerId = `scene-layer-${scene.id}`;
    const url = `/scenes/${encodeURIComponent(scene.id)}/preview.png?mode=${state.imgMode}&size=512`;
    const [w, s, e, n] = scene.bbox;
    const coordinates: [[number, number], [number, number], [number, number], [number, number]] = [
      [w, n],
      [e, n],
      [e, s],
      [w, s],
    ];
    const source = map.getSource(sourceId) as maplibregl.ImageSource | undefined;
    if (!wanted.has(scene.id)) {
      if (map.getLayer(layerId)) map.setLayoutProperty(layerId, 'visibility', 'none');
      continue;
    }
    if (!source) {
      map.addSource(sourceId, { type: 'image', url, coordinates });
      map.addLayer(
        {
          id: layerId,
          type: 'raster',
          source: sourceId,
          paint: { 'raster-fade-duration': 0 },
        },
        'clues-fill',
      );
    } else {
      source.updateImage({ url, coordinates });
      map.setLayoutProperty(layerId, 'visibility', 'visible');
    }
  }
}

function syncUrl(): void {
  const url = new URL(location.href);
  url.searchParams.set('lang', state.lang);
  url.searchParams.set('img', state.imgDate);
  url.searchParams.set('mode', state.imgMode);
  history.replaceState(null, '', url);
}

async function checkHealth(): Promise<void> {
  const el = $('#health');
  const s = STRINGS[state.lang];
  try {
    const res = await fetch('/health');
    el.className = `health ${res.ok ? 'ok' : 'bad'}`;
    el.textContent = res.ok ? s.healthOk : s.healthBad;
  } catch {
    el.className = 'health bad';
    el.textContent = s.healthBad;
  }
}

map.on('load', async () => {
  const data = await loadClues();
  state.clues = data.features;
  // Patrolled area (clear-observed coverage) and county boundaries as vector tiles from our API.
  const tiles = (layer: string, query = '') => [`${location.origin}/tiles/${layer}/{z}/{x}/{y}.mvt${query}`];
  map.addSource('coverage', { type: 'vector', tiles: tiles('coverage'), minzoom: 0, maxzoom: 14 });
  map.addLayer({
    id: 'coverage-fill',
    type: 'fill',
    source: 'coverage',
    'source-layer': 'coverage',
    paint: { 'fill-color': '#2f9e44', 'fill-opacity': 0.08 },
  });
  map.addLayer({
    id: 'coverage-line',
    type: 'line',
    source: 'coverage',
    'source-layer': 'coverage',
    paint: { 'line-color': '#2f9e44', 'line-width': 1, 'line-dasharray': [2, 2] },
  });
  map.addSource('counties', {
    type: 'vector',
    tiles: tiles('zones', '?kind=admin_division'),
    minzoom: 0,
    maxzoom: 14,
    attribution: '县界 天地图 审图号 GS(2024)0650号',
  });
  map.addLayer({
    id: 'counties-line',
    type: 'line',
    source: 'counties',
    'source-layer': 'zones',
    paint: { 'line-color': '#5f3dc4', 'line-width': 1.5 },
  });
  map.addSource('clues', { type: 'geojson', data: data as unknown as GeoJSON.FeatureCollection });
  map.addLayer({
    id: 'clues-fill',
    type: 'fill',
    source: 'clues',
    paint: {
      'fill-color': [
        'interpolate',
        ['linear'],
        ['get', 'confidence'],
        0.5,
        '#f59f00',
        0.8,
        '#e8590c',
        1,
        '#c92a2a',
      ],
      'fill-opacity': 0.45,
    },
  });
  map.addLayer({
    id: 'clues-line',
    type: 'line',
    source: 'clues',
    paint: { 'line-color': '#a61e1e', 'line-width': 1.5 },
  });
  map.addLayer({
    id: 'clues-selected',
    type: 'line',
    source: 'clues',
    filter: ['==', ['id'], -1],
    paint: { 'line-color': '#1c7ed6', 'line-width': 3 },
  });
  map.on('click', 'clues-fill', (e) => {
    const f = e.features?.[0] as MapGeoJSONFeature | undefined;
    if (f?.id !== undefined) select(Number(f.id), false);
  });
  map.on('mouseenter', 'clues-fill', () => {
    map.getCanvas().style.cursor = 'pointer';
  });
  map.on('mouseleave', 'clues-fill', () => {
    map.getCanvas().style.cursor = '';
  });
  const scenes = await fetch('/scenes?limit=1000');
  if (scenes.ok) state.scenes = ((await scenes.json()) as { scenes: SceneInfo[] }).scenes;
  imageryLayers();
  if (data.extent) map.fitBounds(data.extent as LngLatBoundsLike, { padding: 40, duration: 0 });
  renderList();
  (map.getSource('clues') as GeoJSONSource | undefined)?.setData(
    data as unknown as GeoJSON.FeatureCollection,
  );
  document.body.dataset.ready = 'true';
});

$<HTMLSelectElement>('#img-date').value = state.imgDate;
$<HTMLSelectElement>('#img-mode').value = state.imgMode;
$<HTMLSelectElement>('#img-date').addEventListener('change', (e) => {
  state.imgDate = (e.target as HTMLSelectElement).value as typeof state.imgDate;
  syncUrl();
  imageryLayers();
});
$<HTMLSelectElement>('#img-mode').addEventListener('change', (e) => {
  state.imgMode = (e.target as HTMLSelectElement).value as typeof state.imgMode;
  syncUrl();
  imageryLayers();
});

$('#lang').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh';
  syncUrl();
  renderStatic();
  renderList();
  void checkHealth();
  if (state.selected !== null) select(state.selected, false);
});

renderStatic();
void checkHealth();
