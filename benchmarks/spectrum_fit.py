"""Spectrum-only fits: galfits_nb against pPXF on the same spectrum and templates, one run.

NGC 3522 (SDSS DR18, shipped with ppxf): the stellar kinematics with our
BC03/MILES spectral templates in both codes, same 2654 pixels (gas lines
masked), rest 3850-7300 A (tests/test_ppxf_sigma.py sets it up). pPXF solves
for template weights linearly with two kinematic moments and an additive
degree-4 polynomial; galfits_nb fits the physical model (SFH, dust, mass,
sigma, redshift) with Levenberg-Marquardt. Then the type-1 AGN spectrum of
J0249-0815 with GalfitS's AGNspectrum.lyric (57 free parameters).

Prints wall times (first call: compilation included; warm: the same fit
again in the same process) and the ratios.

Usage: python benchmarks/spectrum_fit.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def main() -> int:
    from ppxf_reference import ppxf_kinematics
    from test_ppxf_sigma import REDSHIFT, SPECTRUM, write_config

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import fit_images
    from galfits_nb.models.spectral_templates import load_spectral_templates

    stellar = load_spectral_templates()
    reference, t_ppxf = _timed(lambda: ppxf_kinematics(SPECTRUM, stellar, redshift=REDSHIFT))
    with tempfile.TemporaryDirectory() as folder:
        config = read_lyric(write_config(Path(folder)))
        tree = read_observation(config)
        first, t_first = _timed(lambda: fit_images(config, tree, method="lm", progress=False))
        warm, t_warm = _timed(lambda: fit_images(config, tree, method="lm", progress=False))
    sigma = warm.table["gal_sigma"].value
    print("NGC 3522, stellar kinematics (same templates, same pixels)")
    print(f"  pPXF 9.5.2      sigma {reference['sigma']:6.1f} km/s   {t_ppxf:6.1f} s")
    print(f"  galfits_nb LM   sigma {sigma:6.1f} km/s   first {t_first:6.1f} s ({first.n_steps} steps), "
          f"warm {t_warm:6.1f} s")
    print(f"  time ratio galfits_nb / pPXF: first {t_first / t_ppxf:.1f}x, warm {t_warm / t_ppxf:.1f}x")

    agn_path = ROOT.parent / "shared" / "data" / "greeneho2004_id2" / "AGNspectrum.lyric"
    if agn_path.exists():
        config = read_lyric(agn_path)
        tree = read_observation(config)
        first, t_first = _timed(lambda: fit_images(config, tree, method="lm", num_steps=100, progress=False))
        warm, t_warm = _timed(lambda: fit_images(config, tree, method="lm", num_steps=100, progress=False))
        n = len(warm.free_names)
        print(f"J0249-0815, host + AGN ({n} free parameters, 100 LM steps at most)")
        print(f"  first {t_first:6.1f} s ({first.n_steps} steps), warm {t_warm:6.1f} s "
              f"({t_warm / max(warm.n_steps, 1) * 1000:.0f} ms per step); "
              f"reduced chi2 {warm.spectra['a'].attrs['reduced_chi2']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
