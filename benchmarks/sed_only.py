"""Pure SED fitting: galfits_nb against bagpipes' own fit of the same photometry (prints a report).

Run: ``.venv/bin/python benchmarks/sed_only.py [--bagpipes-cases 1] [--n-live 200]``

Each case of ``tests/sed_cases.py`` (GALEX to WISE, 14 bands, S/N 20,
burst SFH, known Z, A_V and mass) is made by bagpipes' ``model_galaxy`` with
noise, then fitted

* by galfits_nb: Levenberg-Marquardt from the config's start values through
  the user path (``read_lyric`` + ``read_observation`` + ``fit_images``),
  best fit and Hessian errors; the first fit's time includes compiling, the
  others reuse it;
* by bagpipes: nautilus nested sampling (``bagpipes_reference.bagpipes_fit``)
  with flat priors over the same ranges, posterior medians.

It prints, per case and code, the recovered log living stellar mass and A_V
against the truth, and the wall times; then the ratio of bagpipes' mean time
to galfits_nb's mean time (warm and first call) over the cases both ran. The
two codes answer different questions (a best fit with errors against a
posterior), so the ratio is time-to-an-answer for the same photometry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import bagpipes_reference as ref  # noqa: E402
import sed_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bagpipes-cases", type=int, default=1, help="cases bagpipes also fits (default 1)")
    parser.add_argument("--n-live", type=int, default=200, help="nautilus live points (default 200)")
    args = parser.parse_args(argv)

    rows = []
    ours_times, theirs_times = [], []
    with tempfile.TemporaryDirectory(prefix="galfits_sed_") as folder:
        for i, truth in enumerate(sed_cases.TRUTHS):
            case = sed_cases.write_case(Path(folder) / f"case{i}", truth, snr=20.0, seed=i + 1)
            start = time.perf_counter()
            result = sed_cases.fit_case(case)
            ours_time = time.perf_counter() - start
            ours_times.append(ours_time)
            values = result.table.values()
            rows.append(
                f"case {i} galfits_nb: logM {values['logM_gal']:.3f} +- {result.sigma.get('logM_gal', np.nan):.3f} "
                f"(truth {case.log_living_mass:.3f}, diff {values['logM_gal'] - case.log_living_mass:+.3f}); "
                f"Av {values['gal_Av_value']:.3f} (truth {truth['Av']:.2f}); chi2 {result.chi2:.1f}, "
                f"{result.n_steps} steps, {ours_time:.1f} s"
            )
            if i < args.bagpipes_cases:
                fit = ref.bagpipes_fit(case.flux, case.error, sed_cases.BANDS, truth["z"], sfh="burst", n_live=args.n_live)
                theirs_times.append(fit["wall_time_s"])
                mass = fit["log_living_mass"]
                av = fit["Av"]
                rows.append(
                    f"case {i} bagpipes:   logM {mass['median']:.3f} (16-84: {mass['p16']:.3f}-{mass['p84']:.3f}, "
                    f"diff {mass['median'] - case.log_living_mass:+.3f}); Av {av['median']:.3f}; "
                    f"{fit['wall_time_s']:.1f} s"
                )
    print("# pure SED fitting, 14 bands GALEX-WISE, S/N 20; one run on this machine")
    for row in rows:
        print(row)
    if theirs_times:
        n = len(theirs_times)
        warm = np.mean(ours_times[1:]) if len(ours_times) > 1 else ours_times[0]
        print(
            f"bagpipes mean {np.mean(theirs_times):.1f} s over {n} case(s); galfits_nb first fit {ours_times[0]:.1f} s "
            f"(compilation included), later fits mean {warm:.2f} s"
        )
        print(f"ratio bagpipes / galfits_nb: {np.mean(theirs_times) / ours_times[0]:.1f}x (first), "
              f"{np.mean(theirs_times) / warm:.1f}x (warm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
