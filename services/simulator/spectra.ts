/**
 * Surface reflectance of the simulated landscape. Every land-cover class is a linear mixture of
 * a few endmember spectra (fractions change with the season), and every endmember names the
 * published spectral library record its band values are modelled on (see README, "Spectra").
 * Pure: no I/O.
 */

/** The bands the simulator renders (STAC common names), in this order everywhere. */
export const BANDS = [
  'blue',
  'green',
  'red',
  'rededge1',
  'rededge2',
  'rededge3',
  'nir',
  'nir08',
  'swir16',
  'swir22',
] as const;
export type SimBand = (typeof BANDS)[number];
export const NB = BANDS.length;
export const BAND_INDEX: Record<SimBand, number> = Object.fromEntries(BANDS.map((b, i) => [b, i])) as Record<
  SimBand,
  number
>;

export interface Endmember {
  label: string;
  /** Library and record the values are modelled on. */
  source: string;
  /** Reflectance at the band centres of BANDS (490, 560, 665, 705, 740, 783, 842, 865, 1610, 2190 nm). */
  values: readonly number[];
}

export const ENDMEMBERS = {
  conifer: {
    label: 'conifer canopy (Mongolian pine plantation)',
    source: 'USGS splib07a Espruce-Sfir_YNP-SF-2_forst_AVIRISb_RTGC (canopy, Kokaly et al. 2003)',
    values: [0.025, 0.045, 0.024, 0.075, 0.19, 0.235, 0.26, 0.265, 0.12, 0.055],
  },
  broadleaf: {
    label: 'broadleaf canopy (poplar/birch belts)',
    source: 'USGS splib07a Aspen_Leaf-A_DW92-2 (leaf), scaled to canopy like the YNP AVIRIS stands',
    values: [0.03, 0.065, 0.032, 0.11, 0.28, 0.35, 0.39, 0.4, 0.19, 0.085],
  },
  greenGrass: {
    label: 'green grass canopy',
    source: 'USGS splib07a Grass-Smoothbrome_YNP-SB-1_AVIRISb_RTGC (grassland canopy)',
    values: [0.035, 0.072, 0.045, 0.115, 0.25, 0.31, 0.34, 0.345, 0.24, 0.13],
  },
  crop: {
    label: 'crop canopy, full cover',
    source: 'USGS splib07a Lawn_Grass_GDS91_green (0.038/0.095/0.044/0.70 leaf stack), canopy-scaled',
    values: [0.03, 0.08, 0.036, 0.13, 0.34, 0.43, 0.46, 0.465, 0.24, 0.11],
  },
  dryGrass: {
    label: 'dry grass, straw, litter (NPV)',
    source: 'USGS splib07a Grass_Golden_Dry_GDS480',
    values: [0.085, 0.12, 0.15, 0.18, 0.205, 0.225, 0.245, 0.25, 0.34, 0.26],
  },
  sedge: {
    label: 'sedge/reed marsh canopy',
    source: 'USGS splib07a Sedge_YNP-SE-1_AVIRISb_RTGC (sedge marsh canopy)',
    values: [0.03, 0.06, 0.04, 0.095, 0.21, 0.26, 0.29, 0.295, 0.16, 0.075],
  },
  chestnutSoil: {
    label: 'dry steppe soil (kastanozem, sandy loam)',
    source: 'ECOSTRESS/ASTER soil library, Aridisol light brown sandy loam',
    values: [0.1, 0.14, 0.18, 0.2, 0.215, 0.225, 0.24, 0.245, 0.31, 0.27],
  },
  blackSoil: {
    label: 'black soil, dry surface (chernozem/Mollisol)',
    source: 'ECOSTRESS/ASTER soil library, Mollisol (Boroll) dark, high organic matter',
    values: [0.045, 0.055, 0.065, 0.072, 0.078, 0.083, 0.09, 0.093, 0.14, 0.12],
  },
  subsoil: {
    label: 'subsoil / loess exposed by stripping',
    source: 'ECOSTRESS/ASTER soil library, Entisol light yellowish-brown loamy sand',
    values: [0.13, 0.18, 0.23, 0.25, 0.265, 0.275, 0.29, 0.295, 0.36, 0.31],
  },
  sand: {
    label: 'fresh river sand',
    source: 'ECOSTRESS/ASTER soil library, Entisol Quartzipsamment (quartz sand)',
    values: [0.17, 0.22, 0.27, 0.29, 0.305, 0.315, 0.325, 0.33, 0.4, 0.34],
  },
  turbidWater: {
    label: 'turbid lake water',
    source: 'Doxaran et al. 2002 (RSE 81) turbid-water reflectance, moderate SPM',
    values: [0.065, 0.095, 0.085, 0.06, 0.03, 0.024, 0.02, 0.018, 0.005, 0.003],
  },
  clearWater: {
    label: 'clear deep water',
    source: 'ECOSTRESS/ASTER water library, tap/sea water',
    values: [0.05, 0.055, 0.03, 0.018, 0.01, 0.008, 0.006, 0.005, 0.002, 0.001],
  },
  bloom: {
    label: 'cyanobacteria scum on water',
    source: 'Hu 2009 (RSE 113) floating-algae reflectance (FAI)',
    values: [0.035, 0.06, 0.04, 0.09, 0.16, 0.2, 0.22, 0.22, 0.04, 0.015],
  },
  concrete: {
    label: 'concrete',
    source: 'USGS splib07a Concrete_WTC01-37A',
    values: [0.22, 0.26, 0.28, 0.29, 0.3, 0.305, 0.315, 0.32, 0.35, 0.32],
  },
  asphalt: {
    label: 'asphalt',
    source: 'USGS splib07a Asphalt_GDS366',
    values: [0.06, 0.07, 0.08, 0.085, 0.09, 0.095, 0.1, 0.1, 0.12, 0.11],
  },
  roof: {
    label: 'colour-coated steel roof (blue)',
    source: 'ECOSTRESS/ASTER manmade library, painted/galvanized metal roofing',
    values: [0.24, 0.2, 0.14, 0.14, 0.16, 0.18, 0.2, 0.2, 0.18, 0.15],
  },
  coal: {
    label: 'coal and dark shale in pit benches',
    source: 'USGS splib07a coal (lignite) spectra: flat, 0.04–0.06',
    values: [0.04, 0.042, 0.045, 0.047, 0.05, 0.052, 0.055, 0.056, 0.06, 0.058],
  },
} as const satisfies Record<string, Endmember>;
export type EndmemberId = keyof typeof ENDMEMBERS;

/** Land-cover classes of the 10 m truth raster (cropland parcels use ids ≥ PARCEL_BASE). */
export const CLASS = {
  lake: 1,
  river: 2,
  marsh: 3,
  wetMeadow: 4,
  steppe: 5,
  steppeSparse: 6,
  conifer: 7,
  broadleaf: 8,
  built: 9,
  townGreen: 10,
  asphalt: 11,
  track: 12,
  minePit: 13,
  mineSpoil: 14,
  sandBar: 15,
  mudflat: 16,
  bareBlack: 17,
  subsoil: 18,
  construction: 19,
  roof: 20,
  pitWater: 21,
  fill: 22,
  ploughedSteppe: 23,
  clearcut: 24,
  bloom: 25,
  drained: 26,
  gravel: 27,
  homestead: 28,
  stubble: 29,
} as const;
export type ClassId = (typeof CLASS)[keyof typeof CLASS];
export const CLASS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CLASS).map(([k, v]) => [v, k]),
);
export const PARCEL_BASE = 64;

export type Fractions = Partial<Record<EndmemberId, number>>;

/** Linear mixture of endmembers (fractions are normalised to sum 1). */
export function mix(f: Fractions, out = new Float32Array(NB)): Float32Array {
  out.fill(0);
  let sum = 0;
  for (const v of Object.values(f)) sum += v ?? 0;
  for (const [id, v] of Object.entries(f) as [EndmemberId, number][]) {
    const w = v / (sum || 1);
    const s = ENDMEMBERS[id].values;
    for (let b = 0; b < NB; b++) out[b]! += w * s[b]!;
  }
  return out;
}

/** Day of year (1-based, UTC). */
export function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86_400_000);
}

/** Piecewise-linear interpolation on [doy, value] knots. */
export function knots(k: readonly (readonly [number, number])[], doy: number): number {
  if (doy <= k[0]![0]) return k[0]![1];
  for (let i = 1; i < k.length; i++) {
    const [x1, y1] = k[i]!;
    if (doy <= x1) {
      const [x0, y0] = k[i - 1]!;
      return y0 + ((y1 - y0) * (doy - x0)) / (x1 - x0);
    }
  }
  return k[k.length - 1]![1];
}

/**
 * Green-vegetation cover of the Hulunbuir steppe through the season: green-up in late May,
 * peak late July – mid August, senescence in September (MODIS NDVI climatology of the
 * Hulunbuir meadow steppe, e.g. peak NDVI ≈ 0.5–0.6 in early August).
 */
export const STEPPE_GV: readonly (readonly [number, number])[] = [
  [120, 0.06],
  [152, 0.3],
  [172, 0.42],
  [200, 0.55],
  [228, 0.52],
  [255, 0.3],
  [280, 0.1],
];

export interface ClassSpectra {
  /** Spectrum at texture 0 and at texture 1; pixels mix linearly by their texture value. */
  a: Float32Array;
  b: Float32Array;
}

/** The two texture end-states of a (non-parcel) class on a date. */
export function classSpectra(cls: number, date: Date): ClassSpectra {
  const doy = dayOfYear(date);
  const gv = knots(STEPPE_GV, doy);
  const pair = (fa: Fractions, fb: Fractions): ClassSpectra => ({ a: mix(fa), b: mix(fb) });
  switch (cls) {
    case CLASS.lake:
      return pair({ turbidWater: 1 }, { turbidWater: 0.5, clearWater: 0.5 });
    case CLASS.river:
    case CLASS.pitWater:
      return pair({ turbidWater: 0.7, clearWater: 0.3 }, { turbidWater: 1 });
    case CLASS.marsh:
      return pair(
        { sedge: 0.45 + 0.4 * gv, turbidWater: 0.35 - 0.3 * gv, dryGrass: 0.2 },
        { sedge: 0.3 + 0.3 * gv, turbidWater: 0.55 - 0.3 * gv, dryGrass: 0.15 },
      );
    case CLASS.wetMeadow:
      return pair(
        { greenGrass: 0.45 + 0.6 * gv, sedge: 0.2, dryGrass: 0.2, blackSoil: 0.15 },
        { greenGrass: 0.3 + 0.5 * gv, sedge: 0.25, dryGrass: 0.25, blackSoil: 0.2 },
      );
    case CLASS.steppe:
      // Texture spans grazed, drier patches (a) to lush swales (b).
      return pair(
        { greenGrass: gv * 0.7, dryGrass: 0.4 * (1 - gv * 0.7), chestnutSoil: 0.6 * (1 - gv * 0.7) },
        { greenGrass: Math.min(0.95, gv * 1.45), dryGrass: 0.3 * (1 - gv), chestnutSoil: 0.45 * (1 - gv) },
      );
    case CLASS.steppeSparse:
      // Sandy, grazed-down patches: a little less green and a little brighter than steppe.
      return pair(
        { greenGrass: gv * 0.8, dryGrass: 0.4 * (1 - gv * 0.8), chestnutSoil: 0.6 * (1 - gv * 0.8) },
        { greenGrass: gv * 0.65, dryGrass: 0.35, sand: 0.05, chestnutSoil: 0.6 - gv * 0.65 },
      );
    case CLASS.conifer:
      return pair({ conifer: 0.9, greenGrass: 0.1 }, { conifer: 0.75, greenGrass: 0.15, dryGrass: 0.1 });
    case CLASS.broadleaf:
      return pair(
        { broadleaf: 0.55 + 0.4 * gv, greenGrass: 0.1, dryGrass: 0.35 - 0.4 * gv },
        { broadleaf: 0.45 + 0.4 * gv, greenGrass: 0.2, dryGrass: 0.35 - 0.4 * gv },
      );
    case CLASS.built:
      return pair(
        { concrete: 0.45, roof: 0.2, asphalt: 0.2, greenGrass: 0.15 },
        { concrete: 0.3, roof: 0.35, asphalt: 0.15, broadleaf: 0.2 },
      );
    case CLASS.townGreen:
      return pair(
        { broadleaf: 0.5, greenGrass: 0.3, concrete: 0.2 },
        { greenGrass: 0.5, chestnutSoil: 0.2, concrete: 0.3 },
      );
    case CLASS.asphalt:
      return pair({ asphalt: 1 }, { asphalt: 0.8, concrete: 0.2 });
    case CLASS.track:
      return pair({ chestnutSoil: 0.8, dryGrass: 0.2 }, { chestnutSoil: 0.6, sand: 0.2, dryGrass: 0.2 });
    case CLASS.minePit:
      return pair({ coal: 0.8, subsoil: 0.2 }, { coal: 0.4, subsoil: 0.6 });
    case CLASS.mineSpoil:
      return pair({ subsoil: 0.6, coal: 0.2, chestnutSoil: 0.2 }, { subsoil: 0.8, sand: 0.2 });
    case CLASS.sandBar:
      return pair({ sand: 0.85, turbidWater: 0.15 }, { sand: 1 });
    case CLASS.mudflat:
      return pair(
        { chestnutSoil: 0.35, blackSoil: 0.25, turbidWater: 0.3, greenGrass: 0.1 + 0.2 * gv },
        { chestnutSoil: 0.45, blackSoil: 0.25, turbidWater: 0.15, greenGrass: 0.15 + 0.3 * gv },
      );
    case CLASS.bareBlack:
      return pair({ blackSoil: 0.95, dryGrass: 0.05 }, { blackSoil: 0.85, dryGrass: 0.15 });
    case CLASS.subsoil:
      return pair({ subsoil: 0.9, blackSoil: 0.1 }, { subsoil: 0.7, chestnutSoil: 0.3 });
    case CLASS.construction:
      return pair({ concrete: 0.5, subsoil: 0.4, roof: 0.1 }, { concrete: 0.3, subsoil: 0.5, asphalt: 0.2 });
    case CLASS.roof:
      return pair({ roof: 0.85, concrete: 0.15 }, { roof: 0.6, concrete: 0.4 });
    case CLASS.fill:
      return pair({ subsoil: 0.6, sand: 0.3, coal: 0.1 }, { subsoil: 0.5, chestnutSoil: 0.5 });
    case CLASS.ploughedSteppe:
      return pair(
        { chestnutSoil: 0.75, blackSoil: 0.2, dryGrass: 0.05 },
        { chestnutSoil: 0.6, blackSoil: 0.35 },
      );
    case CLASS.clearcut:
      return pair(
        { chestnutSoil: 0.45, dryGrass: 0.35, greenGrass: 0.1, conifer: 0.1 },
        { chestnutSoil: 0.6, dryGrass: 0.3, greenGrass: 0.1 },
      );
    case CLASS.bloom:
      return pair({ bloom: 0.85, turbidWater: 0.15 }, { bloom: 0.55, turbidWater: 0.45 });
    case CLASS.drained:
      return pair(
        { blackSoil: 0.55, dryGrass: 0.35, greenGrass: 0.1 },
        { blackSoil: 0.4, chestnutSoil: 0.3, dryGrass: 0.3 },
      );
    case CLASS.gravel:
      return pair({ subsoil: 0.5, concrete: 0.3, sand: 0.2 }, { subsoil: 0.6, sand: 0.4 });
    case CLASS.homestead:
      return pair(
        { chestnutSoil: 0.5, roof: 0.2, dryGrass: 0.2, concrete: 0.1 },
        { chestnutSoil: 0.6, dryGrass: 0.3, greenGrass: 0.1 },
      );
    case CLASS.stubble:
      return pair({ dryGrass: 0.7, blackSoil: 0.3 }, { dryGrass: 0.5, blackSoil: 0.5 });
    default:
      return pair({ chestnutSoil: 1 }, { chestnutSoil: 1 });
  }
}

export type Crop = 'wheat' | 'rapeseed' | 'soybean' | 'maize';
export const CROPS: readonly Crop[] = ['wheat', 'rapeseed', 'soybean', 'maize'];

/** Green cover of each crop by day of year (one harvest a year, Hulunbuir dryland farming). */
const CROP_GV: Record<Crop, readonly (readonly [number, number])[]> = {
  wheat: [
    [125, 0.0],
    [150, 0.25],
    [170, 0.7],
    [190, 0.85],
    [205, 0.55],
    [218, 0.2],
  ],
  rapeseed: [
    [130, 0.0],
    [158, 0.3],
    [180, 0.75],
    [200, 0.85],
    [218, 0.5],
    [232, 0.2],
  ],
  soybean: [
    [140, 0.0],
    [165, 0.08],
    [185, 0.35],
    [205, 0.75],
    [230, 0.9],
    [255, 0.6],
    [270, 0.2],
  ],
  maize: [
    [140, 0.0],
    [165, 0.06],
    [185, 0.3],
    [205, 0.7],
    [230, 0.85],
    [260, 0.5],
  ],
};

export interface ParcelYear {
  crop: Crop;
  /** Days added to the crop calendar (sowing date spread). */
  shift: number;
  /** Day of year of harvest and of ploughing (ploughing after harvest; Infinity = not this year). */
  harvest: number;
  plough: number;
  /** 0.7–1.1: parcel vigour. */
  vigour: number;
}

/** Spectra of a cropland parcel on a date. */
export function parcelSpectra(p: ParcelYear, date: Date): ClassSpectra {
  const doy = dayOfYear(date);
  if (doy >= p.plough) return classSpectra(CLASS.bareBlack, date);
  if (doy >= p.harvest) return classSpectra(CLASS.stubble, date);
  const gv = Math.min(0.95, knots(CROP_GV[p.crop], doy - p.shift) * p.vigour);
  // Ripening cereals turn to straw before harvest.
  const senescent = p.crop === 'wheat' || p.crop === 'rapeseed' ? Math.max(0, (doy - p.shift - 200) / 20) : 0;
  const npv = Math.min(0.8, Math.max(0.03, senescent * 0.8));
  const soil = Math.max(0, 1 - gv - npv);
  return {
    a: mix({ crop: gv, dryGrass: npv, blackSoil: soil }),
    b: mix({ crop: gv * 0.82, dryGrass: npv, blackSoil: soil + gv * 0.18 }),
  };
}

/** Thick-cloud reflectance (liquid water lowers SWIR). */
export const CLOUD_SPECTRUM = [0.55, 0.55, 0.55, 0.55, 0.55, 0.545, 0.535, 0.53, 0.42, 0.28] as const;
/** Thin cirrus adds a nearly flat reflectance. */
export const CIRRUS_SPECTRUM = [0.06, 0.06, 0.058, 0.057, 0.056, 0.055, 0.054, 0.054, 0.05, 0.04] as const;
/** Residual haze after atmospheric correction: strongest in the blue (Rayleigh/aerosol λ⁻ᵏ). */
export const HAZE_SPECTRUM = [0.03, 0.022, 0.016, 0.013, 0.011, 0.01, 0.009, 0.008, 0.003, 0.001] as const;
/** Fraction of reflectance left in a cloud shadow (diffuse skylight, bluer). */
export const SHADOW_FACTOR = [0.42, 0.36, 0.32, 0.3, 0.29, 0.28, 0.27, 0.27, 0.24, 0.22] as const;

/** NDVI of a spectrum (red, nir at BAND_INDEX). */
export function ndvi(s: ArrayLike<number>): number {
  const r = s[BAND_INDEX.red]!;
  const n = s[BAND_INDEX.nir]!;
  return (n - r) / (n + r);
}

/** Whether a class is open water (SCL 6 / QA_PIXEL water). */
export function isWaterClass(cls: number): boolean {
  return cls === CLASS.lake || cls === CLASS.river || cls === CLASS.pitWater || cls === CLASS.bloom;
}
