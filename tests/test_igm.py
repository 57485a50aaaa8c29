"""IGM transmission against bagpipes' precomputed Inoue et al. (2014) grid.

``d_igm_grid_inoue14.fits`` (shipped with bagpipes) holds the transmission
on rest-frame wavelengths 1..1225 A (HDU ``WAVS``) for source redshifts
0..10 in steps of 0.01 (HDU ``ZRED``); HDU ``TRANS`` has one row per
redshift. It was computed by bagpipes' own numpy code, independent of ours.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.errors import GalfitsError
from galfits_nb.models import igm, ssp

HAS_BAGPIPES = importlib.util.find_spec("bagpipes") is not None

igm_transmission = jax.jit(igm.igm_transmission)

# Observed wavelengths [A]: 100 A to 1000 um, the span of the template grid.
WAVE = np.logspace(2.0, 7.0, 5000)


@pytest.fixture(scope="module")
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAS_BAGPIPES:
        pytest.skip("the Inoue et al. (2014) table comes with bagpipes")
    folder = tmp_path_factory.mktemp("igm")
    igm.build_igm_coefficients(folder)
    return folder


@pytest.fixture(scope="module")
def coefficients(cache_folder: Path) -> igm.IgmCoefficients:
    return igm.load_igm_coefficients(cache_folder)


@pytest.fixture(scope="module")
def bagpipes_grid() -> dict[str, np.ndarray]:
    if not HAS_BAGPIPES:
        pytest.skip("the reference grid comes with bagpipes")
    from astropy.io import fits

    with fits.open(ssp.bagpipes_grid_dir() / "d_igm_grid_inoue14.fits") as hdus:
        return {
            "trans": np.array(hdus["TRANS"].data, dtype=float),
            "rest": np.array(hdus["WAVS"].data, dtype=float),
            "z": np.array(hdus["ZRED"].data, dtype=float),
        }


def test_coefficients_table(coefficients) -> None:
    # Inoue et al. (2014) Table 2: Lyman series j = 2..40, Ly-alpha first.
    assert coefficients.wavelength.shape == (39,)
    assert coefficients.laf.shape == (39, 3) and coefficients.dla.shape == (39, 2)
    assert coefficients.wavelength[0] == pytest.approx(1215.67)
    assert np.all(np.diff(coefficients.wavelength) < 0)
    assert coefficients.wavelength[-1] > igm.LYMAN_LIMIT_A


@pytest.mark.parametrize("redshift", [0.5, 1.0, 2.0, 3.0, 5.0, 7.0])
def test_matches_bagpipes_grid(coefficients, bagpipes_grid, redshift) -> None:
    row = int(np.argmin(np.abs(bagpipes_grid["z"] - redshift)))
    z = bagpipes_grid["z"][row]
    assert z == pytest.approx(redshift, abs=1e-9)
    rest = bagpipes_grid["rest"]
    reference = bagpipes_grid["trans"][row]
    ours = np.asarray(igm_transmission(rest * (1 + z), z, coefficients))
    # Below an observed 911.8 A bagpipes sets the Lyman-continuum depth to 0
    # and we hold its 911.8 A value: compare above it.
    compared = (reference > 0.05) & (rest * (1 + z) > igm.LYMAN_LIMIT_A)
    assert compared.sum() >= 5  # at z = 7 only the Ly-alpha wing is above 0.05
    np.testing.assert_allclose(ours[compared], reference[compared], rtol=1e-3)
    # Exactly 1 redward of Ly-alpha at the source.
    assert np.all(ours[rest > 1215.67] == 1.0)


def test_transparent_at_low_redshift(coefficients) -> None:
    z = 0.05
    t = np.asarray(igm_transmission(WAVE, z, coefficients))
    assert np.all(t[WAVE > 1216.0 * (1 + z)] == 1.0)
    assert t[np.argmin(np.abs(WAVE - 1215.67 * (1 + z) * 0.999))] < 1.0


def test_range_finiteness_and_redshift_gradient(coefficients) -> None:
    wave = jnp.asarray(WAVE, dtype=jnp.float32)
    for z in (0.0, 0.3, 1.19, 1.21, 2.0, 4.69, 4.71, 8.0, 12.0):
        t = np.asarray(igm_transmission(wave, z, coefficients))
        assert np.all(np.isfinite(t)) and np.all((t >= 0) & (t <= 1)), z

    def flux_in_band(z, coefficients):
        # Observed 2000-3000 A: below the Lyman limit of the source at z >= 2.3.
        band = (wave > 2000.0) & (wave < 3000.0)
        return jnp.sum(jnp.where(band, igm.igm_transmission(wave, z, coefficients), 0.0))

    grad = jax.jit(jax.vmap(jax.grad(flux_in_band), in_axes=(0, None)))
    g = np.asarray(grad(jnp.array([2.5, 3.5]), coefficients))
    # The Lyman-continuum depth at a fixed observed wavelength grows with the
    # source redshift (more absorbers on the way).
    assert np.all(np.isfinite(g)) and np.all(g < 0)


def test_cache_loads_without_bagpipes(cache_folder, monkeypatch) -> None:
    def no_grids():
        raise GalfitsError("bagpipes is not installed")

    monkeypatch.setattr(igm, "bagpipes_grid_dir", no_grids)
    loaded = igm.load_igm_coefficients(cache_folder)
    assert loaded.wavelength.shape == (39,)
    with pytest.raises(GalfitsError, match="not in the cache"):
        igm.load_igm_coefficients(cache_folder / "empty")
