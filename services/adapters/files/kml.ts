/**
 * KML 2.2 for clue exports: one Placemark per clue with its polygon(s) and a Chinese name and
 * description, plus the attributes as ExtendedData (Google Earth, 奥维 Ovital, QGIS).
 */

export interface KmlClue {
  id: number;
  scenario: string;
  status: string;
  confidence: number;
  area_m2: number;
  area_ha: number;
  area_mu: number;
  first_seen: string;
  last_seen: string;
  county: string | null;
  /** GeoJSON MultiPolygon or Polygon in EPSG:4326. */
  geometry: { type: string; coordinates: unknown };
}

export const SCENARIO_ZH: Record<string, string> = {
  'temporary-land': '临时用地未复垦',
  'forest-encroachment': '林地侵占',
  'black-soil': '破坏黑土地',
  river: '河道破坏',
  grassland: '草原破坏',
  'hulun-lake': '呼伦湖生态破坏',
  wetland: '湿地破坏',
  mine: '矿山破坏',
  change: '地表变化',
};

export const STATUS_ZH: Record<string, string> = {
  new: '新线索',
  in_review: '审查中',
  field_check: '现场核查',
  confirmed: '已确认',
  case_filed: '已立案',
  remediation_check: '整改复查',
  closed: '已办结',
  dismissed: '已排除',
};

/** XML text and attribute escaping; drops characters XML 1.0 forbids. */
export function xmlEscape(s: string): string {
  let clean = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (
      c === 0x9 ||
      c === 0xa ||
      c === 0xd ||
      (c >= 0x20 && c <= 0xd7ff) ||
      (c >= 0xe000 && c <= 0xfffd) ||
      c >= 0x10000
    )
      clean += ch;
  }
  return clean
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

type Ring = [number, number][];

function ringKml(ring: Ring): string {
  return `<LinearRing><coordinates>${ring.map(([x, y]) => `${x},${y}`).join(' ')}</coordinates></LinearRing>`;
}

function polygonKml(rings: Ring[]): string {
  const [outer, ...inner] = rings;
  if (!outer) return '';
  return `<Polygon><outerBoundaryIs>${ringKml(outer)}</outerBoundaryIs>${inner
    .map((r) => `<innerBoundaryIs>${ringKml(r)}</innerBoundaryIs>`)
    .join('')}</Polygon>`;
}

export function geometryKml(g: KmlClue['geometry']): string {
  if (g.type === 'Polygon') return polygonKml(g.coordinates as Ring[]);
  if (g.type === 'MultiPolygon') {
    const polys = g.coordinates as Ring[][];
    if (polys.length === 1) return polygonKml(polys[0]!);
    return `<MultiGeometry>${polys.map(polygonKml).join('')}</MultiGeometry>`;
  }
  throw new RangeError(`KML export: unsupported geometry ${g.type}`);
}

const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '');

export function clueName(c: KmlClue): string {
  return `线索 ${c.id} · ${SCENARIO_ZH[c.scenario] ?? c.scenario}`;
}

export function clueDescription(c: KmlClue): string {
  return [
    `场景：${SCENARIO_ZH[c.scenario] ?? c.scenario}`,
    `状态：${STATUS_ZH[c.status] ?? c.status}`,
    `置信度：${fmt(c.confidence, 2)}`,
    `面积：${fmt(c.area_mu, 2)} 亩（${fmt(c.area_ha, 4)} 公顷，${fmt(c.area_m2, 1)} 平方米）`,
    `首次发现：${c.first_seen}`,
    `最近发现：${c.last_seen}`,
    ...(c.county ? [`所属区县：${c.county}`] : []),
  ].join('\n');
}

/** A complete KML document for the clues. */
export function cluesToKml(clues: KmlClue[], title = '天巡线索导出'): string {
  const style =
    '<Style id="clue"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle>' +
    '<PolyStyle><color>400000ff</color></PolyStyle></Style>';
  const placemarks = clues.map((c) => {
    const data: [string, string][] = [
      ['id', String(c.id)],
      ['scenario', c.scenario],
      ['status', c.status],
      ['confidence', String(c.confidence)],
      ['area_m2', String(c.area_m2)],
      ['area_ha', String(c.area_ha)],
      ['area_mu', String(c.area_mu)],
      ['first_seen', c.first_seen],
      ['last_seen', c.last_seen],
      ['county', c.county ?? ''],
    ];
    return (
      `<Placemark id="clue-${c.id}"><name>${xmlEscape(clueName(c))}</name>` +
      `<description>${xmlEscape(clueDescription(c))}</description><styleUrl>#clue</styleUrl>` +
      `<ExtendedData>${data
        .map(([k, v]) => `<Data name="${k}"><value>${xmlEscape(v)}</value></Data>`)
        .join('')}</ExtendedData>${geometryKml(c.geometry)}</Placemark>`
    );
  });
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>${xmlEscape(title)}</name>${style}\n` +
    `${placemarks.join('\n')}\n</Document></kml>\n`
  );
}

/**
 * A navigation KML for one clue (inspection packets): the polygon, and point placemarks for
 * its centre and, when the centroid lies outside the polygon, a point inside it.
 */
export function clueNavigationKml(
  c: KmlClue,
  points: { name: string; lon: number; lat: number; description?: string }[],
): string {
  const style =
    '<Style id="clue"><LineStyle><color>ff0000ff</color><width>3</width></LineStyle>' +
    '<PolyStyle><color>300000ff</color></PolyStyle></Style>' +
    '<Style id="point"><IconStyle><color>ff0000ff</color></IconStyle></Style>';
  const polygon =
    `<Placemark id="clue-${c.id}"><name>${xmlEscape(clueName(c))}</name>` +
    `<description>${xmlEscape(clueDescription(c))}</description><styleUrl>#clue</styleUrl>` +
    `${geometryKml(c.geometry)}</Placemark>`;
  const marks = points.map(
    (p, i) =>
      `<Placemark id="clue-${c.id}-point-${i + 1}"><name>${xmlEscape(p.name)}</name>` +
      `${p.description ? `<description>${xmlEscape(p.description)}</description>` : ''}` +
      `<styleUrl>#point</styleUrl><Point><coordinates>${p.lon.toFixed(7)},${p.lat.toFixed(7)}</coordinates></Point></Placemark>`,
  );
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>${xmlEscape(clueName(c))}</name>${style}\n` +
    `${polygon}\n${marks.join('\n')}\n</Document></kml>\n`
  );
}
