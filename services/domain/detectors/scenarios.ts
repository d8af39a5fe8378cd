import type { DetectorManifest, ZoneLayer, ZoningRule } from './manifest.ts';

/**
 * The eight scenarios of the domain notes: names, zoning layer and rule, legal basis and
 * priority weight. A scenario's first manifest is made from this table; after that the
 * manifest in `detectors/<id>/` is the source of truth (tuning and retraining edit it).
 */
export interface ScenarioSpec {
  id: string;
  name: { zh: string; en: string };
  signal: string;
  layer: ZoneLayer;
  rule: ZoningRule;
  deadlineField?: string;
  maxDistanceM?: number;
  ruleText: string;
  legalBasis: string[];
  priorityWeight: number;
  minAreaM2: number;
}

export const SCENARIO_SPECS: ScenarioSpec[] = [
  {
    id: 'temporary-land',
    name: { zh: '临时用地未复垦', en: 'Temporary land not reclaimed' },
    signal: 'bare, disturbed land (high BSI and brightness, low NDVI) that was vegetated before',
    layer: 'temporary_land_permit',
    rule: 'after-deadline',
    deadlineField: 'reclaim_by',
    maxDistanceM: 50,
    ruleText:
      '临时用地许可复垦期限（reclaim_by）已过仍裸露，或扰动溢出许可范围（50 m 内）/ still disturbed after the permit reclaim_by date, or spilling outside a permit (within 50 m)',
    legalBasis: ['《中华人民共和国土地管理法》第五十七条', '《土地复垦条例》'],
    priorityWeight: 1,
    minAreaM2: 1000,
  },
  {
    id: 'forest-encroachment',
    name: { zh: '林地侵占', en: 'Forest land encroachment' },
    signal: 'vegetation loss in forest: NDVI/NBR drop to bare soil or built-up',
    layer: 'forest_land',
    rule: 'inside',
    ruleText: '林地范围内的植被破坏 / inside forest land',
    legalBasis: ['《中华人民共和国森林法》', '《中华人民共和国刑法》第三百四十二条'],
    priorityWeight: 1.3,
    minAreaM2: 1000,
  },
  {
    id: 'black-soil',
    name: { zh: '破坏黑土地', en: 'Black-soil destruction' },
    signal: 'topsoil stripping, excavation, water-filled pits or construction on cropland',
    layer: 'black_soil_zone',
    rule: 'inside',
    ruleText: '黑土地保护区（耕地）内的取土、挖掘、建设 / inside black-soil protection zones',
    legalBasis: ['《中华人民共和国黑土地保护法》'],
    priorityWeight: 1.3,
    minAreaM2: 1000,
  },
  {
    id: 'river',
    name: { zh: '河道保护', en: 'River channel protection' },
    signal: 'sand-mining pits, filling and construction in the channel: water ↔ bare sand/fill',
    layer: 'river_management_area',
    rule: 'inside',
    ruleText: '河道管理范围内的采砂、填埋、建设 / inside the river management area',
    legalBasis: ['《中华人民共和国水法》', '《中华人民共和国河道管理条例》'],
    priorityWeight: 1.2,
    minAreaM2: 1000,
  },
  {
    id: 'grassland',
    name: { zh: '草原破坏', en: 'Grassland destruction' },
    signal: 'grassland ploughed, dug or built on: NDVI drop to bare soil or built-up',
    layer: 'grassland',
    rule: 'inside',
    ruleText: '草原范围内的开垦、挖掘、建设 / inside grassland',
    legalBasis: ['《中华人民共和国草原法》', '《中华人民共和国刑法》第三百四十二条'],
    priorityWeight: 1.1,
    minAreaM2: 1000,
  },
  {
    id: 'hulun-lake',
    name: { zh: '呼伦湖保护', en: 'Hulun Lake protection' },
    signal: 'shoreline construction and lake filling (water → fill/built-up); algal bloom on water',
    layer: 'lake_protection_zone',
    rule: 'inside',
    ruleText: '呼伦湖保护范围（湖面及岸带）内的侵占、填湖、藻华 / inside the lake protection zone',
    legalBasis: ['《中华人民共和国湿地保护法》', '《内蒙古自治区呼伦湖保护条例》'],
    priorityWeight: 1.4,
    minAreaM2: 1000,
  },
  {
    id: 'wetland',
    name: { zh: '湿地保护', en: 'Wetland protection' },
    signal: 'drainage, filling or conversion: water/wet vegetation → dry bare land or cropland',
    layer: 'wetland_reserve',
    rule: 'inside',
    ruleText: '湿地保护区内的排干、填埋、开垦 / inside wetland reserves',
    legalBasis: ['《中华人民共和国湿地保护法》'],
    priorityWeight: 1.3,
    minAreaM2: 1000,
  },
  {
    id: 'mine',
    name: { zh: '矿场监督', en: 'Mining supervision' },
    signal: 'new excavation, bare rock and spoil heaps (bright bare ground replacing vegetation)',
    layer: 'mining_permit',
    rule: 'after-deadline',
    deadlineField: 'valid_to',
    ruleText:
      '采矿许可范围外的开采（越界开采、无证开采）或许可过期后的开采 / outside a valid mining permit (beyond its boundary, without one, or after valid_to)',
    legalBasis: ['《中华人民共和国矿产资源法》', '《中华人民共和国刑法》第三百四十三条'],
    priorityWeight: 1.5,
    minAreaM2: 1000,
  },
];

/**
 * Most specific first: a site claimed by several scenarios' clues becomes a clue of the first
 * (a building in a river management area that is also grassland is a river clue). Specific
 * means the narrower zoning designation where they nest: permits (parcels) first; a river
 * management area (channel + floodplain) lies inside the wetland reserve along its river and
 * reaches into the lake belt, so river comes before wetland and hulun-lake; the broad land
 * classes (black soil, forest, grassland) last.
 */
export const SCENARIO_PRECEDENCE = [
  'temporary-land',
  'mine',
  'river',
  'wetland',
  'hulun-lake',
  'black-soil',
  'forest-encroachment',
  'grassland',
] as const;

export function scenarioSpec(id: string): ScenarioSpec | undefined {
  return SCENARIO_SPECS.find((s) => s.id === id);
}

/** The zoning part of a manifest for a scenario. */
export function zoningOf(spec: ScenarioSpec): DetectorManifest['zoning'] {
  return {
    layer: spec.layer,
    rule: spec.rule,
    ...(spec.deadlineField ? { deadlineField: spec.deadlineField } : {}),
    ...(spec.maxDistanceM !== undefined ? { maxDistanceM: spec.maxDistanceM } : {}),
    description: spec.ruleText,
  };
}
