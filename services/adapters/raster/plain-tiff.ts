import { fromFile } from 'geotiff';
import { wrapError } from '../../core/errors.ts';

/** Read band 1 of a TIFF that may lack georeferencing (e.g. OSCD change masks). */
export async function readPlainTiff(
  path: string,
): Promise<{ width: number; height: number; data: ArrayLike<number> }> {
  try {
    const tiff = await fromFile(path);
    try {
      const image = await tiff.getImage();
      const rasters = (await image.readRasters({
        samples: [0],
        interleave: false,
      })) as unknown as ArrayLike<number>[];
      return { width: image.getWidth(), height: image.getHeight(), data: rasters[0]! };
    } finally {
      tiff.close();
    }
  } catch (err) {
    throw wrapError(err, 'SCENE_CORRUPT', `cannot read ${path}`);
  }
}
