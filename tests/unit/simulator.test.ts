import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { describeItem, type StacItem } from '../../services/domain/catalog/stac.ts';
import { qaPixelFromAtmosphere, sclFromAtmosphere, sunPosition } from '../../services/simulator/clouds.ts';
import { alsoConcerns, planEvents, SCENARIOS } from '../../services/simulator/events.ts';
import { buildLandscape, type GeoInput } from '../../services/simulator/landscape.ts';
import { areaDownsample } from '../../services/simulator/raster.ts';
import { DEFAULT_CENTER, makeRegion, parseCenter, parseSize } from '../../services/simulator/region.ts';
import { GF_BANDS, gfDn, landsatDn, mgrsTile, s2Dn, sceneDefs } from '../../services/simulator/scenes.ts';
import { crc32, encodeShapefile, zip } from '../../services/simulator/shapefile-writer.ts';
import {
  BAND_INDEX,
  CLASS,
  classSpectra,
  ENDMEMBERS,
  NB,
  ndvi,
  type ParcelYear,
  parcelSpectra,
} from '../../services/simulator/spectra.ts';
import { baseZones, ZONE } from '../../services/simulator/zoning.ts';

/** The simulator's pure parts: spectra, sensors' DNs, masks, generation and its determinism. */

const GEO = new URL('../../services/simulator/geo/', import.meta.url);
const readGeo = (name: string) => JSON.parse(readFileSync(new URL(name, GEO), 'utf8'));
const geo: GeoInput = {
  lakes: readGeo('ne-lakes-hulunbuir.geojson'),
  rivers: readGeo('ne-rivers-hulunbuir.geojson'),
  places: readGeo('ne-places-hulunbuir.geojson'),
  counties: readGeo('hulunbuir-counties.geojson'),
};
const JUNE = new Date('2024-06-05T03:00:00Z');
const AUGUST = new Date('2025-08-19T03:00:00Z');
const mid = (cls: number, d: Date) => {
  const s = classSpectra(cls, d);
  return Array.from({ length: NB }, (_, b) => (s.a[b]! + s.b[b]!) / 2);
};

describe('spectra', () => {
  it('every endmember has ten physically possible values and a source', () => {
    for (const [id, e] of Object.entries(ENDMEMBERS)) {
      expect(e.values, id).toHaveLength(NB);
      for (const v of e.values) expect(v > 0 && v < 1, `${id}: ${v}`).toBe(true);
      expect(e.source.length, id).toBeGreaterThan(10);
    }
  });

  it('NDVI: forest > 0.6, water < 0, bare soil and built-up < 0.2', () => {
    expect(ndvi(mid(CLASS.conifer, AUGUST))).toBeGreaterThan(0.6);
    expect(ndvi(mid(CLASS.broadleaf, AUGUST))).toBeGreaterThan(0.6);
    expect(ndvi(mid(CLASS.lake, AUGUST))).toBeLessThan(0);
    expect(ndvi(mid(CLASS.river, JUNE))).toBeLessThan(0);
    for (const c of [CLASS.bareBlack, CLASS.subsoil, CLASS.construction, CLASS.minePit, CLASS.fill]) {
      expect(ndvi(mid(c, AUGUST)), String(c)).toBeLessThan(0.2);
    }
  });

  it('the steppe greens up between June and August; an algal bloom has a vegetation signal on water', () => {
    expect(ndvi(mid(CLASS.steppe, AUGUST))).toBeGreaterThan(ndvi(mid(CLASS.steppe, JUNE)) + 0.05);
    expect(ndvi(mid(CLASS.steppe, JUNE))).toBeGreaterThan(0.2);
    expect(ndvi(mid(CLASS.bloom, AUGUST))).toBeGreaterThan(0.3);
  });

  it('water is dark in the SWIR and has MNDWI > 0; bare soil has BSI > 0', () => {
    const w = mid(CLASS.lake, JUNE);
    expect(w[BAND_INDEX.swir16]!).toBeLessThan(0.02);
    expect(
      (w[BAND_INDEX.green]! - w[BAND_INDEX.swir16]!) / (w[BAND_INDEX.green]! + w[BAND_INDEX.swir16]!),
    ).toBeGreaterThan(0.5);
    const s = mid(CLASS.subsoil, AUGUST);
    const bsi =
      (s[BAND_INDEX.swir16]! + s[BAND_INDEX.red]! - (s[BAND_INDEX.nir]! + s[BAND_INDEX.blue]!)) /
      (s[BAND_INDEX.swir16]! + s[BAND_INDEX.red]! + s[BAND_INDEX.nir]! + s[BAND_INDEX.blue]!);
    expect(bsi).toBeGreaterThan(0);
  });

  it('crops follow their calendar: wheat green in July, stubble after harvest, black soil after ploughing', () => {
    const wheat: ParcelYear = { crop: 'wheat', shift: 0, harvest: 222, plough: 230, vigour: 1 };
    const at = (iso: string) => {
      const s = parcelSpectra(wheat, new Date(`${iso}T03:00:00Z`));
      return ndvi(Array.from(s.a));
    };
    expect(at('2025-07-05')).toBeGreaterThan(0.6);
    expect(at('2025-08-12')).toBeLessThan(0.35); // stubble
    expect(at('2025-08-19')).toBeLessThan(0.2); // ploughed
    const soy: ParcelYear = {
      crop: 'soybean',
      shift: 0,
      harvest: Number.POSITIVE_INFINITY,
      plough: Number.POSITIVE_INFINITY,
      vigour: 1,
    };
    expect(ndvi(Array.from(parcelSpectra(soy, AUGUST).a))).toBeGreaterThan(
      ndvi(Array.from(parcelSpectra(soy, JUNE).a)) + 0.3,
    );
  });
});

describe('sensors and masks', () => {
  it('DNs: Sentinel-2 with the +1000 offset, Landsat C2 L2 scale/offset', () => {
    expect(Array.from(s2Dn(Float32Array.of(0.1, -0.01, 0)))).toEqual([2000, 900, 1000]);
    expect(landsatDn(Float32Array.of(0))[0]).toBe(Math.round(0.2 / 0.0000275));
    expect(landsatDn(Float32Array.of(0.25))[0]! * 0.0000275 - 0.2).toBeCloseTo(0.25, 4);
  });

  it('GF-1 DNs read back through the STAC radiance → TOA reflectance chain', () => {
    const region = makeRegion(DEFAULT_CENTER, 6);
    const scene = sceneDefs(region, 1).find((s) => s.sensor === 'gf')!;
    const band = GF_BANDS[2]!;
    const dn = gfDn(Float32Array.of(0.12), band, scene)[0]!;
    const item = {
      type: 'Feature',
      id: scene.id,
      collection: scene.collection,
      geometry: { type: 'Point', coordinates: DEFAULT_CENTER },
      bbox: [117, 49, 118, 50],
      properties: {
        datetime: scene.datetime,
        platform: scene.platform,
        constellation: scene.constellation,
        'view:sun_elevation': scene.sun.elevation,
      },
      assets: {
        data: {
          href: 'x.tif',
          type: 'image/tiff',
          'eo:bands': [{ name: band.id, common_name: band.key, solar_illumination: band.esun }],
          'raster:bands': [{ scale: band.gain, offset: 0, nodata: 0, unit: 'W/(m²·sr·µm)' }],
        },
      },
    } as unknown as StacItem;
    const d = describeItem(item, 'file:///x/item.json');
    expect(d.sensor).toBe('gf-wfv');
    const toa = dn * d.bands.red!.scale + d.bands.red!.offset;
    expect(toa).toBeCloseTo(0.12 * band.transmittance + band.path, 3);
  });

  it('QA_PIXEL values are the USGS ones for clear land and clear water; SCL marks cloud, shadow and water', () => {
    const w = 6;
    const n = w * w;
    const surface = new Uint8Array(n).fill(4);
    for (let i = 0; i < w * 3; i++) surface[i] = 6; // top half water
    const alpha = new Float32Array(n);
    const shadow = new Float32Array(n);
    alpha[n - 1] = 1; // a cloud in the bottom-right corner pixel
    const atm = {
      alpha,
      shadow,
      cirrus: null,
      haze: new Float32Array(n),
      cloudFraction: 0,
      shadowShiftPx: [0, 0] as [number, number],
    };
    const clear = qaPixelFromAtmosphere({ ...atm, alpha: null, shadow: null }, surface, w, w, 3);
    expect(Array.from(clear)).toEqual([21952, 21952, 21824, 21824]);
    const cloudy = qaPixelFromAtmosphere(atm, new Uint8Array(n).fill(4), w, w, 1);
    expect(cloudy[n - 1]! & 0b1000).toBe(0b1000); // cloud
    expect(cloudy[n - 2]! & 0b10).toBe(0b10); // dilated cloud next to it
    expect(cloudy[0]! & 0b1000000).toBe(0b1000000); // clear far away
    const scl = sclFromAtmosphere(
      { ...atm, shadow: Float32Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0)) },
      surface,
      w,
      w,
      1,
    );
    expect(scl[n - 1]).toBe(9);
    expect(scl[0]).toBe(3);
    expect(scl[1]).toBe(6);
    expect(scl[w * 4]).toBe(4);
  });

  it('the sun is in the south-east and high at the overpass time', () => {
    const s = sunPosition(new Date('2024-06-05T02:58:41Z'), 117.7, 49.4);
    expect(s.elevation).toBeGreaterThan(50);
    expect(s.elevation).toBeLessThan(65);
    expect(s.azimuth).toBeGreaterThan(120);
    expect(s.azimuth).toBeLessThan(170);
  });

  it('area downsampling to 16 m keeps the mean', () => {
    const src = Float32Array.from({ length: 80 * 80 }, (_, i) => (i % 7) / 7);
    const r = areaDownsample(src, 80, 80, 1.6);
    expect([r.width, r.height]).toEqual([50, 50]);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(r.data)).toBeCloseTo(mean(src), 4);
  });
});

describe('region and scenes', () => {
  it('parses sizes and centres; the grid is 240 m aligned in UTM 50N', () => {
    expect(parseSize('small')).toBe(6);
    expect(parseSize('demo')).toBe(38);
    expect(parseSize('12')).toBe(12);
    expect(() => parseSize('huge')).toThrow(RangeError);
    expect(parseCenter('117.5,49.2')).toEqual([117.5, 49.2]);
    expect(() => parseCenter('117.5')).toThrow(RangeError);
    const r = makeRegion(DEFAULT_CENTER, 38);
    expect(r.epsg).toBe(32650);
    expect(r.grid.originX % 240).toBe(0);
    expect((r.grid.width * 10) % 240).toBe(0);
    expect(r.sizeKm ** 2).toBeGreaterThan(1300);
    expect(r.sizeKm ** 2).toBeLessThan(1600);
    expect(mgrsTile(r)).toBe('50UNV');
  });

  it('each window has 2–3 Sentinel-2 scenes (one cloudy), one Landsat and one GF-1', () => {
    const scenes = sceneDefs(makeRegion(DEFAULT_CENTER, 6), 1);
    for (const w of ['before', 'after'] as const) {
      const s = scenes.filter((x) => x.window === w);
      const s2 = s.filter((x) => x.sensor === 's2');
      expect(s2.length).toBeGreaterThanOrEqual(2);
      expect(s2.length).toBeLessThanOrEqual(3);
      expect(s2.some((x) => x.cloudCover >= 0.3)).toBe(true);
      expect(s.filter((x) => x.sensor === 'landsat')).toHaveLength(1);
      expect(s.filter((x) => x.sensor === 'gf')).toHaveLength(1);
      for (const x of s) for (const m of x.misregM) expect(Math.abs(m)).toBeLessThan(15);
    }
    expect(new Set(scenes.map((s) => s.id)).size).toBe(scenes.length);
  });
});

describe('generation', () => {
  const region = makeRegion(DEFAULT_CENTER, 6);
  const generate = (seed: number) => {
    const l = buildLandscape(region, geo, seed);
    const z = baseZones(l);
    const plan = planEvents(l, z, seed);
    return { l, plan };
  };
  const digest = (g: ReturnType<typeof generate>) =>
    createHash('sha256')
      .update(g.l.cls)
      .update(g.l.tex)
      .update(new Uint8Array(g.l.parcel.buffer))
      .update(JSON.stringify(g.plan))
      .digest('hex');
  const a = generate(1);

  it('holds the real lake, the outflow channel, wetland, steppe, forest, cropland and a mine', () => {
    const count = (c: number) => a.l.cls.reduce((n, v) => n + (v === c ? 1 : 0), 0);
    for (const c of [CLASS.lake, CLASS.river, CLASS.marsh, CLASS.steppe, CLASS.conifer, CLASS.minePit]) {
      expect(count(c), String(c)).toBeGreaterThan(100);
    }
    expect(a.l.parcels.length).toBeGreaterThan(0);
    expect(a.l.lakes.map((x) => x.name)).toContain('Hulun Nuur');
  });

  it('plants clues for all eight scenarios and the required decoys', () => {
    const ev = a.plan.events;
    for (const s of SCENARIOS)
      expect(
        ev.some((e) => e.scenario === s && e.expected === 'clue'),
        s,
      ).toBe(true);
    const decoys = new Set(ev.filter((e) => e.expected === 'decoy').map((e) => e.kind));
    for (const k of ['within-valid-permit', 'expansion-inside-permit', 'outside-zoning'])
      expect(decoys.has(k), k).toBe(true);
    expect([...decoys].some((k) => k.startsWith('harvest'))).toBe(true);
    const sizes = ev.filter((e) => e.expected === 'clue').map((e) => e.areaM2);
    expect(Math.min(...sizes)).toBeLessThan(1000);
    expect(Math.max(...sizes)).toBeGreaterThan(10_000);
    for (const e of ev) expect(e.date >= '2024-07-01' && e.date <= '2025-08-31', e.id).toBe(true);
    expect(a.plan.tempPermits.length).toBe(3);
  });

  it('records the other scenarios a change falls under: never its own, never for natural decoys', () => {
    for (const e of a.plan.events) {
      if (e.expected === 'decoy' && !['expansion-inside-permit', 'within-valid-permit'].includes(e.kind))
        expect(e.alsoScenarios, e.id).toBeUndefined();
      for (const s of e.alsoScenarios ?? []) {
        expect(s, e.id).not.toBe(e.scenario);
        expect(['temporary-land', 'mine']).not.toContain(s);
      }
    }
  });

  it('is deterministic in memory: same seed, same world; another seed, another world', () => {
    expect(digest(generate(1))).toBe(digest(a));
    expect(digest(generate(2))).not.toBe(digest(a));
  });
});

describe('alsoConcerns (truth labels of changes under several laws)', () => {
  const under = (zone: number, before: number, n = 10, cropland = 0) => ({
    zone: new Uint8Array(n).fill(zone),
    before: new Uint16Array(n).fill(before),
    cropland: new Uint8Array(n).fill(cropland),
  });
  it('a wetland filled and built on inside a river management area is river damage too', () => {
    const f = under(ZONE.wetland | ZONE.river | ZONE.grassland, CLASS.marsh);
    expect(alsoConcerns('wetland', f, [CLASS.construction, CLASS.roof])).toEqual(['river']);
    // The same building placed as a river clue: the wetland law applies (marsh before).
    expect(alsoConcerns('river', f, [CLASS.construction, CLASS.roof])).toEqual(['wetland']);
  });
  it('ploughing is not a river offence; wet meadow ploughed in a grassland polygon is grassland damage', () => {
    const f = under(ZONE.wetland | ZONE.river | ZONE.grassland, CLASS.wetMeadow);
    expect(alsoConcerns('wetland', f, [CLASS.bareBlack])).toEqual(['grassland']);
  });
  it('needs at least half of the footprint inside the layer and of the ground to have been that cover', () => {
    const half = {
      zone: Uint8Array.from([ZONE.wetland, ZONE.wetland, ZONE.wetland, 0, 0, 0, 0]),
      before: new Uint16Array(7).fill(CLASS.marsh),
      cropland: new Uint8Array(7),
    };
    expect(alsoConcerns('river', half, [CLASS.fill])).toEqual([]);
    const steppe = under(ZONE.wetland | ZONE.forest, CLASS.steppe);
    expect(alsoConcerns('grassland', steppe, [CLASS.ploughedSteppe])).toEqual([]);
    expect(alsoConcerns('mine', under(ZONE.blackSoil, 0, 10, 1), [CLASS.minePit])).toEqual(['black-soil']);
  });
  it('a bloom on the water is the lake scenario alone; permits are never implied', () => {
    const f = under(ZONE.lake | ZONE.wetland, CLASS.lake);
    expect(alsoConcerns('hulun-lake', f, [CLASS.bloom])).toEqual([]);
    expect(
      alsoConcerns('river', under(ZONE.tempPermit | ZONE.minePermit, CLASS.steppe), [CLASS.fill]),
    ).toEqual([]);
  });
});

describe('shapefile writer', () => {
  it('writes polygons clockwise with a valid header, a dBase table in UTF-8 and a readable ZIP', () => {
    const { shp, shx, dbf } = encodeShapefile(
      [
        {
          polygons: [
            [
              [
                [0, 0],
                [10, 0],
                [10, 10],
                [0, 10],
              ],
            ],
          ],
          properties: { permit_no: 'LS-1', holder: '呼伦贝尔（模拟）', valid_to: '2026-06-30' },
        },
      ],
      [
        { name: 'permit_no', type: 'C' },
        { name: 'holder', type: 'C' },
        { name: 'valid_to', type: 'D' },
      ],
    );
    expect(shp.readInt32BE(0)).toBe(9994);
    expect(shp.readInt32BE(24) * 2).toBe(shp.length);
    expect(shp.readInt32LE(32)).toBe(5);
    expect(shx.readInt32BE(24) * 2).toBe(shx.length);
    // Shapefile rings run clockwise: negative shoelace area over the five stored points.
    const pts = 100 + 8 + 44 + 4;
    const ring = Array.from({ length: 5 }, (_, k) => [
      shp.readDoubleLE(pts + 16 * k),
      shp.readDoubleLE(pts + 16 * k + 8),
    ]);
    let area = 0;
    for (let k = 0; k < 4; k++) area += ring[k]![0]! * ring[k + 1]![1]! - ring[k + 1]![0]! * ring[k]![1]!;
    expect(area).toBeLessThan(0);
    expect(ring[4]).toEqual(ring[0]);
    expect(dbf.readUInt32LE(4)).toBe(1);
    expect(dbf.includes(Buffer.from('呼伦贝尔（模拟）', 'utf8'))).toBe(true);
    expect(dbf.includes(Buffer.from('20260630', 'latin1'))).toBe(true);
    const z = zip([{ name: 'a.txt', data: Buffer.from('hello hello hello') }]);
    expect(z.readUInt32LE(0)).toBe(0x04034b50);
    const size = z.readUInt32LE(18);
    expect(inflateRawSync(z.subarray(30 + 5, 30 + 5 + size)).toString()).toBe('hello hello hello');
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
