/**
 * What a packet says about a scenario: its names and the laws usually cited (domain notes,
 * "The eight scenarios"). A detector manifest's own `legalBasis` wins when it lists any.
 */

export interface ScenarioInfo {
  zh: string;
  en: string;
  /** Laws usually cited, "中文名 (English)". */
  legalBasis: string[];
}

export const SCENARIOS: Record<string, ScenarioInfo> = {
  'temporary-land': {
    zh: '临时用地未复垦',
    en: 'Temporary land not reclaimed',
    legalBasis: [
      '《中华人民共和国土地管理法》第五十七条（临时用地期限一般不超过二年，期满恢复种植条件） Land Administration Law, art. 57',
      '《土地复垦条例》 Land Reclamation Regulations',
    ],
  },
  'forest-encroachment': {
    zh: '林地侵占',
    en: 'Forest land encroachment',
    legalBasis: [
      '《中华人民共和国森林法》 Forest Law',
      '《中华人民共和国刑法》第三百四十二条（非法占用农用地罪） Criminal Law, art. 342',
    ],
  },
  'black-soil': {
    zh: '破坏黑土地',
    en: 'Black-soil destruction',
    legalBasis: ['《中华人民共和国黑土地保护法》（2022） Black Soil Protection Law'],
  },
  river: {
    zh: '河道保护',
    en: 'River channel protection',
    legalBasis: [
      '《中华人民共和国水法》 Water Law',
      '《中华人民共和国河道管理条例》 River Course Management Regulations',
    ],
  },
  grassland: {
    zh: '草原破坏',
    en: 'Grassland destruction',
    legalBasis: [
      '《中华人民共和国草原法》 Grassland Law',
      '《中华人民共和国刑法》第三百四十二条（非法占用农用地罪） Criminal Law, art. 342',
    ],
  },
  'hulun-lake': {
    zh: '呼伦湖保护',
    en: 'Hulun Lake protection',
    legalBasis: [
      '《中华人民共和国湿地保护法》 Wetland Protection Law',
      '呼伦湖保护地方性法规 local Hulun Lake protection regulations',
    ],
  },
  wetland: {
    zh: '湿地保护',
    en: 'Wetland protection',
    legalBasis: ['《中华人民共和国湿地保护法》（2022） Wetland Protection Law'],
  },
  mine: {
    zh: '矿场监督',
    en: 'Mine supervision',
    legalBasis: [
      '《中华人民共和国矿产资源法》 Mineral Resources Law',
      '《中华人民共和国刑法》第三百四十三条（非法采矿罪） Criminal Law, art. 343',
    ],
  },
  change: {
    zh: '通用地表变化',
    en: 'General land-surface change',
    legalBasis: [],
  },
};

export function scenarioInfo(id: string): ScenarioInfo {
  return SCENARIOS[id] ?? { zh: id, en: id, legalBasis: [] };
}

/**
 * The legal basis a packet prints, and where it came from: the detector manifest's list when
 * it has one, else the laws usually cited for the scenario, else a note that none applies.
 */
export function legalBasisFor(
  scenario: string,
  manifestBasis: readonly string[] | null,
): { items: string[]; source: 'detector' | 'scenario' | 'none' } {
  if (manifestBasis && manifestBasis.length > 0) return { items: [...manifestBasis], source: 'detector' };
  const info = SCENARIOS[scenario];
  if (info && info.legalBasis.length > 0) return { items: info.legalBasis, source: 'scenario' };
  return { items: [], source: 'none' };
}

export const STATUS_NAMES: Record<string, { zh: string; en: string }> = {
  new: { zh: '新线索', en: 'new' },
  in_review: { zh: '审查中', en: 'in review' },
  field_check: { zh: '现场核查', en: 'field check' },
  confirmed: { zh: '已确认', en: 'confirmed' },
  case_filed: { zh: '已立案', en: 'case filed' },
  remediation_check: { zh: '整改复查', en: 'remediation check' },
  closed: { zh: '已办结', en: 'closed' },
  dismissed: { zh: '已排除', en: 'dismissed' },
};

export const DISMISS_NAMES: Record<string, { zh: string; en: string }> = {
  false_detection: { zh: '误检', en: 'false detection' },
  lawful_or_permitted: { zh: '合法或已许可', en: 'lawful or permitted' },
  duplicate: { zh: '重复', en: 'duplicate' },
  outside_jurisdiction: { zh: '不属本院管辖', en: 'outside jurisdiction' },
};

export const ZONE_KIND_NAMES: Record<string, { zh: string; en: string }> = {
  temporary_land_permit: { zh: '临时用地许可', en: 'temporary-land permit' },
  mining_permit: { zh: '采矿许可', en: 'mining permit' },
  forest_land: { zh: '林地', en: 'forest land' },
  black_soil_zone: { zh: '黑土地保护区', en: 'black-soil zone' },
  river_management_area: { zh: '河道管理范围', en: 'river management area' },
  grassland: { zh: '草原', en: 'grassland' },
  lake_protection_zone: { zh: '湖泊保护范围', en: 'lake protection zone' },
  wetland_reserve: { zh: '湿地保护区', en: 'wetland reserve' },
  admin_division: { zh: '行政区划', en: 'administrative division' },
};

export const EVENT_KIND_NAMES: Record<string, { zh: string; en: string }> = {
  created: { zh: '创建', en: 'created' },
  transition: { zh: '状态变更', en: 'transition' },
  comment: { zh: '意见', en: 'comment' },
  priority: { zh: '优先级', en: 'priority' },
  attachment: { zh: '附件', en: 'attachment' },
  seen_again: { zh: '再次发现', en: 'seen again' },
  merged: { zh: '合并', en: 'merged' },
  recheck: { zh: '复查', en: 'recheck' },
};
