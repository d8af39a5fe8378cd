#!/usr/bin/python3
"""The peer a GIS analyst would write instead of Skypatrol's patrol pipeline (benchmark only).

Reads the same Cloud-Optimized GeoTIFF tiles as the patrol (GDAL warps each scene's bands onto
the 10 m UTM analysis tile), masks clouds with the scene's SCL / QA band, composites each
window (latest clear observation), computes the same indices (NDVI, NDWI, MNDWI, NBR, BSI,
brightness) and their before/after differences, applies nine per-pixel models (logistic, or of
the detectors' own sizes: below), thresholds and polygonizes with gdal.Polygonize. No database
writes.

Two kinds of model (the job's "model_kind"):
  "logistic" (default): nine logistic models over the 22 per-pixel features below;
  "mlp": models of the same size as the detectors' (their manifests' "MLP a→b→1" and seeds):
         per-pixel features plus 5×5 mean/std of 13 of them (48 inputs), for 66-input models also
         15×15 and 45×45 means of 9 before maps, for `change` 19 multi-scale change features
         (3/7/15/31 px means, 7×7 std, relative to the tile mean); features computed once per
         tile and shared, each model a ReLU MLP with seeded random weights (numpy matmul in
         cache-sized chunks; BLAS on one thread: the set-up installs Debian's OpenBLAS, without
         which numpy falls back to the reference BLAS, about 5× slower at this).

Input: a JSON job file written by tests/bench/patrol.ts:
  {"tiles": [{"id", "epsg", "bounds": [xmin, ymin, xmax, ymax], "size",
              "before": [scene...], "after": [scene...]}],
   "models": 9, "model_kind": "logistic" | "mlp",
   "models_spec": [{"inputs": a, "hidden": b, "seeds": k}, ...]}   (mlp only)
  scene = {"bands": {"blue": href, ...}, "scale", "offset", "mask": {"kind", "href"}}
Output (stdout): one JSON line with wall and CPU seconds, tiles, km², polygons.
"""
import json
import sys
import time

import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
gdal.SetConfigOption("GDAL_NUM_THREADS", "1")
gdal.SetCacheMax(256 * 1024 * 1024)

BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]
SCL_CLEAR = {4, 5, 6, 7, 11}


def warp(href, epsg, bounds, size, resample):
    ds = gdal.Warp(
        "",
        href,
        format="MEM",
        dstSRS=f"EPSG:{epsg}",
        outputBounds=bounds,
        width=size,
        height=size,
        resampleAlg=resample,
        dstNodata=0,
    )
    a = ds.GetRasterBand(1).ReadAsArray()
    return a


def read_scene(scene, epsg, bounds, size):
    out = {}
    for b in BANDS:
        href = scene["bands"].get(b)
        if href is None:
            continue
        dn = warp(href, epsg, bounds, size, "bilinear").astype(np.float32)
        out[b] = dn * scene["scale"] + scene["offset"]
    valid = np.ones((size, size), dtype=bool)
    m = scene.get("mask") or {}
    if m.get("href"):
        mask = warp(m["href"], epsg, bounds, size, "near")
        if m.get("kind") == "scl":
            valid = np.isin(mask, list(SCL_CLEAR))
        elif m.get("kind") == "qa_pixel":
            valid = (mask & 0b11010) == 0
    valid &= out["red"] > 0
    return out, valid


def composite(scenes, epsg, bounds, size):
    bands = {b: np.full((size, size), np.nan, dtype=np.float32) for b in BANDS}
    valid = np.zeros((size, size), dtype=bool)
    for scene in scenes:  # oldest first: later clear observations win
        data, v = read_scene(scene, epsg, bounds, size)
        for b in BANDS:
            if b in data:
                bands[b][v] = data[b][v]
        valid |= v
    return bands, valid


def indices(c):
    eps = 1e-6
    blue, green, red, nir = c["blue"], c["green"], c["red"], c["nir"]
    swir1 = np.nan_to_num(c["swir16"], nan=0.2)
    swir2 = np.nan_to_num(c["swir22"], nan=0.15)
    return [
        (nir - red) / (nir + red + eps),
        (green - nir) / (green + nir + eps),
        (green - swir1) / (green + swir1 + eps),
        (nir - swir2) / (nir + swir2 + eps),
        ((swir1 + red) - (nir + blue)) / ((swir1 + red) + (nir + blue) + eps),
        (blue + green + red + nir) / 4,
    ]


def box_mean(a, k):
    """Mean over a k × k window centred on each pixel (edge pixels repeated past the tile), by
    running sums along each axis (float64, then back to float32)."""
    r = k // 2
    h, w = a.shape
    p = np.pad(a.astype(np.float64), ((r + 1, r), (r + 1, r)), mode="edge")
    c = np.cumsum(p, axis=0)
    v = c[k:] - c[:-k]  # (h, w + 2r + 1): sums over k rows
    c = np.cumsum(v, axis=1)
    s = c[:, k:] - c[:, :-k]  # (h, w)
    return (s * (1.0 / (k * k))).astype(np.float32)


def box_std(a, k):
    m = box_mean(a, k)
    return np.sqrt(np.maximum(box_mean(a * a, k) - m * m, 0))


def same_size_features(before, after, fb, base):
    """Feature pools for models of the detectors' sizes (see the module docstring)."""
    maps = [np.nan_to_num(f) for f in base]
    ctx5 = []
    for m in maps[:13]:
        ctx5 += [box_mean(m, 5), box_std(m, 5)]
    pool48 = maps + ctx5  # 22 + 26
    big = []
    for m in [np.nan_to_num(f) for f in fb] + [np.nan_to_num(before[b]) for b in ("blue", "green", "red")]:
        big += [box_mean(m, 15), box_mean(m, 45)]
    pool66 = pool48 + big  # + 18
    diffs = [np.nan_to_num(after[b] - before[b]) for b in BANDS]
    mag = np.sqrt(sum(d * d for d in diffs))
    dot = sum(np.nan_to_num(after[b] * before[b]) for b in BANDS)
    na = np.sqrt(sum(np.nan_to_num(after[b]) ** 2 for b in BANDS))
    nb = np.sqrt(sum(np.nan_to_num(before[b]) ** 2 for b in BANDS))
    ang = np.arccos(np.clip(dot / (na * nb + 1e-6), -1, 1))
    change = diffs + [mag, ang]
    change += [box_mean(mag, k) for k in (3, 7, 15, 31)] + [box_mean(ang, k) for k in (3, 7, 15, 31)]
    change += [box_std(mag, 7), mag - mag.mean(), ang - ang.mean()]  # 19
    # The 48-input models read the first 48 rows of the spectral stack.
    return {"spectral": pool66, "change": change}


def mlp_probs(pools, spec, rng, chunk=16384):
    """Each model's probabilities: ReLU MLPs, seeds averaged in logit space, evaluated in chunks
    of pixels that stay in cache (about 4× faster than one matmul over the whole tile)."""
    probs = []
    stacks = {}
    for m in spec:
        n_in, hidden, seeds = m["inputs"], m["hidden"], m.get("seeds", 1)
        key = "change" if n_in == len(pools["change"]) else "spectral"
        if key not in stacks:
            stacks[key] = np.stack(pools[key]).reshape(len(pools[key]), -1)
        X = stacks[key][:n_in]
        weights = [
            (
                rng.normal(0, 0.3, size=(hidden, X.shape[0])).astype(np.float32),
                rng.normal(0, 0.3, size=(hidden,)).astype(np.float32),
            )
            for _ in range(seeds)
        ]
        logit = np.zeros(X.shape[1], dtype=np.float32)
        for s in range(0, X.shape[1], chunk):
            x = X[:, s : s + chunk]
            for w1, w2 in weights:
                h = w1 @ x
                np.maximum(h, 0, out=h)
                logit[s : s + chunk] += w2 @ h
        probs.append(1 / (1 + np.exp(-(logit / seeds - 2.0))))
    return probs


def main():
    job = json.load(open(sys.argv[1]))
    rng = np.random.default_rng(1)
    n_models = job.get("models", 9)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    stages = {"read_composite": 0.0, "features_models": 0.0, "polygonize": 0.0}
    polygons = 0
    km2 = 0.0
    drv = ogr.GetDriverByName("Memory")
    for tile in job["tiles"]:
        size, epsg, bounds = tile["size"], tile["epsg"], tile["bounds"]
        t0 = time.perf_counter()
        before, vb = composite(tile["before"], epsg, bounds, size)
        after, va = composite(tile["after"], epsg, bounds, size)
        valid = vb & va
        t1 = time.perf_counter()
        fb, fa = indices(before), indices(after)
        feats = fb + fa + [a - b for a, b in zip(fa, fb)]
        feats += [after[b] - before[b] for b in BANDS[:4]]
        if job.get("model_kind") == "mlp":
            probs = mlp_probs(same_size_features(before, after, fb, feats), job["models_spec"], rng)
        else:
            X = np.stack([np.nan_to_num(f) for f in feats]).reshape(len(feats), -1)
            probs = []
            for _ in range(n_models):
                w = rng.normal(0, 1, size=(len(feats),)).astype(np.float32)
                z = w @ X - 2.0
                probs.append(1 / (1 + np.exp(-z)))
        t2 = time.perf_counter()
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        gt = (bounds[0], (bounds[2] - bounds[0]) / size, 0, bounds[3], 0, -(bounds[3] - bounds[1]) / size)
        for p in probs:
            mask = ((p.reshape(size, size) >= 0.8) & valid).astype(np.uint8)
            mem = gdal.GetDriverByName("MEM").Create("", size, size, 1, gdal.GDT_Byte)
            mem.SetGeoTransform(gt)
            mem.SetProjection(srs.ExportToWkt())
            mem.GetRasterBand(1).WriteArray(mask)
            ds = drv.CreateDataSource("out")
            layer = ds.CreateLayer("p", srs=srs)
            layer.CreateField(ogr.FieldDefn("v", ogr.OFTInteger))
            gdal.Polygonize(mem.GetRasterBand(1), mem.GetRasterBand(1), layer, 0, [], callback=None)
            # Drop objects below the minimum mapping unit (1,000 m²), as the patrol does.
            polygons += sum(1 for f in layer if f.GetGeometryRef().GetArea() >= 1000)
        t3 = time.perf_counter()
        stages["read_composite"] += t1 - t0
        stages["features_models"] += t2 - t1
        stages["polygonize"] += t3 - t2
        km2 += float(valid.sum()) * 100 / 1e6
    print(
        json.dumps(
            {
                "wall_s": time.perf_counter() - t_wall,
                "cpu_s": time.process_time() - t_cpu,
                "tiles": len(job["tiles"]),
                "covered_km2": km2,
                "polygons": polygons,
                "stages_s": stages,
                "model_kind": job.get("model_kind", "logistic"),
                "gdal": gdal.__version__,
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
