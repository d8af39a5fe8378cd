import { open, stat } from 'node:fs/promises';
import { fromFile, type GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { SkypatrolError, wrapError } from '../../core/errors.ts';
import type { Grid } from '../../domain/geo/grid.ts';

/** A GeoTIFF band file opened for reading: its grid, nodata and a reader. */
export interface OpenedRaster {
  path: string;
  grid: Grid;
  bands: number;
  nodata: number | null;
  dtype: string;
  /** Read one band (0-based) as float32; nodata becomes NaN. Closes nothing. */
  readBand(index: number): Promise<Float32Array>;
  close(): Promise<void>;
}

const TIFF_MAGIC = new Set(['49492a00', '4d4d002a', '49492b00', '4d4d002b']);

/** Check the first bytes so that "not a TIFF" is told apart from "a broken TIFF". */
async function assertTiffMagic(path: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new SkypatrolError('SCENE_NOT_TIFF', `${path} is not a file`);
    fh = await open(path, 'r');
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead < 4 || !TIFF_MAGIC.has(buf.toString('hex'))) {
      throw new SkypatrolError('SCENE_NOT_TIFF', `${path} is not a TIFF file`);
    }
  } catch (err) {
    throw wrapError(err, 'SCENE_NOT_FOUND', `cannot read ${path}`);
  } finally {
    await fh?.close();
  }
}

function epsgOf(image: GeoTIFFImage, path: string): number {
  const keys = image.getGeoKeys() as Record<string, number | undefined> | null;
  const code = keys?.ProjectedCSTypeGeoKey ?? keys?.GeographicTypeGeoKey;
  if (!code || code === 32767) {
    throw new SkypatrolError('SCENE_CRS_UNSUPPORTED', `${path} has no EPSG code in its GeoKeys`);
  }
  return code;
}

/**
 * geotiff.js reads past the end of a truncated file as zeros, which would look like a
 * scene full of "no data". Check that every strip/tile lies inside the file instead.
 */
async function assertComplete(image: GeoTIFFImage, path: string): Promise<void> {
  const dir = image.fileDirectory as {
    StripOffsets?: ArrayLike<number>;
    StripByteCounts?: ArrayLike<number>;
    TileOffsets?: ArrayLike<number>;
    TileByteCounts?: ArrayLike<number>;
  };
  const offsets = dir.TileOffsets ?? dir.StripOffsets;
  const counts = dir.TileByteCounts ?? dir.StripByteCounts;
  if (!offsets || !counts) return;
  let end = 0;
  for (let i = 0; i < offsets.length; i++) end = Math.max(end, offsets[i]! + (counts[i] ?? 0));
  const { size } = await stat(path);
  if (end > size) {
    throw new SkypatrolError(
      'SCENE_CORRUPT',
      `${path} is truncated: its pixel data needs ${end} bytes, the file has ${size}`,
    );
  }
}

/** Open a local GeoTIFF. Throws SCENE_NOT_TIFF / SCENE_CORRUPT / SCENE_CRS_UNSUPPORTED. */
export async function openGeoTiff(path: string): Promise<OpenedRaster> {
  await assertTiffMagic(path);
  let tiff: GeoTIFF;
  let image: GeoTIFFImage;
  try {
    tiff = await fromFile(path);
    image = await tiff.getImage();
  } catch (err) {
    throw wrapError(err, 'SCENE_CORRUPT', `${path} is not a readable GeoTIFF`);
  }
  await assertComplete(image, path);
  let origin: number[];
  let resolution: number[];
  try {
    origin = image.getOrigin();
    resolution = image.getResolution();
  } catch (err) {
    throw wrapError(err, 'SCENE_CRS_UNSUPPORTED', `${path} has no georeferencing`);
  }
  const grid: Grid = {
    epsg: epsgOf(image, path),
    width: image.getWidth(),
    height: image.getHeight(),
    originX: origin[0]!,
    originY: origin[1]!,
    resX: Math.abs(resolution[0]!),
    resY: Math.abs(resolution[1]!),
  };
  const nodata = image.getGDALNoData();
  const format = (image.fileDirectory as { SampleFormat?: number[] }).SampleFormat?.[0] ?? 1;
  const bits = image.getBitsPerSample();
  const dtype = `${format === 3 ? 'float' : format === 2 ? 'int' : 'uint'}${bits}`;
  return {
    path,
    grid,
    bands: image.getSamplesPerPixel(),
    nodata,
    dtype,
    async readBand(index: number) {
      if (index < 0 || index >= image.getSamplesPerPixel()) {
        throw new SkypatrolError('SCENE_MISSING_BAND', `${path} has no band ${index + 1}`);
      }
      let raw: ArrayLike<number>;
      try {
        const rasters = await image.readRasters({ samples: [index], interleave: false });
        raw = (rasters as unknown as ArrayLike<number>[])[0]!;
      } catch (err) {
        throw wrapError(err, 'SCENE_CORRUPT', `${path}: pixel data cannot be decoded`);
      }
      const out = new Float32Array(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const v = raw[i]!;
        out[i] = nodata !== null && v === nodata ? Number.NaN : v;
      }
      return out;
    },
    async close() {
      tiff.close();
    },
  };
}
