"""Cost of one Levenberg-Marquardt Jacobian on the ten J0056 images, by image and in total.

Run: ``.venv/bin/python benchmarks/jacobian.py [--repeat 5]``

Builds the quickstart fit (``shared/data/j0056_quickstart``: SDSS u g r i z
66 x 66, 2MASS J H Ks 26 x 26, GALEX FUV NUV 16 x 16, bulge + disk, PSFs
upsampled 3 times) and times, warm, each image's Jacobian in its 17 local
parameters three ways, in one process:

* ``before``: forward mode through the whole rendering with 2 x 2
  Gauss-Legendre points in every fine pixel (the fitters' Jacobian before
  the fine-grid window of ``profiles.fine_grid_sampling`` and the
  per-component scheme);
* ``dense``: forward mode through the whole rendering, one tangent per local
  parameter through every component (``kernels._dense_jacobian``);
* ``per component``: what the fitters use (``kernels.image_jacobian``): each
  component differentiated in its own grid parameters, the convolution
  applied to those derivative images, the chain to the local parameters on
  scalars.

It checks that ``dense`` and ``per component`` agree (largest difference
relative to the column's largest entry) and prints the median of
``--repeat`` timings per image, the sum over the ten images (one LM step's
Jacobians) and the ratios.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "j0056_quickstart"


def _median_time(function, repeat: int) -> float:
    jax.block_until_ready(function())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference import fit, kernels, optimize
    from galfits_nb.models import scene

    warnings.simplefilter("ignore")
    config = read_lyric(DATA / "quickstart.lyric")
    built = fit.build_problem(config, read_observation(config))
    problem = built.problem
    u = optimize._start_vector(built.table, problem)
    theta, _ = kernels.local_values_and_jacobian(u, problem)

    dense = jax.jit(kernels._dense_jacobian, static_argnames="frame")
    before = jax.jit(lambda t, a, frame: kernels._dense_jacobian(t, a, frame), static_argnames="frame")
    rule = scene.fine_grid_sampling
    rows = []
    for label, layout, arrays in zip(built.scene.labels, kernels.image_layouts(problem), problem.scene.images):
        local = theta[layout.start : layout.stop]
        frame = layout.frame
        # The earlier rule: 2 x 2 points in every fine pixel, no window.
        scene.fine_grid_sampling = lambda sampling, factor: rule(sampling, factor)._replace(
            oversampling=rule(sampling, factor).window_oversampling, window_size=0)
        try:
            t_before = _median_time(lambda: before(local, arrays, frame), args.repeat)
        finally:
            scene.fine_grid_sampling = rule
        j_dense = dense(local, arrays, frame)[2]
        t_dense = _median_time(lambda: dense(local, arrays, frame), args.repeat)
        j_comp = kernels.image_jacobian(local, arrays, frame)[2]
        t_comp = _median_time(lambda: kernels.image_jacobian(local, arrays, frame), args.repeat)
        scale = np.abs(np.asarray(j_dense)).max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        agree = float((np.abs(np.asarray(j_comp - j_dense)).max(axis=0) / scale).max())
        rows.append((label, arrays.data.shape, t_before, t_dense, t_comp, agree))

    print(f"device: {jax.devices()[0].device_kind}; {len(rows)} images, {theta.shape[0]} local values")
    print("| image | shape | before [ms] | dense [ms] | per component [ms] | largest difference |")
    print("|---|---|---|---|---|---|")
    for label, shape, t_before, t_dense, t_comp, agree in rows:
        print(f"| {label} | {shape[0]}x{shape[1]} | {t_before * 1e3:.1f} | {t_dense * 1e3:.1f} | {t_comp * 1e3:.1f} "
              f"| {agree:.1e} |")
    total = np.sum([[r[2], r[3], r[4]] for r in rows], axis=0)
    print(f"| all ten (one LM step) | | {total[0] * 1e3:.0f} | {total[1] * 1e3:.0f} | {total[2] * 1e3:.0f} | |")
    print(f"ratios: before / per component {total[0] / total[2]:.2f}; dense / per component {total[1] / total[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
