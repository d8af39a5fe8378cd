import { describe, expect, it } from 'vitest';
import { SkypatrolError } from '../../services/core/errors.ts';
import { checkFeatureGeometry, polygonalProblem } from '../../services/domain/zoning/features.ts';
import { parseGeoJson } from '../../services/domain/zoning/geojson.ts';
import {
  isIsoDate,
  isZoneKind,
  LAYER_SPECS,
  normalizeProperties,
  validateProperties,
  ZONE_KINDS,
} from '../../services/domain/zoning/layers.ts';
import {
  crsFromGeoJsonMember,
  isSupportedEpsg,
  parseSrsReference,
} from '../../services/domain/zoning/srs.ts';

const square = {
  type: 'Polygon',
  coordinates: [
    [
      [120, 49],
      [120.1, 49],
      [120.1, 49.1],
      [120, 49.1],
      [120, 49],
    ],
  ],
};

describe('layer contract', () => {
  it('has the nine kinds of contracts.md with their required properties', () => {
    expect([...ZONE_KINDS].sort()).toEqual(
      [
        'admin_division',
        'black_soil_zone',
        'forest_land',
        'grassland',
        'lake_protection_zone',
        'mining_permit',
        'river_management_area',
        'temporary_land_permit',
        'wetland_reserve',
      ].sort(),
    );
    const required = Object.fromEntries(
      ZONE_KINDS.map((k) => [k, LAYER_SPECS[k].required.map((p) => p.name)]),
    );
    expect(required).toEqual({
      temporary_land_permit: ['permit_no', 'reclaim_by'],
      mining_permit: ['permit_no', 'valid_to'],
      forest_land: [],
      black_soil_zone: [],
      river_management_area: [],
      grassland: [],
      lake_protection_zone: [],
      wetland_reserve: [],
      admin_division: ['name', 'adcode'],
    });
    expect(LAYER_SPECS.temporary_land_permit.optional.map((p) => p.name)).toEqual([
      'holder',
      'valid_from',
      'valid_to',
      'purpose',
    ]);
    expect(LAYER_SPECS.mining_permit.optional.map((p) => p.name)).toEqual([
      'holder',
      'valid_from',
      'mineral',
    ]);
    expect(isZoneKind('forest_land')).toBe(true);
    expect(isZoneKind('forest')).toBe(false);
  });
});

describe('isIsoDate', () => {
  it.each(['2025-06-30', '2024-02-29', '2000-01-01', '1999-12-31'])('accepts %s', (d) => {
    expect(isIsoDate(d)).toBe(true);
  });
  it.each([
    '2025-02-30',
    '2023-02-29',
    '2025-13-01',
    '2025-00-10',
    '2025-6-30',
    '2025/06/30',
    '20250630',
    '2025-06-30T00:00:00Z',
    ' 2025-06-30',
    '',
  ])('rejects %j', (d) => {
    expect(isIsoDate(d)).toBe(false);
  });
  it('rejects non-strings', () => {
    expect(isIsoDate(20250630)).toBe(false);
    expect(isIsoDate(new Date('2025-06-30'))).toBe(false);
    expect(isIsoDate(null)).toBe(false);
  });
});

describe('validateProperties', () => {
  it('accepts a complete temporary-land permit', () => {
    expect(
      validateProperties(
        'temporary_land_permit',
        { permit_no: '临字001', reclaim_by: '2025-06-30', holder: '某公司', valid_from: '2023-07-01' },
        0,
      ),
    ).toEqual([]);
  });

  it('names the feature index and the missing property', () => {
    const [p, ...rest] = validateProperties('temporary_land_permit', { permit_no: 'A-1' }, 7);
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ index: 7, code: 'ZONES_MISSING_PROPERTY', property: 'reclaim_by' });
    expect(p!.message).toMatch(/^feature 7: missing required property "reclaim_by"/);
  });

  it('counts null and blank strings as missing, and reports every problem', () => {
    const problems = validateProperties('mining_permit', { permit_no: '  ', valid_to: null }, 2);
    expect(problems.map((p) => [p.code, p.property])).toEqual([
      ['ZONES_MISSING_PROPERTY', 'permit_no'],
      ['ZONES_MISSING_PROPERTY', 'valid_to'],
    ]);
  });

  it('rejects a bad required or optional date with the index and value', () => {
    const [p] = validateProperties('mining_permit', { permit_no: 'C1', valid_to: '2025-02-30' }, 4);
    expect(p).toMatchObject({ index: 4, code: 'ZONES_INVALID_PROPERTY', property: 'valid_to' });
    expect(p!.message).toBe(
      'feature 4: property "valid_to" is "2025-02-30", not an ISO 8601 date (YYYY-MM-DD)',
    );
    const [q] = validateProperties(
      'temporary_land_permit',
      { permit_no: 'T1', reclaim_by: '2025-06-30', valid_from: '2023/07/01' },
      0,
    );
    expect(q).toMatchObject({ code: 'ZONES_INVALID_PROPERTY', property: 'valid_from' });
    // A blank optional date is simply absent.
    expect(
      validateProperties('mining_permit', { permit_no: 'C1', valid_to: '2030-01-01', valid_from: '' }, 0),
    ).toEqual([]);
  });

  it('accepts numbers as text (DBF numeric fields, numeric adcodes) but not objects', () => {
    expect(validateProperties('admin_division', { name: '海拉尔区', adcode: 150702 }, 0)).toEqual([]);
    const [p] = validateProperties('admin_division', { name: { zh: '海拉尔区' }, adcode: '150702' }, 1);
    expect(p).toMatchObject({ code: 'ZONES_INVALID_PROPERTY', property: 'name' });
  });

  it("checks admin_division's level against county/township", () => {
    expect(validateProperties('admin_division', { name: 'x', adcode: '150702', level: 'county' }, 0)).toEqual(
      [],
    );
    const [p] = validateProperties('admin_division', { name: 'x', adcode: '150702', level: 'city' }, 3);
    expect(p!.message).toBe('feature 3: property "level" is "city", not one of county, township');
  });

  it('matches property names case-insensitively (Shapefile fields are often upper case)', () => {
    expect(
      validateProperties('temporary_land_permit', { PERMIT_NO: 'T1', Reclaim_By: '2025-06-30' }, 0),
    ).toEqual([]);
  });

  it('needs nothing for the kinds without required properties', () => {
    for (const kind of ZONE_KINDS.filter((k) => LAYER_SPECS[k].required.length === 0))
      expect(validateProperties(kind, {}, 0)).toEqual([]);
  });
});

describe('normalizeProperties', () => {
  it('renames contract properties to their canonical names, trims them and keeps the rest', () => {
    expect(
      normalizeProperties('temporary_land_permit', {
        PERMIT_NO: ' T1 ',
        RECLAIM_BY: '2025-06-30',
        HOLDER: '',
        area_mu: 12.5,
      }),
    ).toEqual({ permit_no: 'T1', reclaim_by: '2025-06-30', holder: null, area_mu: 12.5 });
  });
});

describe('SRS references', () => {
  it.each([
    ['EPSG:4547', 4547],
    ['epsg:4490', 4490],
    ['4326', 4326],
    ['urn:ogc:def:crs:EPSG::4490', 4490],
    ['urn:ogc:def:crs:EPSG:6.6:4326', 4326],
    ['http://www.opengis.net/def/crs/EPSG/0/4547', 4547],
    ['urn:ogc:def:crs:OGC:1.3:CRS84', 4326],
    ['urn:ogc:def:crs:OGC::CRS84', 4326],
  ])('%s → %i', (ref, epsg) => {
    expect(parseSrsReference(ref)).toBe(epsg);
  });

  it('returns null for what is not an EPSG reference', () => {
    for (const ref of ['EPSG:', 'WGS84', 'ESRI:102100', 'EPSG:4547x'])
      expect(parseSrsReference(ref)).toBeNull();
  });

  it('supports what crs.ts can project, nothing else', () => {
    for (const c of [4326, 4490, 4513, 4533, 4534, 4554, 32650, 32751]) expect(isSupportedEpsg(c)).toBe(true);
    for (const c of [4512, 4555, 2435, 3395, 4214, 0]) expect(isSupportedEpsg(c)).toBe(false);
  });

  it('reads the legacy GeoJSON crs member in its name and EPSG forms', () => {
    expect(crsFromGeoJsonMember(undefined)).toBeUndefined();
    expect(crsFromGeoJsonMember(null)).toBeUndefined();
    expect(
      crsFromGeoJsonMember({ type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4490' } }),
    ).toEqual({
      epsg: 4490,
      text: 'urn:ogc:def:crs:EPSG::4490',
    });
    expect(crsFromGeoJsonMember({ type: 'EPSG', properties: { code: 4547 } })).toMatchObject({ epsg: 4547 });
    expect(crsFromGeoJsonMember({ type: 'link', properties: { href: 'x.prj' } })).toHaveProperty('error');
    expect(crsFromGeoJsonMember({ type: 'name', properties: { name: 'Beijing 1954' } })).toHaveProperty(
      'error',
    );
  });
});

describe('geometry checks', () => {
  it('accepts well-formed polygons and multipolygons, whatever their ring orientation', () => {
    expect(polygonalProblem(square)).toBeNull();
    const cw = { type: 'Polygon', coordinates: [square.coordinates[0]!.slice().reverse()] };
    expect(polygonalProblem(cw)).toBeNull();
    expect(polygonalProblem({ type: 'MultiPolygon', coordinates: [square.coordinates] })).toBeNull();
  });

  it.each([
    [null, /has no geometry/],
    [
      {
        type: 'LineString',
        coordinates: [
          [0, 0],
          [1, 1],
        ],
      },
      /is a LineString, not a Polygon or MultiPolygon/,
    ],
    [{ type: 'GeometryCollection', geometries: [square] }, /is a GeometryCollection/],
    [{ type: 'Polygon', coordinates: [] }, /has no rings/],
    [
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [0, 0],
          ],
        ],
      },
      /ring 0 has 3 positions/,
    ],
    [
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        ],
      },
      /ring 0 is not closed/,
    ],
    [
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 'a'],
            [1, 1],
            [0, 0],
          ],
        ],
      },
      /not \[x, y\] numbers/,
    ],
    [{ type: 'MultiPolygon', coordinates: [] }, /has no polygons/],
  ])('rejects %j', (g, reason) => {
    expect(polygonalProblem(g)).toMatch(reason);
  });

  it('rejects projected coordinates read as longitude/latitude', () => {
    const metres = {
      type: 'Polygon',
      coordinates: [
        [
          [618240, 5375261],
          [619671, 5377516],
          [619718, 5375292],
          [618240, 5375261],
        ],
      ],
    };
    const p = checkFeatureGeometry({ index: 5, properties: {}, geometry: metres }, true, 'EPSG:4326');
    expect(p?.message).toMatch(
      /^feature 5: coordinates .* are not longitude\/latitude in EPSG:4326; .*--srs/,
    );
    expect(
      checkFeatureGeometry({ index: 5, properties: {}, geometry: metres }, false, 'EPSG:4547'),
    ).toBeNull();
  });
});

describe('parseGeoJson', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof SkypatrolError ? `${err.code}: ${err.message}` : String(err);
    }
    return 'no error';
  };

  it('reads a FeatureCollection, a single Feature and the crs member, with a BOM', () => {
    const fc = {
      type: 'FeatureCollection',
      features: [{ type: 'Feature', properties: { name: '湖' }, geometry: square }],
    };
    const layer = parseGeoJson(bytes(`\uFEFF${JSON.stringify(fc)}`), 'a.geojson');
    expect(layer.features).toEqual([{ index: 0, properties: { name: '湖' }, geometry: square }]);
    expect(layer.crs).toBeUndefined();
    const one = parseGeoJson(
      bytes(JSON.stringify({ type: 'Feature', properties: null, geometry: square })),
      'b',
    );
    expect(one.features[0]!.properties).toEqual({});
    const withCrs = parseGeoJson(
      bytes(JSON.stringify({ ...fc, crs: { type: 'name', properties: { name: 'EPSG:4490' } } })),
      'c',
    );
    expect(withCrs.crs).toEqual({ epsg: 4490, text: 'EPSG:4490' });
  });

  it('decodes GB18030 text when the bytes are not UTF-8', () => {
    const gbk = new Uint8Array([
      ...bytes('{"type":"Feature","properties":{"name":"'),
      0xba,
      0xf4,
      0xc2,
      0xd7, // 呼伦 in GBK
      ...bytes(`"},"geometry":${JSON.stringify(square)}}`),
    ]);
    expect(parseGeoJson(gbk, 'gbk.geojson').features[0]!.properties.name).toBe('呼伦');
  });

  it('rejects what is not GeoJSON features with ZONES_INVALID_FILE', () => {
    expect(code(() => parseGeoJson(bytes('PK not json'), 'x.geojson'))).toMatch(
      /^ZONES_INVALID_FILE: x.geojson: not JSON/,
    );
    expect(code(() => parseGeoJson(bytes('[1,2]'), 'x'))).toMatch(
      /ZONES_INVALID_FILE: x: not a GeoJSON object/,
    );
    expect(code(() => parseGeoJson(bytes(JSON.stringify(square)), 'x'))).toMatch(
      /"Polygon" is not a FeatureCollection/,
    );
    expect(code(() => parseGeoJson(bytes('{"type":"FeatureCollection"}'), 'x'))).toMatch(
      /without a "features" array/,
    );
    expect(
      code(() => parseGeoJson(bytes('{"type":"FeatureCollection","features":[{"type":"Point"}]}'), 'x')),
    ).toMatch(/feature 0 is not a GeoJSON Feature/);
  });
});
