/**
 * MapLibre maps of the workspace, fully offline: no basemap server, no glyphs or sprites (no
 * symbol layers), every source from our own API — imagery mosaics and scene tiles, patrolled
 * coverage, zoning, county boundaries and clues as vector tiles.
 */
import maplibregl, {
  type LngLatBoundsLike,
  type MapGeoJSONFeature,
  type StyleSpecification,
} from 'maplibre-gl';
import { qs } from './api.ts';
import { SCENARIO_COLORS } from './i18n.ts';
import type { Filters, ImageryMode, UrlState } from './state/url.ts';
import { filterParams } from './state/url.ts';

export interface Window {
  from: string;
  to: string;
}

/** Map errors are collected (not printed) so tests can assert there were none. */
export const mapErrors: string[] = [];
(window as unknown as { __mapErrors: string[] }).__mapErrors = mapErrors;

const origin = () => location.origin;
const ZONING_KINDS =
  'temporary_land_permit,mining_permit,forest_land,black_soil_zone,river_management_area,grassland,lake_protection_zone,wetland_reserve';

const baseStyle = (): StyleSpecification => ({
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#dfe6ec' } }],
});

function newMap(container: HTMLElement, opts: Partial<maplibregl.MapOptions> = {}): maplibregl.Map {
  const map = new maplibregl.Map({
    container,
    style: baseStyle(),
    center: [117.6, 49.1],
    zoom: 9,
    attributionControl: false,
    fadeDuration: 0,
    ...opts,
  });
  map.on('error', (e) => {
    const err = (e as { error?: { message?: string; name?: string } }).error;
    if (err?.name === 'AbortError') return;
    mapErrors.push(err?.message ?? 'map error');
  });
  return map;
}

/** Raster tiles of a time-window mosaic or of one scene. */
export function imageryTiles(src: { window: Window } | { scene: string }, mode: ImageryMode): string[] {
  if ('scene' in src)
    return [`${origin()}/tiles/scenes/${encodeURIComponent(src.scene)}/{z}/{x}/{y}.png${qs({ mode })}`];
  return [
    `${origin()}/tiles/mosaic/{z}/{x}/{y}.png${qs({ from: src.window.from, to: src.window.to, mode })}`,
  ];
}

const scenarioColor = (): maplibregl.ExpressionSpecification =>
  [
    'match',
    ['get', 'scenario'],
    ...Object.entries(SCENARIO_COLORS).flat(),
    '#e03131',
  ] as unknown as maplibregl.ExpressionSpecification;

const statusOpacity: maplibregl.ExpressionSpecification = [
  'match',
  ['get', 'status'],
  'new',
  0.55,
  'in_review',
  0.45,
  'field_check',
  0.45,
  'confirmed',
  0.7,
  'case_filed',
  0.75,
  'remediation_check',
  0.6,
  'closed',
  0.2,
  'dismissed',
  0.08,
  0.5,
];

export interface MainMap {
  map: maplibregl.Map;
  ready: Promise<void>;
  setImagery(win: Window | null, mode: ImageryMode): void;
  setClueFilters(f: Filters): void;
  refreshClues(): void;
  setLayers(l: UrlState['layers']): void;
  highlight(id: number | null): void;
  fit(b: [number, number, number, number], animate?: boolean): void;
  onClue(cb: (id: number) => void): void;
  drawRectangle(): Promise<GeoJSON.Polygon>;
  showAoi(g: GeoJSON.Geometry | null): void;
  bbox(): [number, number, number, number];
}

export function createMainMap(
  container: HTMLElement,
  st: UrlState,
  bounds: [number, number, number, number] | null,
): MainMap {
  const map = newMap(
    container,
    st.camera
      ? { center: [st.camera[0], st.camera[1]], zoom: st.camera[2] }
      : bounds
        ? { bounds: bounds as LngLatBoundsLike, fitBoundsOptions: { padding: 40, maxZoom: 15 } }
        : {},
  );
  (window as unknown as { __skypatrolMap: maplibregl.Map }).__skypatrolMap = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.addControl(
    new maplibregl.AttributionControl({
      compact: true,
      customAttribution: '天巡 Skypatrol · Copernicus Sentinel-2 · 审图号 GS(2024)0650号',
    }),
  );
  let clueVersion = 0;
  let filters = st.filters;
  let clickCb: ((id: number) => void) | null = null;
  let drawing = false;

  const clueTiles = () => [
    `${origin()}/tiles/clues/{z}/{x}/{y}.mvt${qs({ ...filterParams(filters), v: clueVersion || undefined })}`,
  ];
  /** Area and priority filters run in the client (the tiles carry area_mu and priority); clusters pass. */
  const clientFilter = (): unknown[] => {
    const all: unknown[] = ['all'];
    if (filters.minAreaMu !== null) all.push(['>=', ['to-number', ['get', 'area_mu'], 0], filters.minAreaMu]);
    if (filters.priority.length)
      all.push(['in', ['to-number', ['get', 'priority'], 0], ['literal', filters.priority]]);
    return ['any', ['to-boolean', ['get', 'cluster']], all];
  };
  const POLY = ['!=', ['geometry-type'], 'Point'];
  const POINT = ['==', ['geometry-type'], 'Point'];
  const DISMISSED = ['in', ['get', 'status'], ['literal', ['dismissed', 'closed']]];
  const layerFilters = (): Record<string, maplibregl.FilterSpecification> =>
    ({
      'clues-fill': ['all', POLY, clientFilter()],
      'clues-line': ['all', POLY, clientFilter()],
      'clues-dismissed': ['all', POLY, clientFilter(), DISMISSED],
      'clues-points': ['all', POINT, clientFilter()],
    }) as unknown as Record<string, maplibregl.FilterSpecification>;

  const ready = new Promise<void>((resolve) => {
    map.on('load', () => {
      map.addSource('imagery', { type: 'raster', tiles: [], tileSize: 256, minzoom: 8, maxzoom: 18 });
      map.addLayer({
        id: 'imagery',
        type: 'raster',
        source: 'imagery',
        paint: { 'raster-fade-duration': 0 },
      });
      map.addSource('zoning', {
        type: 'vector',
        tiles: [`${origin()}/tiles/zones/{z}/{x}/{y}.mvt?kind=${ZONING_KINDS}`],
        maxzoom: 14,
      });
      map.addLayer({
        id: 'zoning-fill',
        type: 'fill',
        source: 'zoning',
        'source-layer': 'zones',
        paint: {
          'fill-color': [
            'match',
            ['get', 'kind'],
            'temporary_land_permit',
            '#fab005',
            'mining_permit',
            '#c2255c',
            'forest_land',
            '#2b8a3e',
            'wetland_reserve',
            '#7048e8',
            'lake_protection_zone',
            '#1098ad',
            'river_management_area',
            '#1971c2',
            '#868e96',
          ],
          'fill-opacity': 0.15,
        },
      });
      map.addLayer({
        id: 'zoning-line',
        type: 'line',
        source: 'zoning',
        'source-layer': 'zones',
        paint: { 'line-color': '#495057', 'line-width': 1, 'line-dasharray': [3, 2] },
      });
      map.addSource('coverage', {
        type: 'vector',
        tiles: [`${origin()}/tiles/coverage/{z}/{x}/{y}.mvt`],
        maxzoom: 14,
      });
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
        tiles: [`${origin()}/tiles/zones/{z}/{x}/{y}.mvt?kind=admin_division`],
        maxzoom: 14,
        attribution: '县界 天地图',
      });
      map.addLayer({
        id: 'counties-line',
        type: 'line',
        source: 'counties',
        'source-layer': 'zones',
        paint: { 'line-color': '#5f3dc4', 'line-width': 1.5 },
      });
      map.addSource('clues', { type: 'vector', tiles: clueTiles(), maxzoom: 16 });
      map.addLayer({
        id: 'clues-fill',
        type: 'fill',
        source: 'clues',
        'source-layer': 'clues',
        filter: layerFilters()['clues-fill'],
        paint: { 'fill-color': scenarioColor(), 'fill-opacity': statusOpacity },
      });
      map.addLayer({
        id: 'clues-line',
        type: 'line',
        source: 'clues',
        'source-layer': 'clues',
        filter: layerFilters()['clues-line'],
        paint: {
          'line-color': scenarioColor(),
          'line-width': ['match', ['get', 'status'], ['confirmed', 'case_filed'], 2.5, 1.2],
        },
      });
      map.addLayer({
        id: 'clues-dismissed',
        type: 'line',
        source: 'clues',
        'source-layer': 'clues',
        filter: layerFilters()['clues-dismissed'],
        paint: { 'line-color': '#343a40', 'line-width': 1, 'line-dasharray': [2, 2] },
      });
      // Low zooms: the server sends points (one per clue) or clusters (count per cell).
      map.addLayer({
        id: 'clues-points',
        type: 'circle',
        source: 'clues',
        'source-layer': 'clues',
        filter: layerFilters()['clues-points'],
        paint: {
          'circle-color': ['case', ['to-boolean', ['get', 'cluster']], '#c92a2a', scenarioColor()],
          'circle-opacity': ['case', ['to-boolean', ['get', 'cluster']], 0.55, 0.85],
          'circle-radius': [
            'case',
            ['to-boolean', ['get', 'cluster']],
            ['interpolate', ['linear'], ['sqrt', ['to-number', ['get', 'count'], 1]], 1, 4, 40, 22],
            5,
          ],
          'circle-stroke-color': '#fff',
          'circle-stroke-width': 1,
        },
      });
      map.addLayer({
        id: 'clues-selected',
        type: 'line',
        source: 'clues',
        'source-layer': 'clues',
        filter: ['==', ['id'], -1],
        paint: { 'line-color': '#1c7ed6', 'line-width': 3.5 },
      });
      map.addLayer({
        id: 'clues-selected-pt',
        type: 'circle',
        source: 'clues',
        'source-layer': 'clues',
        filter: ['all', POINT, ['==', ['id'], -1]] as unknown as maplibregl.FilterSpecification,
        paint: {
          'circle-radius': 8,
          'circle-color': 'rgba(0,0,0,0)',
          'circle-stroke-color': '#1c7ed6',
          'circle-stroke-width': 3,
        },
      });
      map.addSource('aoi', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      map.addLayer({
        id: 'aoi-line',
        type: 'line',
        source: 'aoi',
        paint: { 'line-color': '#f03e3e', 'line-width': 2, 'line-dasharray': [4, 2] },
      });
      map.on('click', 'clues-fill', (e) => {
        if (drawing) return;
        const f = e.features?.[0] as MapGeoJSONFeature | undefined;
        const id = Number(f?.id);
        if (Number.isFinite(id)) clickCb?.(id);
      });
      map.on('click', 'clues-points', (e) => {
        if (drawing) return;
        const f = e.features?.[0] as MapGeoJSONFeature | undefined;
        if (!f) return;
        if (f.properties?.cluster) map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, 16) });
        else if (Number.isFinite(Number(f.id))) clickCb?.(Number(f.id));
      });
      for (const id of ['clues-fill', 'clues-points'])
        map.on('mouseenter', id, () => {
          map.getCanvas().style.cursor = 'pointer';
        });
      for (const id of ['clues-fill', 'clues-points'])
        map.on('mouseleave', id, () => {
          map.getCanvas().style.cursor = drawing ? 'crosshair' : '';
        });
      resolve();
    });
  });

  const setClueTiles = () => {
    const src = map.getSource('clues') as maplibregl.VectorTileSource | undefined;
    src?.setTiles(clueTiles());
  };

  return {
    map,
    ready,
    setImagery(win, mode) {
      void ready.then(() => {
        const src = map.getSource('imagery') as maplibregl.RasterTileSource;
        src.setTiles(win ? imageryTiles({ window: win }, mode) : []);
        map.setLayoutProperty('imagery', 'visibility', win ? 'visible' : 'none');
      });
    },
    setClueFilters(f) {
      filters = f;
      void ready.then(() => {
        setClueTiles();
        for (const [id, f] of Object.entries(layerFilters())) map.setFilter(id, f);
      });
    },
    refreshClues() {
      clueVersion++;
      void ready.then(setClueTiles);
    },
    setLayers(l) {
      void ready.then(() => {
        const vis = (ids: string[], on: boolean) => {
          for (const id of ids) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
        };
        vis(['coverage-fill', 'coverage-line'], l.coverage);
        vis(['counties-line'], l.counties);
        vis(['zoning-fill', 'zoning-line'], l.zoning);
        vis(
          [
            'clues-fill',
            'clues-line',
            'clues-dismissed',
            'clues-points',
            'clues-selected',
            'clues-selected-pt',
          ],
          l.clues,
        );
      });
    },
    highlight(id) {
      void ready.then(() => {
        map.setFilter('clues-selected', [
          'all',
          POLY,
          ['==', ['id'], id ?? -1],
        ] as unknown as maplibregl.FilterSpecification);
        map.setFilter('clues-selected-pt', [
          'all',
          POINT,
          ['==', ['id'], id ?? -1],
        ] as unknown as maplibregl.FilterSpecification);
      });
    },
    fit(b, animate = true) {
      map.fitBounds(b as LngLatBoundsLike, { padding: 80, maxZoom: 15, duration: animate ? 300 : 0 });
    },
    onClue(cb) {
      clickCb = cb;
    },
    drawRectangle() {
      drawing = true;
      map.getCanvas().style.cursor = 'crosshair';
      return new Promise((resolve) => {
        let first: maplibregl.LngLat | null = null;
        const onClick = (e: maplibregl.MapMouseEvent) => {
          if (!first) {
            first = e.lngLat;
            return;
          }
          const a = first;
          const b = e.lngLat;
          map.off('click', onClick);
          drawing = false;
          map.getCanvas().style.cursor = '';
          const [w, e2] = [Math.min(a.lng, b.lng), Math.max(a.lng, b.lng)];
          const [s, n] = [Math.min(a.lat, b.lat), Math.max(a.lat, b.lat)];
          resolve({
            type: 'Polygon',
            coordinates: [
              [
                [w, s],
                [e2, s],
                [e2, n],
                [w, n],
                [w, s],
              ],
            ],
          });
        };
        map.on('click', onClick);
      });
    },
    showAoi(g) {
      void ready.then(() =>
        (map.getSource('aoi') as maplibregl.GeoJSONSource).setData(
          g ? { type: 'Feature', geometry: g, properties: {} } : { type: 'FeatureCollection', features: [] },
        ),
      );
    },
    bbox() {
      const b = map.getBounds();
      const c = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
      return [
        c(b.getWest(), -180, 180),
        c(b.getSouth(), -90, 90),
        c(b.getEast(), -180, 180),
        c(b.getNorth(), -90, 90),
      ];
    },
  };
}

export type ImagerySource = { window: Window } | { scene: string };

export interface Compare {
  setMode(mode: 'swipe' | 'side'): void;
  destroy(): void;
  maps: [maplibregl.Map, maplibregl.Map];
  ready: Promise<void>;
}

/**
 * Before/after comparison of one clue: two synced maps, either side by side or stacked with
 * the after map clipped at a draggable divider (swipe).
 */
export function createCompare(
  root: HTMLElement,
  clue: GeoJSON.Feature,
  bbox: [number, number, number, number],
  before: ImagerySource,
  after: ImagerySource,
  mode: ImageryMode,
  initial: 'swipe' | 'side',
): Compare {
  root.replaceChildren();
  root.className = `compare ${initial}`;
  const a = document.createElement('div');
  a.className = 'compare-map compare-before';
  const b = document.createElement('div');
  b.className = 'compare-map compare-after';
  const divider = document.createElement('div');
  divider.className = 'compare-divider';
  divider.setAttribute('role', 'slider');
  divider.setAttribute('aria-label', 'swipe');
  divider.tabIndex = 0;
  root.append(a, b, divider);
  let pos = 50;
  const bounds = bbox as LngLatBoundsLike;
  const opts = { bounds, fitBoundsOptions: { padding: 40, maxZoom: 16 } } as Partial<maplibregl.MapOptions>;
  const m1 = newMap(a, opts);
  const m2 = newMap(b, opts);
  const setup = (m: maplibregl.Map, src: ImagerySource) =>
    new Promise<void>((resolve) =>
      m.on('load', () => {
        m.addSource('img', {
          type: 'raster',
          tiles: imageryTiles(src, mode),
          tileSize: 256,
          minzoom: 6,
          maxzoom: 18,
        });
        m.addLayer({ id: 'img', type: 'raster', source: 'img', paint: { 'raster-fade-duration': 0 } });
        m.addSource('clue', { type: 'geojson', data: clue });
        m.addLayer({
          id: 'clue',
          type: 'line',
          source: 'clue',
          paint: { 'line-color': '#ffd43b', 'line-width': 2 },
        });
        resolve();
      }),
    );
  // Camera sync both ways, guarded against ping-pong.
  let syncing = false;
  const sync = (from: maplibregl.Map, to: maplibregl.Map) => () => {
    if (syncing) return;
    syncing = true;
    to.jumpTo({
      center: from.getCenter(),
      zoom: from.getZoom(),
      bearing: from.getBearing(),
      pitch: from.getPitch(),
    });
    syncing = false;
  };
  m1.on('move', sync(m1, m2));
  m2.on('move', sync(m2, m1));

  const clip = () => {
    if (root.classList.contains('swipe')) {
      b.style.clipPath = `inset(0 0 0 ${pos}%)`;
      divider.style.left = `${pos}%`;
    } else b.style.clipPath = '';
  };
  const drag = (clientX: number) => {
    const r = root.getBoundingClientRect();
    pos = Math.max(0, Math.min(100, ((clientX - r.left) / r.width) * 100));
    clip();
  };
  divider.addEventListener('pointerdown', (e) => {
    divider.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => drag(ev.clientX);
    const up = () => {
      divider.removeEventListener('pointermove', move);
      divider.removeEventListener('pointerup', up);
    };
    divider.addEventListener('pointermove', move);
    divider.addEventListener('pointerup', up);
  });
  divider.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.stopPropagation();
      pos = Math.max(0, Math.min(100, pos + (e.key === 'ArrowLeft' ? -5 : 5)));
      clip();
    }
  });
  clip();
  const ready = Promise.all([setup(m1, before), setup(m2, after)]).then(() => undefined);
  return {
    maps: [m1, m2],
    ready,
    setMode(mode2) {
      root.className = `compare ${mode2}`;
      clip();
      m1.resize();
      m2.resize();
      sync(m1, m2)();
    },
    destroy() {
      m1.remove();
      m2.remove();
      root.replaceChildren();
    },
  };
}
