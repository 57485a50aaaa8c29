"""Parameter recovery on random GalSim-rendered images (prints a report).

Run: ``.venv/bin/python benchmarks/recovery.py [--cases 50] [--first-seed 1000]``.

Case ``i`` (0-based) is drawn by ``tests/galsim_cases.py`` from seed
``first_seed + i`` with layout ``LAYOUTS[i % 4]``: 1 or 5 bands, 1 (Sersic)
or 2 (bulge + disk) components, noisy images at an optimal S/N of 100-1000
per band, start values perturbed from the truth (ranges in that module's
docstring). Each case is fitted with Levenberg-Marquardt through the user
path (``read_lyric`` + ``read_observation`` + ``fit_images``); cases of one
layout are fitted one after the other so that they share one compilation.

For every fitted parameter with a truth the pull ``(fit - truth) / sigma`` is
computed with the 1-sigma Hessian error of the fit (PA differences wrapped
into [-90, 90) deg, fluxes compared as ``logNorm`` with its error). The
report lists, per case, each checked parameter as ``ok`` (|pull| <= 2) or
its pull, and, per parameter type (Re, n, q, PA, flux; centres and sky for
information), the fraction of fitted values within 2 sigma (95.4 % expected
for Gaussian errors; the requirement is >= 90 %), within 1 sigma (68.3 %
expected) and the mean and standard deviation of the pulls (0 and 1 when
the errors are right). It ends with the total wall time and the mean time
per fit (compilation included, once per layout).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import galsim_cases as gc  # noqa: E402

REQUIRED_FRACTION = 0.9
TYPES = (*gc.PARAMETER_TYPES, "centre", "sky")


def _type(name: str) -> str:
    kind = gc.parameter_type(name)
    if kind is not None:
        return kind
    return "sky" if name.startswith("sky_") else "centre"


def _short(name: str) -> str:
    """``logNorm_bulge_sloan_g`` -> ``F_bulge_g``, ``gal_axrat`` -> ``gal_q``."""
    if name.startswith("logNorm_"):
        return "F_" + name[len("logNorm_") :].replace("sloan_", "")
    return name.replace("_axrat", "_q").replace("_ang", "_PA")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50, help="number of random cases (default 50)")
    parser.add_argument("--first-seed", type=int, default=1000, help="seed of case 0 (default 1000)")
    parser.add_argument("--x64", action="store_true", help="run JAX in float64 (default: JAX's float32)")
    args = parser.parse_args(argv)

    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)

    order = sorted(range(args.cases), key=lambda i: (i % len(gc.LAYOUTS), i))  # one compilation per layout
    pulls: dict[int, dict[str, float]] = {}
    rows: dict[int, str] = {}
    fit_times: list[float] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="galfits_recovery_") as folder:
        for i in tqdm(order, desc="fits", unit="fit"):
            layout = gc.LAYOUTS[i % len(gc.LAYOUTS)]
            case = gc.make_case(Path(folder) / f"case{i:03d}", args.first_seed + i, *layout)
            result = gc.fit_case(case)
            fit_times.append(result.wall_time)
            pulls[i] = gc.recovery_pulls(result.table.values(), result.sigma, case.truth)
            flags = " ".join(
                f"{_short(name)}:{'ok' if abs(p) <= 2 else f'{p:+.1f}'}"
                for name, p in pulls[i].items()
                if gc.parameter_type(name) is not None
            )
            snr = "/".join(f"{v:.0f}" for v in case.spec.snr.values())
            rows[i] = (
                f"{i:3d} seed {case.spec.seed:5d} {layout[0]}b{layout[1]}c  S/N {snr:<20s} "
                f"chi2_nu {result.reduced_chi2:6.3f} steps {result.n_steps:3d} "
                f"{'conv' if result.converged else 'NOCONV'} {result.wall_time:6.1f}s  {flags}"
            )
    total = time.perf_counter() - start

    print(f"# {args.cases} cases, seeds {args.first_seed}..{args.first_seed + args.cases - 1}, "
          f"JAX {jax.__version__} on {jax.devices()[0]}, {'float64' if args.x64 else 'float32'}")
    print("# per case: parameter:ok (|pull| <= 2) or the pull; centres and sky not listed")
    for i in range(args.cases):
        print(rows[i])

    by_type: dict[str, list[float]] = defaultdict(list)
    for case_pulls in pulls.values():
        for name, p in case_pulls.items():
            by_type[_type(name)].append(p)
    print()
    print(f"{'type':<8} {'values':>6} {'<=2 sigma':>10} {'<=1 sigma':>10} {'mean pull':>10} {'std pull':>9} "
          f"{'max |pull|':>10}  requirement")
    failed = []
    for kind in TYPES:
        p = np.asarray(by_type[kind], dtype=float)
        if p.size == 0:
            continue
        within2 = float(np.mean(np.abs(p) <= 2))
        within1 = float(np.mean(np.abs(p) <= 1))
        finite = p[np.isfinite(p)]
        verdict = ""
        if kind in gc.PARAMETER_TYPES:
            verdict = "pass" if within2 >= REQUIRED_FRACTION else "FAIL"
            if verdict == "FAIL":
                failed.append(kind)
        print(f"{kind:<8} {p.size:>6d} {within2:>10.1%} {within1:>10.1%} {np.mean(finite):>10.2f} "
              f"{np.std(finite):>9.2f} {np.max(np.abs(p)):>10.1f}  {verdict}")
    print()
    print(f"total wall time {total:.1f} s; mean time per fit {np.mean(fit_times):.2f} s "
          f"(median {np.median(fit_times):.2f} s, compilation included once per layout)")
    print("requirement (>= 90 % within 2 sigma per type):", "FAIL: " + ", ".join(failed) if failed else "pass")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
