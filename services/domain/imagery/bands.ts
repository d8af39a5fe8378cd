/**
 * Canonical band names (STAC `eo:bands[].common_name`) and the sensor band tables that
 * map a product's own band ids onto them. See shared docs "Sensors".
 */
export const CANONICAL_BANDS = [
  'coastal',
  'blue',
  'green',
  'red',
  'rededge1',
  'rededge2',
  'rededge3',
  'nir',
  'nir08',
  'nir09',
  'cirrus',
  'swir16',
  'swir22',
] as const;
export type CanonicalBand = (typeof CANONICAL_BANDS)[number];

export function isCanonicalBand(name: string): name is CanonicalBand {
  return (CANONICAL_BANDS as readonly string[]).includes(name);
}

export interface SensorBand {
  id: string;
  common: CanonicalBand;
  gsd: number;
}

/** Sentinel-2 MSI: band id → common name and native ground sampling distance (m). */
export const SENTINEL2_BANDS: readonly SensorBand[] = [
  { id: 'B01', common: 'coastal', gsd: 60 },
  { id: 'B02', common: 'blue', gsd: 10 },
  { id: 'B03', common: 'green', gsd: 10 },
  { id: 'B04', common: 'red', gsd: 10 },
  { id: 'B05', common: 'rededge1', gsd: 20 },
  { id: 'B06', common: 'rededge2', gsd: 20 },
  { id: 'B07', common: 'rededge3', gsd: 20 },
  { id: 'B08', common: 'nir', gsd: 10 },
  { id: 'B8A', common: 'nir08', gsd: 20 },
  { id: 'B09', common: 'nir09', gsd: 60 },
  { id: 'B10', common: 'cirrus', gsd: 60 },
  { id: 'B11', common: 'swir16', gsd: 20 },
  { id: 'B12', common: 'swir22', gsd: 20 },
];

/**
 * Reflectance scaling of Sentinel-2 DNs: DN/10000 before processing baseline 04.00; from
 * baseline 04.00 (products from 2022-01-25) both L1C (RADIO_ADD_OFFSET) and L2A
 * (BOA_ADD_OFFSET) carry an offset of −1000 DN, i.e. −0.1 in reflectance.
 */
export function sentinel2Scaling(_level: 'L1C' | 'L2A', acquired: Date): { scale: number; offset: number } {
  const baseline04 = acquired.getTime() >= Date.UTC(2022, 0, 25);
  return { scale: 1 / 10000, offset: baseline04 ? -0.1 : 0 };
}
