import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import { toGpx } from '../../services/adapters/files/gpx.ts';
import { clueNavigationKml } from '../../services/adapters/files/kml.ts';
import {
  type Block,
  clueNumber,
  type PacketFacts,
  packetDocument,
} from '../../services/domain/packets/document.ts';
import { legalBasisFor } from '../../services/domain/packets/scenarios.ts';

const ring = [
  [117.7, 49.3],
  [117.701, 49.3],
  [117.701, 49.301],
  [117.7, 49.301],
  [117.7, 49.3],
];

function facts(over: Partial<PacketFacts['clue']> = {}): PacketFacts {
  return {
    clue: {
      id: 42,
      scenario: 'mine',
      status: 'dismissed',
      dismissReason: 'lawful_or_permitted',
      confidence: 0.87654,
      priority: 2,
      areaM2: 8123.456,
      areaHa: 0.8123456,
      areaMu: 12.1851,
      firstSeen: '2024-06-30',
      lastSeen: '2025-08-19',
      detector: 'mine',
      modelVersion: '1.2.3',
      modelSha256: 'a'.repeat(64),
      runId: null,
      coords: [[ring]],
      centroid: [117.7005, 49.3005],
      centroidInside: true,
      pointOnSurface: [117.7005, 49.3005],
      ...over,
    },
    county: { name: '满洲里市', adcode: '150781' },
    township: null,
    zones: [
      {
        kind: 'mining_permit',
        properties: { permit_no: 'C150720160079', holder: '某矿业公司', valid_to: '2027-12-31' },
        overlapM2: 100.04,
      },
    ],
    events: [],
    detector: { nameZh: '矿场', nameEn: 'Mines', legalBasis: [], currentModelSha256: 'b'.repeat(64) },
    before: null,
    after: null,
    beforeNote: 'no catalogued scene',
    afterNote: null,
    overview: null,
    custody: {
      recorded: 'at_packet_time',
      scenes: {},
      unavailable: [{ sceneId: 'S2X', reason: 'not in the scene catalog' }],
      model: { detector: 'mine', version: '1.2.3', sha256: 'a'.repeat(64) },
    },
    url: 'http://localhost:8080/#clue=42',
    generatedAt: new Date('2026-11-28T16:00:00Z'),
    generatedBy: 'test',
    files: ['clue-42.pdf'],
  };
}

const text = (blocks: Block[]) => JSON.stringify(blocks);

describe('packet document', () => {
  it('prints the numbers in the agreed forms, zh-CN first', () => {
    const d = packetDocument(facts());
    expect(d.clueNo).toBe('000042');
    expect(clueNumber(1234567)).toBe('1234567');
    const fields = d.blocks.find((b) => b.type === 'fields') as Extract<Block, { type: 'fields' }>;
    const get = (prefix: string) => fields.rows.find(([l]) => l.startsWith(prefix))![1];
    expect(get('面积')).toBe('8123.5 平方米 m²；0.8123 公顷 ha；12.19 亩 mu');
    expect(get('置信度')).toBe('0.877');
    expect(get('中心点 Centroid（十进制')).toBe('49.300500°N, 117.700500°E');
    expect(get('中心点 Centroid（度分秒')).toBe('49°18′01.80″N, 117°42′01.80″E');
    expect(get('状态')).toContain('已排除 dismissed');
    expect(get('状态')).toContain('合法或已许可');
    expect(get('所在乡镇')).toContain('未导入乡镇级区划');
    expect(d.footer).toContain('2026-11-29 00:00 (UTC+8)');
  });

  it('falls back to the laws usually cited and says so; a manifest list wins', () => {
    const t = text(packetDocument(facts()).blocks);
    expect(t).toContain('矿产资源法');
    expect(t).toContain('刑法》第三百四十三条');
    expect(legalBasisFor('mine', ['《某条例》'])).toEqual({ items: ['《某条例》'], source: 'detector' });
    expect(legalBasisFor('change', [])).toEqual({ items: [], source: 'none' });
  });

  it('names the scenarios also concerned and the laws usually cited for them, only when there are some', () => {
    const d = packetDocument(facts({ scenario: 'river', alsoScenarios: ['wetland'] }));
    const fields = d.blocks.find((b) => b.type === 'fields') as Extract<Block, { type: 'fields' }>;
    expect(fields.rows.filter(([l]) => l.startsWith('同时涉及')).map(([, v]) => v)).toEqual([
      '湿地保护 Wetland protection',
    ]);
    const legal = d.blocks.find(
      (b) => b.type === 'list' && b.items.some((i) => i.includes('湿地保护法')),
    ) as Extract<Block, { type: 'list' }>;
    expect(legal.items.filter((i) => i.startsWith('（湿地保护 Wetland protection）')).length).toBeGreaterThan(
      0,
    );
    const plain = packetDocument(facts());
    expect(text(plain.blocks)).not.toContain('同时涉及');
  });

  it('lists zoning, custody provenance, the changed model and unavailable scenes', () => {
    const t = text(packetDocument(facts()).blocks);
    expect(t).toContain('C150720160079');
    expect(t).toContain('某矿业公司');
    expect(t).toContain('至 valid to 2027-12-31');
    expect(t).toContain('生成核查包时记录');
    expect(t).toContain(`当前检测器模型已不同 the detector's current model differs: ${'b'.repeat(64)}`);
    expect(t).toContain('S2X — not in the scene catalog');
    expect(t).toContain('影像不可用 Imagery unavailable：no catalogued scene');
  });

  it('adds a navigation point inside the polygon when the centroid lies outside', () => {
    const d = packetDocument(facts({ centroidInside: false, pointOnSurface: [117.7001, 49.3001] }));
    expect(text(d.blocks)).toContain('图斑内导航点 Point inside');
  });
});

describe('navigation files', () => {
  const parse = (xml: string) =>
    new DOMParser({
      onError: (level, msg) => {
        if (level !== 'warning') throw new Error(msg);
      },
    }).parseFromString(xml, 'text/xml');

  it('GPX: a waypoint and the boundary as a closed track, escaped names', () => {
    const xml = toGpx({
      name: '线索 <42> & "矿"',
      waypoints: [{ lon: 117.7005, lat: 49.3005, name: '中心点' }],
      track: { name: '边界', rings: [ring] },
    });
    const doc = parse(xml);
    expect(doc.getElementsByTagName('name')[0]!.textContent).toBe('线索 <42> & "矿"');
    const w = doc.getElementsByTagName('wpt')[0]!;
    expect([w.getAttribute('lat'), w.getAttribute('lon')]).toEqual(['49.3005000', '117.7005000']);
    const pts = Array.from(doc.getElementsByTagName('trkpt'));
    expect(pts).toHaveLength(5);
    expect(pts[0]!.getAttribute('lon')).toBe(pts[4]!.getAttribute('lon'));
  });

  it('KML: the polygon and point placemarks', () => {
    const xml = clueNavigationKml(
      {
        id: 42,
        scenario: 'mine',
        status: 'new',
        confidence: 0.9,
        area_m2: 1,
        area_ha: 0.0001,
        area_mu: 0.0015,
        first_seen: '2024-06-30',
        last_seen: '2025-08-19',
        county: null,
        geometry: { type: 'MultiPolygon', coordinates: [[ring]] },
      },
      [{ name: '中心点', lon: 117.7005, lat: 49.3005 }],
    );
    const doc = parse(xml);
    expect(doc.getElementsByTagName('Placemark')).toHaveLength(2);
    expect(doc.getElementsByTagName('Point')[0]!.textContent).toBe('117.7005000,49.3005000');
    expect(doc.getElementsByTagName('LinearRing')).toHaveLength(1);
  });
});
