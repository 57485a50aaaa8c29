"""Parameter recovery on random GalSim-rendered images (prints a report).

Run: ``.venv/bin/python benchmarks/recovery.py [--cases 50] [--first-seed 1000] [--x64]``
(``--x64`` runs JAX in float64; the default is JAX's float32). The exit
status is 1 when a parameter type misses the requirement.

Case ``i`` (0-based) is drawn by ``tests/galsim_cases.py`` from seed
``first_seed + i`` with layout ``LAYOUTS[i % 4]``: 1 or 5 bands, 1 (Sersic)
or 2 (bulge + disk) components, noisy images at an optimal S/N of 100-1000
per band, start values perturbed from the truth (ranges in that module's
docstring). Each case is fitted with Levenberg-Marquardt through the user
path (``read_lyric`` + ``read_observation`` + ``fit_images``); cases of one
layout are fitted one after the other so that they share one compilation.

For every fitted parameter with a truth the pull ``(fit - truth) / sigma`` is
computed with the 1-sigma Hessian error of the fit (PA differences wrapped
into [-90, 90) deg, fluxes compared as 10**logNorm with the error carried
from logNorm to first order). Each case
line gives, in brackets, per parameter type whether the case is within 2
sigma for that type, then the checked parameters as ``ok`` (|pull| <= 2) or
their pull. "Within 2 sigma for a type" compares the squared Mahalanobis
distance of all the case's values of the type (two Re in a bulge + disk
case, ten fluxes in a five-band one) under their covariance with the chi^2
quantile of probability 95.45 % (``|pull| <= 2`` for a single value;
:func:`galsim_cases.joint_distances`).

The summary gives, per parameter type (Re, n, q, PA, flux; centres and sky
for information): the fraction of cases within 2 sigma (95.4 % expected;
the requirement is >= 90 %), and over single values the fraction within 2
sigma and 1 sigma (95.4 % and 68.3 % expected) and the mean and standard
deviation of the pulls (0 and 1 when the errors are right). Single values of
one case are correlated (a five-band bulge's fluxes move together with its
shape), so their fraction scatters far more between runs than the fraction
of cases. It ends with the total wall time and the mean time per fit
(compilation included, once per layout).
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
    joint: dict[int, dict[str, tuple[float, int, bool]]] = {}
    rows: dict[int, str] = {}
    fit_times: list[float] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="galfits_recovery_") as folder:
        for i in tqdm(order, desc="fits", unit="fit"):
            layout = gc.LAYOUTS[i % len(gc.LAYOUTS)]
            case = gc.make_case(Path(folder) / f"case{i:03d}", args.first_seed + i, *layout)
            result = gc.fit_case(case)
            fit_times.append(result.wall_time)
            values = result.table.values()
            pulls[i] = gc.recovery_pulls(values, result.sigma, case.truth)
            joint[i] = gc.joint_distances(values, result.covariance, result.free_names, case.truth)
            flags = " ".join(
                f"{_short(name)}:{'ok' if abs(p) <= 2 else f'{p:+.1f}'}"
                for name, p in pulls[i].items()
                if gc.parameter_type(name) is not None
            )
            verdicts = " ".join(f"{kind}:{'ok' if ok else 'FAIL'}" for kind, (_, _, ok) in joint[i].items())
            snr = "/".join(f"{v:.0f}" for v in case.spec.snr.values())
            rows[i] = (
                f"{i:3d} seed {case.spec.seed:5d} {layout[0]}b{layout[1]}c  S/N {snr:<20s} "
                f"chi2_nu {result.reduced_chi2:6.3f} steps {result.n_steps:3d} "
                f"{'conv' if result.converged else 'NOCONV'} {result.wall_time:6.1f}s  [{verdicts}]  {flags}"
            )
    total = time.perf_counter() - start

    print(f"# {args.cases} cases, seeds {args.first_seed}..{args.first_seed + args.cases - 1}, "
          f"JAX {jax.__version__} on {jax.devices()[0]}, {'float64' if args.x64 else 'float32'}")
    print("# per case: [type:ok/FAIL within 2 sigma, jointly over the case's values of the type], "
          "then parameter:ok (|pull| <= 2) or the pull; centres and sky not listed")
    for i in range(args.cases):
        print(rows[i])

    by_type: dict[str, list[float]] = defaultdict(list)
    for case_pulls in pulls.values():
        for name, p in case_pulls.items():
            by_type[_type(name)].append(p)
    print()
    print(f"{'type':<8} {'cases <=2 sigma':>16} {'values':>7} {'<=2 sigma':>10} {'<=1 sigma':>10} "
          f"{'mean pull':>10} {'std pull':>9} {'max |pull|':>10}  requirement")
    failed = []
    for kind in TYPES:
        p = np.asarray(by_type[kind], dtype=float)
        if p.size == 0:
            continue
        finite = p[np.isfinite(p)]
        cases, verdict = "", ""
        if kind in gc.PARAMETER_TYPES:
            oks = [joint[i][kind][2] for i in joint if kind in joint[i]]
            fraction = float(np.mean(oks))
            cases = f"{fraction:.1%} of {len(oks)}"
            verdict = "pass" if fraction >= REQUIRED_FRACTION else "FAIL"
            if verdict == "FAIL":
                failed.append(kind)
        print(f"{kind:<8} {cases:>16} {p.size:>7d} {np.mean(np.abs(p) <= 2):>10.1%} {np.mean(np.abs(p) <= 1):>10.1%} "
              f"{np.mean(finite):>10.2f} {np.std(finite):>9.2f} {np.max(np.abs(p)):>10.1f}  {verdict}")
    print()
    print(f"total wall time {total:.1f} s; mean time per fit {np.mean(fit_times):.2f} s "
          f"(median {np.median(fit_times):.2f} s, compilation included once per layout)")
    print("requirement (>= 90 % of cases within 2 sigma per type):", "FAIL: " + ", ".join(failed) if failed else "pass")
    return 1 if failed else 0

if __name__ == "__main__":
    raise SystemExit(main())
