import {
  DATUM_NOTE,
  formatLatLon,
  formatLatLonDms,
  type LonLat,
  polygonVertices,
  toDecimal,
  toDms,
} from './coordinates.ts';
import type { PacketCustody } from './manifest.ts';
import {
  DISMISS_NAMES,
  EVENT_KIND_NAMES,
  legalBasisFor,
  STATUS_NAMES,
  scenarioInfo,
  ZONE_KIND_NAMES,
} from './scenarios.ts';

/**
 * The inspection packet as a document: every line of text it prints, zh-CN first and English
 * second, in blocks a renderer lays out (the PDF adapter). Pure: facts in, blocks out, so what
 * the packet says is testable without drawing it.
 */

export interface SceneFacts {
  id: string;
  sensor: string;
  platform: string | null;
  datetime: Date;
  cloudCover: number | null;
}

export interface PictureFacts {
  scene: SceneFacts;
  clearFraction: number;
  sideM: number;
  resolutionM: number;
}

export interface PacketFacts {
  clue: {
    id: number;
    scenario: string;
    status: string;
    dismissReason: string | null;
    confidence: number;
    priority: number;
    areaM2: number;
    areaHa: number;
    areaMu: number;
    firstSeen: string;
    lastSeen: string;
    detector: string;
    modelVersion: string;
    modelSha256: string | null;
    runId: string | null;
    coords: number[][][][];
    centroid: LonLat;
    centroidInside: boolean;
    pointOnSurface: LonLat;
    /** Other scenarios whose detectors found the same site (folded into this clue). */
    alsoScenarios?: string[];
  };
  county: { name: string; adcode: string | null } | null;
  township: { name: string; adcode: string | null } | null;
  zones: { kind: string; properties: Record<string, unknown>; overlapM2: number }[];
  events: {
    at: Date;
    actor: string;
    kind: string;
    fromStatus: string | null;
    toStatus: string | null;
    reason: string | null;
    comment: string | null;
  }[];
  detector: {
    nameZh: string | null;
    nameEn: string | null;
    legalBasis: string[] | null;
    currentModelSha256: string | null;
  };
  before: PictureFacts | null;
  after: PictureFacts | null;
  beforeNote: string | null;
  afterNote: string | null;
  overview: PictureFacts | null;
  custody: PacketCustody;
  url: string;
  generatedAt: Date;
  generatedBy: string;
  files: string[];
}

export type Block =
  | { type: 'heading'; text: string }
  | { type: 'fields'; rows: [string, string][] }
  | { type: 'paragraph'; text: string; small?: boolean; mono?: boolean }
  | { type: 'list'; items: string[]; small?: boolean }
  | { type: 'table'; columns: { title: string; width: number }[]; rows: string[][]; small?: boolean }
  | { type: 'pictures'; items: { image: 'before' | 'after'; caption: string[] }[] }
  | { type: 'overview'; caption: string[] }
  | { type: 'checklist'; items: string[] }
  | { type: 'signatures'; lines: string[] }
  | { type: 'pageBreak' };

export interface PacketDocument {
  title: string;
  subtitle: string;
  clueNo: string;
  url: string;
  qrCaption: string;
  footer: string;
  blocks: Block[];
}

/** Printed forms of the numbers (tests compare these against the database). */
export const fmt = {
  m2: (v: number) => v.toFixed(1),
  ha: (v: number) => v.toFixed(4),
  mu: (v: number) => v.toFixed(2),
  confidence: (v: number) => v.toFixed(3),
  percent: (v: number) => `${(v * 100).toFixed(0)}%`,
};

/** Clue number as printed: zero-padded to six digits ("线索编号 000123"). */
export function clueNumber(id: number): string {
  return String(id).padStart(6, '0');
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** Date-time in China Standard Time (UTC+8), which field teams and prosecutors use. */
export function cst(d: Date): string {
  const t = new Date(d.getTime() + 8 * 3600_000);
  return `${t.getUTCFullYear()}-${pad2(t.getUTCMonth() + 1)}-${pad2(t.getUTCDate())} ${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())} (UTC+8)`;
}
function dateOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function sceneLine(p: PictureFacts): string {
  const s = p.scene;
  const cloud = s.cloudCover === null ? '' : `，全景云量 cloud ${s.cloudCover.toFixed(0)}%`;
  return `${dateOf(s.datetime)} · ${s.platform ?? s.sensor}（${s.sensor}）${cloud}`;
}

function pictureCaption(label: string, p: PictureFacts | null, note: string | null): string[] {
  if (!p) return [label, `影像不可用 Imagery unavailable${note ? `：${note}` : ''}`];
  return [
    `${label}：${sceneLine(p)}`,
    `景号 Scene ${p.scene.id}`,
    `范围 ${Math.round(p.sideM)} m × ${Math.round(p.sideM)} m，像元 ${p.resolutionM.toFixed(1)} m/px；周边晴空 clear ${fmt.percent(p.clearFraction)}`,
  ];
}

const VERTEX_LIMIT = 120;

function zoneName(z: PacketFacts['zones'][number]): string {
  const p = z.properties;
  return String(p.permit_no ?? p.name ?? p.code ?? '—');
}
function zoneDeadlines(z: PacketFacts['zones'][number]): string {
  const p = z.properties;
  const parts: string[] = [];
  if (p.valid_from) parts.push(`起 from ${p.valid_from}`);
  if (p.valid_to) parts.push(`至 valid to ${p.valid_to}`);
  if (p.reclaim_by) parts.push(`复垦期限 reclaim by ${p.reclaim_by}`);
  if (p.level) parts.push(`级别 level ${p.level}`);
  return parts.join('；') || '—';
}

/** The whole packet as blocks of text. */
export function packetDocument(f: PacketFacts): PacketDocument {
  const c = f.clue;
  const sc = scenarioInfo(c.scenario);
  const status = STATUS_NAMES[c.status] ?? { zh: c.status, en: c.status };
  const dismissed = c.dismissReason ? DISMISS_NAMES[c.dismissReason] : null;
  const legal = legalBasisFor(c.scenario, f.detector.legalBasis);
  // A site other scenarios' detectors found too: their scenarios, and the laws usually cited for them.
  const also = (c.alsoScenarios ?? []).map((id) => ({ ...scenarioInfo(id), id }));
  const alsoLegal = also.flatMap((a) =>
    legalBasisFor(a.id, null).items.map((item) => `（${a.zh} ${a.en}）${item}`),
  );
  const no = clueNumber(c.id);
  const blocks: Block[] = [];

  blocks.push({
    type: 'fields',
    rows: [
      ['线索编号 Clue No.', `${no}（ID ${c.id}）`],
      ['场景 Scenario', `${sc.zh} ${sc.en}`],
      ...also.map((a): [string, string] => ['同时涉及 Also concerns', `${a.zh} ${a.en}`]),
      [
        '状态 Status',
        `${status.zh} ${status.en}${dismissed ? `（排除理由 reason：${dismissed.zh} ${dismissed.en}）` : ''}；优先级 priority ${c.priority}`,
      ],
      [
        '所在区县 County/banner',
        f.county
          ? `${f.county.name}（行政区划代码 adcode ${f.county.adcode ?? '—'}）`
          : '不在已导入的行政区划内 outside the imported divisions',
      ],
      [
        '所在乡镇 Township',
        f.township
          ? `${f.township.name}（${f.township.adcode ?? '—'}）`
          : '未导入乡镇级区划 no township layer imported — 现场确认 confirm on site',
      ],
      ['中心点 Centroid（十进制 decimal）', formatLatLon(c.centroid)],
      ['中心点 Centroid（度分秒 DMS）', formatLatLonDms(c.centroid)],
      ...(!c.centroidInside
        ? ([
            [
              '图斑内导航点 Point inside',
              `${formatLatLon(c.pointOnSurface)}；${formatLatLonDms(c.pointOnSurface)}（中心点落在图斑外 centroid lies outside the polygon）`,
            ],
          ] as [string, string][])
        : []),
      ['面积 Area', `${fmt.m2(c.areaM2)} 平方米 m²；${fmt.ha(c.areaHa)} 公顷 ha；${fmt.mu(c.areaMu)} 亩 mu`],
      ['发现时间 Seen', `首次 first ${c.firstSeen}；最近 last ${c.lastSeen}`],
      [
        '检测器 Detector',
        `${c.detector}${f.detector.nameZh ? `（${f.detector.nameZh} ${f.detector.nameEn ?? ''}）`.replace(' ）', '）') : ''}`,
      ],
      ['模型版本 Model version', c.modelVersion],
      ['置信度 Confidence', fmt.confidence(c.confidence)],
    ],
  });
  blocks.push({ type: 'paragraph', text: `${DATUM_NOTE.zh}。${DATUM_NOTE.en}.`, small: true });
  blocks.push({ type: 'heading', text: '位置概览 Overview map' });
  blocks.push({
    type: 'overview',
    caption: f.overview
      ? [
          `周边影像 Surroundings：${sceneLine(f.overview)}；红框 red = 线索 clue，黄虚线 yellow dashed = 行政区界 county boundary，青线 cyan = 规划/许可图斑 zoning`,
          `右 Right：所在区县轮廓与位置 county outline with the clue marked`,
        ]
      : [
          '周边影像不可用 Surroundings imagery unavailable',
          '右 Right：所在区县轮廓与位置 county outline with the clue marked',
        ],
  });

  blocks.push({ type: 'pageBreak' });
  blocks.push({ type: 'heading', text: '前后影像对比 Before / after imagery' });
  blocks.push({
    type: 'pictures',
    items: [
      { image: 'before', caption: pictureCaption('前时相 Before', f.before, f.beforeNote) },
      { image: 'after', caption: pictureCaption('后时相 After', f.after, f.afterNote) },
    ],
  });
  blocks.push({
    type: 'paragraph',
    text: '真彩色合成（红、绿、蓝波段），由原始 COG 影像直接渲染，红线为线索边界。True colour (red, green, blue) rendered from the original COGs; the red line is the clue boundary.',
    small: true,
  });
  blocks.push({ type: 'heading', text: '法律依据 Legal basis' });
  if (legal.items.length)
    blocks.push({
      type: 'list',
      items: [
        ...legal.items,
        legal.source === 'detector'
          ? '（来源：检测器清单 source: detector manifest）'
          : '（来源：该场景常引用的法律，以办案检察官认定为准 source: laws usually cited for this scenario; the prosecutor decides）',
        ...(alsoLegal.length
          ? [
              ...alsoLegal,
              '（同时涉及的场景常引用的法律，以办案检察官认定为准 laws usually cited for the scenarios also concerned; the prosecutor decides）',
            ]
          : []),
      ],
    });
  else
    blocks.push({
      type: 'paragraph',
      text: '通用变化检测线索，未对应特定法规；请结合涉及的规划/许可图斑认定。A general change clue with no specific law; decide with the zoning it overlaps.',
    });
  blocks.push({ type: 'heading', text: '涉及规划/许可图斑 Overlapping zoning' });
  if (f.zones.length)
    blocks.push({
      type: 'table',
      columns: [
        { title: '类型 Kind', width: 0.22 },
        { title: '许可证号/名称 Permit / name', width: 0.26 },
        { title: '持有人 Holder', width: 0.18 },
        { title: '期限 Deadlines', width: 0.22 },
        { title: '重叠 Overlap m²', width: 0.12 },
      ],
      rows: f.zones.map((z) => {
        const k = ZONE_KIND_NAMES[z.kind] ?? { zh: z.kind, en: z.kind };
        return [
          `${k.zh} ${k.en}`,
          zoneName(z),
          String(z.properties.holder ?? '—'),
          zoneDeadlines(z),
          fmt.m2(z.overlapM2),
        ];
      }),
    });
  else
    blocks.push({
      type: 'paragraph',
      text: '未与已导入的规划/许可图斑相交。Overlaps none of the imported zoning layers.',
    });

  blocks.push({ type: 'pageBreak' });
  const vertices = polygonVertices(c.coords);
  blocks.push({ type: 'heading', text: `拐点坐标 Vertices（${vertices.length} 个 points，WGS84/CGCS2000）` });
  const shown = vertices.slice(0, VERTEX_LIMIT);
  const multi = c.coords.length > 1 || c.coords.some((p) => p.length > 1);
  blocks.push({
    type: 'table',
    small: true,
    columns: [
      { title: '点号 No.', width: 0.1 },
      { title: '经度 Lon', width: 0.17 },
      { title: '纬度 Lat', width: 0.17 },
      { title: '经度 Lon DMS', width: 0.2 },
      { title: '纬度 Lat DMS', width: 0.2 },
      { title: multi ? '部分/环 Part/ring' : '', width: 0.16 },
    ],
    rows: shown.map((v) => [
      String(v.no),
      toDecimal(v.lon),
      toDecimal(v.lat),
      toDms(v.lon, 'lon'),
      toDms(v.lat, 'lat'),
      multi ? `${v.part}/${v.ring}${v.ring > 1 ? ' 洞 hole' : ''}` : '',
    ]),
  });
  if (vertices.length > VERTEX_LIMIT)
    blocks.push({
      type: 'paragraph',
      text: `仅列出前 ${VERTEX_LIMIT} 个拐点，全部 ${vertices.length} 个见 GeoJSON/KML/GPX 文件。Only the first ${VERTEX_LIMIT} of ${vertices.length} vertices are listed; all are in the GeoJSON/KML/GPX files.`,
      small: true,
    });

  blocks.push({ type: 'heading', text: '审查记录 Review history' });
  blocks.push({
    type: 'table',
    small: true,
    columns: [
      { title: '时间 Time', width: 0.22 },
      { title: '操作人 Actor', width: 0.15 },
      { title: '事项 Event', width: 0.15 },
      { title: '状态 Status', width: 0.2 },
      { title: '说明 Note', width: 0.28 },
    ],
    rows: f.events.map((e) => {
      const k = EVENT_KIND_NAMES[e.kind] ?? { zh: e.kind, en: e.kind };
      const st = (s: string | null) => (s ? (STATUS_NAMES[s]?.zh ?? s) : '');
      const reason = e.reason ? (DISMISS_NAMES[e.reason]?.zh ?? e.reason) : '';
      return [
        cst(e.at),
        e.actor,
        `${k.zh} ${k.en}`,
        e.fromStatus || e.toStatus ? `${st(e.fromStatus)}→${st(e.toStatus)}` : '',
        [reason, e.comment ?? ''].filter(Boolean).join('；'),
      ];
    }),
  });

  blocks.push({ type: 'pageBreak' });
  blocks.push({ type: 'heading', text: '证据链 Chain of custody (SHA-256)' });
  const cu = f.custody;
  blocks.push({
    type: 'paragraph',
    text:
      cu.recorded === 'at_detection'
        ? '输入影像哈希于检测时记录。Input scene hashes recorded when the clue was detected.'
        : '输入影像哈希于生成核查包时记录（检测时未记录）。Input scene hashes recorded at packet time (none were recorded at detection).',
  });
  const modelLine = `模型 Model ${c.detector} ${c.modelVersion}：${c.modelSha256 ?? '检测时未记录 not recorded'}`;
  const modelNote =
    c.modelSha256 && f.detector.currentModelSha256 && f.detector.currentModelSha256 !== c.modelSha256
      ? `（当前检测器模型已不同 the detector's current model differs: ${f.detector.currentModelSha256}）`
      : '';
  blocks.push({ type: 'paragraph', text: modelLine + modelNote, small: true, mono: true });
  const custodyRows: string[][] = [];
  for (const [scene, assets] of Object.entries(cu.scenes).sort(([a], [b]) => (a < b ? -1 : 1)))
    for (const [key, a] of Object.entries(assets).sort(([x], [y]) => (x < y ? -1 : 1)))
      custodyRows.push([scene, key, a.sha256]);
  if (custodyRows.length)
    blocks.push({
      type: 'table',
      small: true,
      columns: [
        { title: '景号 Scene', width: 0.34 },
        { title: '资产 Asset', width: 0.1 },
        { title: 'SHA-256', width: 0.56 },
      ],
      rows: custodyRows,
    });
  for (const u of cu.unavailable)
    blocks.push({
      type: 'paragraph',
      text: `无法记录 Not recorded：${u.sceneId} — ${u.reason}`,
      small: true,
    });
  blocks.push({
    type: 'paragraph',
    small: true,
    text: `核查包文件及其哈希见 manifest.json（其哈希见 manifest.sha256），可用 "npx skypatrol packet verify <zip>" 或 "sha256sum -c manifest.sha256" 校验。Files of this packet and their hashes are in manifest.json (its own hash in manifest.sha256); check them with "npx skypatrol packet verify <zip>". 文件 Files: ${f.files.join(', ')}`,
  });

  blocks.push({ type: 'heading', text: '现场核查清单 Field checklist' });
  blocks.push({
    type: 'checklist',
    items: [
      '到达导航点，记录实测坐标与时间 Reach the point; record measured coordinates and time',
      '东、南、西、北四个方向各拍摄全景照片（含参照物与时间水印） Photos from four directions — north, east, south, west (with landmarks and time stamps)',
      '拍摄近景照片：地表扰动、堆土、坑塘、建筑、机械 Close-ups: disturbance, spoil, pits, buildings, machinery',
      '测量：实际扰动范围（边界绕测或量测长宽）、坑深/堆高 Measurements: disturbed extent (walk the boundary or measure length × width), pit depth / heap height',
      '核实责任主体：单位/个人名称、统一社会信用代码/身份证号、联系方式 Responsible party: name, credit code / ID number, contact',
      '核实是否有用地、采矿、临时用地等许可及期限 Check permits (land use, mining, temporary land) and their deadlines',
      '询问笔录与现场示意图 Interview record and site sketch',
      '现状结论：属实 / 不属实 / 部分属实 Finding: confirmed / not confirmed / partly confirmed',
    ],
  });
  blocks.push({
    type: 'signatures',
    lines: [
      '核查人 Inspector',
      '核查人 Inspector',
      '见证人/当事人 Witness / party',
      '承办检察官 Prosecutor in charge',
    ],
  });

  return {
    title: '现场核查包 Inspection packet',
    subtitle: '天巡 Skypatrol · 公益诉讼卫星巡查线索 satellite patrol clue',
    clueNo: no,
    url: f.url,
    qrCaption: '扫码查看线索 Scan to open the clue',
    footer: `线索 Clue ${no} · 生成 generated ${cst(f.generatedAt)} · ${f.generatedBy}`,
    blocks,
  };
}
