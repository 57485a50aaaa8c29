"""Smoke test of the bagpipes reference helper (tests/bagpipes_reference.py).

Checks that bagpipes' ``model_galaxy`` runs through the helper and that its
band fluxes are the photon-weighted mean f_lambda of its own spectrum, as the
helper's module docstring states. About 10 s (bagpipes loads its grids).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bagpipes")
pytest.importorskip("sedpy")

sys.path.insert(0, str(Path(__file__).parent))

from bagpipes_reference import bagpipes_model  # noqa: E402

from galfits_nb.data.filters import load_filter  # noqa: E402

BANDS = ["galex_fuv", "sloan_g", "sloan_r", "j", "wise_w1"]
BURST = {
    "z": 0.05,
    "sfh": "burst",
    "log_formed_mass": 10.0,
    "Z": 0.02,
    "age": 5.0,
    "log_f_recent": -2.0,
    "Av": 0.3,
}


def _photon_mean(wavelength: np.ndarray, flam: np.ndarray, band: str) -> float:
    """int f T l dl / int T l dl on a fine linear grid [erg/s/cm^2/A]."""
    curve = load_filter(band)
    grid = np.linspace(curve.wavelength[0], curve.wavelength[-1], 20_000)
    throughput = np.interp(grid, curve.wavelength, curve.transmission)
    f = np.interp(grid, wavelength, flam)
    return float(np.trapezoid(f * throughput * grid, grid) / np.trapezoid(throughput * grid, grid))


def test_burst_model_photometry_matches_its_spectrum() -> None:
    model = bagpipes_model(BURST, BANDS)

    assert model.band_flux.shape == (len(BANDS),)
    assert np.all(np.isfinite(model.band_flux)) and np.all(model.band_flux > 0)
    assert model.log_living_mass < model.log_formed_mass
    assert model.log_formed_mass == pytest.approx(10.0, abs=1e-6)
    assert np.all(np.diff(model.wavelength) > 0)
    assert model.wavelength.shape == model.spectrum.shape

    # An independent integration through the sedpy curve (photon counting).
    r = BANDS.index("sloan_r")
    # (ratios: fluxes ~1e-16 would pass pytest.approx's default abs=1e-12)
    ratio = model.band_flux[r] / _photon_mean(model.wavelength, model.spectrum, "sloan_r")
    assert ratio == pytest.approx(1.0, rel=0.01)

    # bagpipes' exact recipe as documented: zero ends of the curve trimmed,
    # filter interpolated onto the rest-frame grid, then again at x (1 + z);
    # midpoint widths; weight x dx.
    z = BURST["z"]
    x = model.wavelength / (1.0 + z)
    width = np.empty_like(x)
    width[1:-1] = 0.5 * (x[2:] - x[:-2])
    width[0], width[-1] = x[1] - x[0], x[-1] - x[-2]
    for i, band in enumerate(BANDS):
        curve = load_filter(band)
        nonzero = np.flatnonzero(curve.transmission)
        keep = slice(nonzero[0], nonzero[-1] + 1)
        on_grid = np.interp(
            x, curve.wavelength[keep], curve.transmission[keep], left=0.0, right=0.0
        )
        seen = np.interp(x * (1.0 + z), x, on_grid, left=0.0, right=0.0)
        expected = np.sum(model.spectrum * seen * x * width) / np.sum(seen * x * width)
        assert model.band_flux[i] / expected == pytest.approx(1.0, rel=1e-9)
        assert model.pivot[i] == pytest.approx(curve.wave_pivot, rel=1e-3)


def test_other_cosmology_is_refused() -> None:
    with pytest.raises(ValueError, match="cosmology"):
        bagpipes_model(BURST, ["sloan_r"], cosmology=(67.7, 0.31))
