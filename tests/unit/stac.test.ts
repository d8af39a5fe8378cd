import { describe, expect, it } from 'vitest';
import { describeItem, earthSunDistance, type StacItem } from '../../services/domain/catalog/stac.ts';
import {
  computedCloudMask,
  identifySensor,
  validFromQaPixel,
  validFromScl,
} from '../../services/domain/imagery/sensors.ts';

const BASE = 'file:///data/scenes/item.json';

function item(over: Partial<StacItem> & { properties?: Record<string, unknown> } = {}): StacItem {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    id: 'S2B_50UPV_20240701_0_L2A',
    collection: 'sentinel-2-l2a',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [119, 49],
          [120, 49],
          [120, 50],
          [119, 50],
          [119, 49],
        ],
      ],
    },
    bbox: [119, 49, 120, 50],
    properties: {
      datetime: '2024-07-01T03:15:00Z',
      platform: 'sentinel-2b',
      constellation: 'sentinel-2',
      'eo:cloud_cover': 12.5,
      'proj:epsg': 32650,
    },
    assets: {
      red: { href: './B04.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized' },
      nir: { href: './B08.tif', type: 'image/tiff; application=geotiff; profile=cloud-optimized' },
      scl: { href: './SCL.tif', type: 'image/tiff; application=geotiff' },
      thumbnail: { href: './thumb.jpg', type: 'image/jpeg', roles: ['thumbnail'] },
    },
    ...over,
  };
}

describe('describeItem', () => {
  it('identifies Sentinel-2 L2A bands by conventional keys and resolves hrefs against the item', () => {
    const d = describeItem(item(), BASE);
    expect(d.sensor).toBe('sentinel-2-l2a');
    expect(Object.keys(d.bands).sort()).toEqual(['nir', 'red']);
    expect(d.bands.red!.href).toBe('file:///data/scenes/B04.tif');
    expect(d.mask).toEqual({ kind: 'scl', href: 'file:///data/scenes/SCL.tif', key: 'scl' });
    expect(d).toMatchObject({ epsg: 32650, cloudCover: 12.5, bbox: [119, 49, 120, 50] });
  });

  it('applies the −1000 DN offset from processing baseline 04.00 (by date, or by the item’s baseline)', () => {
    expect(describeItem(item(), BASE).bands.red).toMatchObject({ scale: 1e-4, offset: -0.1 });
    const old = item({ properties: { ...item().properties, datetime: '2021-07-01T03:15:00Z' } });
    expect(describeItem(old, BASE).bands.red).toMatchObject({ scale: 1e-4, offset: 0 });
    const stated = item({ properties: { ...item().properties, 's2:processing_baseline': '03.01' } });
    expect(describeItem(stated, BASE).bands.red!.offset).toBe(0);
  });

  it('prefers eo:bands common names and raster:bands scaling over the profile', () => {
    const d = describeItem(
      item({
        assets: {
          B04x: {
            href: 'https://example.org/a.tif',
            'eo:bands': [{ common_name: 'red' }],
            'raster:bands': [{ scale: 0.0001, offset: -0.1, nodata: 0 }],
          },
          weird: {
            href: 'https://example.org/b.tif',
            'eo:bands': [{ common_name: 'nir' }],
            'raster:bands': [{ scale: 2e-5, offset: 0.01 }],
          },
        },
      }),
      BASE,
    );
    expect(d.bands.red).toMatchObject({
      key: 'B04x',
      href: 'https://example.org/a.tif',
      scale: 0.0001,
      offset: -0.1,
      nodata: 0,
    });
    expect(d.bands.nir).toMatchObject({ key: 'weird', scale: 2e-5, offset: 0.01 });
  });

  it('maps Landsat 7 SR_B4 and Landsat 8 SR_B5 to nir, with the C2 L2 scaling and QA_PIXEL mask', () => {
    const landsat = (platform: string, assets: StacItem['assets']) =>
      describeItem(
        item({
          id: `L-${platform}`,
          collection: 'landsat-c2-l2',
          properties: { datetime: '2020-06-01T02:00:00Z', platform },
          assets,
        }),
        BASE,
      );
    const l7 = landsat('landsat-7', {
      SR_B4: { href: 'b4.tif' },
      SR_B3: { href: 'b3.tif' },
      qa_pixel: { href: 'qa.tif' },
    });
    expect(l7.sensor).toBe('landsat-c2-l2');
    expect(l7.bands.nir!.key).toBe('SR_B4');
    expect(l7.bands.red!.key).toBe('SR_B3');
    expect(l7.bands.nir).toMatchObject({ scale: 0.0000275, offset: -0.2 });
    expect(l7.mask.kind).toBe('qa_pixel');
    const l8 = landsat('landsat-8', { SR_B5: { href: 'b5.tif' }, SR_B4: { href: 'b4.tif' } });
    expect(l8.bands.nir!.key).toBe('SR_B5');
    expect(l8.bands.red!.key).toBe('SR_B4');
  });

  it('treats the Landsat common name nir08 as the detectors’ nir', () => {
    const d = describeItem(
      item({
        collection: 'landsat-c2-l2',
        properties: { datetime: '2023-06-01T02:00:00Z', platform: 'landsat-9' },
        assets: { nir08: { href: 'n.tif', 'eo:bands': [{ common_name: 'nir08' }] } },
      }),
      BASE,
    );
    expect(d.bands.nir!.key).toBe('nir08');
  });

  it('converts GF radiance gain/offset to TOA reflectance with ESUN and sun elevation', () => {
    const d = describeItem(
      item({
        id: 'GF1_WFV1_E120.1_N49.3_20240701',
        collection: 'gf1-wfv',
        properties: {
          datetime: '2024-07-01T03:00:00Z',
          platform: 'gf-1',
          constellation: 'gf',
          'view:sun_elevation': 60,
        },
        assets: {
          B3: {
            href: 'r.tif',
            'eo:bands': [{ common_name: 'red', solar_illumination: 1561 }],
            'raster:bands': [{ scale: 0.18, offset: 0, unit: 'W/(m2·sr·µm)' }],
          },
        },
      }),
      BASE,
    );
    expect(d.sensor).toBe('gf-wfv');
    const k =
      (Math.PI * earthSunDistance(new Date('2024-07-01T03:00:00Z')) ** 2) / (1561 * Math.sin(Math.PI / 3));
    expect(d.bands.red!.scale).toBeCloseTo(0.18 * k, 12);
    expect(d.mask.kind).toBe('computed');
  });

  it('rejects a GF band without gain/offset, an item without datetime, and an unknown sensor', () => {
    const gf = item({
      collection: 'gf1-wfv',
      properties: { datetime: '2024-07-01T03:00:00Z', platform: 'gf-1' },
      assets: { B3: { href: 'r.tif' } },
    });
    expect(() => describeItem(gf, BASE)).toThrow(/no raster:bands scale\/offset/);
    expect(() => describeItem(item({ properties: { platform: 'sentinel-2b' } }), BASE)).toThrow(
      /no valid datetime/,
    );
    expect(() =>
      describeItem(
        item({ collection: 'x', properties: { datetime: '2024-01-01T00:00:00Z', platform: 'spot-7' } }),
        BASE,
      ),
    ).toThrow(expect.objectContaining({ code: 'SCENE_INVALID' }));
  });

  it('splits a multi-band asset (a 4-band GF GeoTIFF) into its declared bands', () => {
    const d = describeItem(
      item({
        collection: 'gf1-wfv',
        properties: { datetime: '2024-07-01T03:00:00Z', platform: 'gf-1' },
        assets: {
          data: {
            href: 'gf.tif',
            'eo:bands': ['blue', 'green', 'red', 'nir'].map((c) => ({ common_name: c })),
            'raster:bands': [1, 2, 3, 4].map((k) => ({ scale: k * 1e-4, offset: 0 })),
          },
        },
      }),
      BASE,
    );
    expect(Object.keys(d.bands).sort()).toEqual(['blue', 'green', 'nir', 'red']);
    expect(d.bands.red).toMatchObject({ key: 'data', index: 2, declaredBands: 4 });
    expect(d.bands.red!.scale).toBeCloseTo(3e-4, 12);
  });

  it('reads proj:code (STAC projection v2) when proj:epsg is absent', () => {
    const p = { ...item().properties };
    delete p['proj:epsg'];
    p['proj:code'] = 'EPSG:32651';
    expect(describeItem(item({ properties: p }), BASE).epsg).toBe(32651);
  });

  it('uses start_datetime when datetime is null', () => {
    const d = describeItem(
      item({ properties: { ...item().properties, datetime: null, start_datetime: '2024-05-02T00:00:00Z' } }),
      BASE,
    );
    expect(d.datetime.toISOString()).toBe('2024-05-02T00:00:00.000Z');
  });
});

describe('sensor masks', () => {
  it('SCL: only vegetation, bare and water are clear (unclassified thin cloud edges are not)', () => {
    expect([...validFromScl([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])]).toEqual([
      0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0,
    ]);
    // Warped masks are floats: missing (NaN), blended or out-of-range values are not clear.
    const warped = Float32Array.from([Number.NaN, 4.5, -4, 260, 4 + 256, -0, 5, 6]);
    expect([...validFromScl(warped)]).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('QA_PIXEL: fill, dilated cloud, cirrus, cloud, shadow and snow bits invalidate', () => {
    const clear = 1 << 6;
    const values = [clear, clear | 1, clear | 2, clear | 4, clear | 8, clear | 16, clear | 32, 1 << 7];
    expect([...validFromQaPixel(values)]).toEqual([1, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('computed cloud mask flags bright white pixels and keeps vegetation, water and bare soil', () => {
    const px = (b: number, g: number, r: number, n: number) => [b, g, r, n];
    const samples = [
      px(0.45, 0.46, 0.47, 0.5),
      px(0.03, 0.06, 0.04, 0.35),
      px(0.02, 0.03, 0.02, 0.01),
      px(0.12, 0.16, 0.2, 0.26),
    ];
    const col = (k: number) => Float32Array.from(samples, (s) => s[k]!);
    expect([...computedCloudMask(col(0), col(1), col(2), col(3))]).toEqual([0, 1, 1, 1]);
  });

  it('identifies sensors from platform and collection', () => {
    expect(identifySensor({ collection: 'sentinel-2-l1c' })).toBe('sentinel-2-l1c');
    expect(identifySensor({ platform: 'landsat-9' })).toBe('landsat-c2-l2');
    expect(identifySensor({ platform: 'GF-2' })).toBe('gf-pms');
    expect(identifySensor({ platform: 'GF-6', collection: 'gf6-wfv' })).toBe('gf-wfv');
    expect(identifySensor({ platform: 'worldview-3' })).toBeNull();
  });
});
