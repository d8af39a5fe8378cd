/** UI strings: zh-CN first, English second. */
export type Lang = 'zh' | 'en';

export const STRINGS = {
  zh: {
    subtitle: '公益诉讼卫星巡查 · 线索地图',
    clues: '线索',
    switchTo: 'English',
    empty: '暂无线索。运行 npx skypatrol detect … --store 或 npm run demo 生成线索。',
    confidence: '置信度',
    area: '面积',
    firstSeen: '首次发现',
    lastSeen: '最近发现',
    scenario: '场景',
    status: '状态',
    detector: '检测模型',
    scenes: '影像（前 / 后）',
    healthOk: '服务正常',
    healthBad: '服务异常',
    total: (n: number, ha: number) => `共 ${n} 条，合计 ${ha.toFixed(2)} 公顷`,
    mu: '亩',
    ha: '公顷',
  },
  en: {
    subtitle: 'Satellite patrols for public-interest prosecution · clue map',
    clues: 'Clues',
    switchTo: '中文',
    empty: 'No clues yet. Run npx skypatrol detect … --store or npm run demo.',
    confidence: 'Confidence',
    area: 'Area',
    firstSeen: 'First seen',
    lastSeen: 'Last seen',
    scenario: 'Scenario',
    status: 'Status',
    detector: 'Detector',
    scenes: 'Scenes (before / after)',
    healthOk: 'services up',
    healthBad: 'services down',
    total: (n: number, ha: number) => `${n} clues, ${ha.toFixed(2)} ha in all`,
    mu: 'mu',
    ha: 'ha',
  },
} as const;

export const SCENARIO_NAMES: Record<string, { zh: string; en: string }> = {
  change: { zh: '地表变化', en: 'Land-surface change' },
  'temporary-land': { zh: '临时用地未复垦', en: 'Unreclaimed temporary land' },
  'forest-encroachment': { zh: '林地侵占', en: 'Forest encroachment' },
  'black-soil': { zh: '破坏黑土地', en: 'Black-soil damage' },
  river: { zh: '河道保护', en: 'River channel' },
  grassland: { zh: '草原破坏', en: 'Grassland damage' },
  'hulun-lake': { zh: '呼伦湖保护', en: 'Hulun Lake' },
  wetland: { zh: '湿地保护', en: 'Wetland' },
  mine: { zh: '矿场监督', en: 'Mining' },
};

export const STATUS_NAMES: Record<string, { zh: string; en: string }> = {
  new: { zh: '新线索', en: 'New' },
  in_review: { zh: '审查中', en: 'In review' },
  field_check: { zh: '现场核查', en: 'Field check' },
  confirmed: { zh: '已确认', en: 'Confirmed' },
  case_filed: { zh: '已立案', en: 'Case filed' },
  remediation_check: { zh: '整改回查', en: 'Remediation check' },
  closed: { zh: '已办结', en: 'Closed' },
  dismissed: { zh: '已排除', en: 'Dismissed' },
};
