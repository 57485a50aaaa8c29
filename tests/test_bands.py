"""Band means and image units against sedpy's own photometry, and SFH integrals."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.data.filters import load_filter
from galfits_nb.models.bands import band_responses, image_unit_factor, line_weights, pixel_weights
from galfits_nb.models.sfh import binned_sfh, burst_sfh, conti_sfh, form_bin_masses

BANDS = ["galex_fuv", "galex_nuv", "sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z", "j", "h", "ks"]


def _edges(lo=900.0, hi=60000.0, n=6000):
    return np.geomspace(lo, hi, n + 1)


def test_flat_spectrum_has_its_own_mean():
    bands = band_responses([load_filter(b) for b in BANDS])
    w = np.asarray(pixel_weights(jnp.asarray(_edges()), 0.0, bands))
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("redshift", [0.0, 0.0628, 1.3])
def test_ab_magnitudes_match_sedpy(redshift):
    """A smooth spectrum through our pixel weights and zero-point units gives sedpy's AB magnitudes."""
    from sedpy.observate import load_filters

    edges = _edges(300.0, 30000.0, 20000)
    centres = np.sqrt(edges[1:] * edges[:-1])
    # a red-ish continuum with a break, rest frame
    rest = (centres / 5000.0) ** 1.5 * np.where(centres < 4000.0, 0.4, 1.0) * 1e-17
    obs_wave = centres * (1 + redshift)
    obs = rest / (1 + redshift)
    curves = [load_filter(b) for b in BANDS]
    bands = band_responses(curves)
    means = np.asarray(pixel_weights(jnp.asarray(edges), redshift, bands)) @ obs
    zeropoint = 22.5
    ours = np.array(
        [zeropoint - 2.5 * np.log10(m * image_unit_factor(-1, zeropoint, c.wave_pivot)) for m, c in zip(means, curves)]
    )
    theirs = np.array([f.ab_mag(obs_wave, obs) for f in load_filters([c.sedpy_name for c in curves])])
    covered = [(c.wavelength.min() > obs_wave[0]) and (c.wavelength.max() < obs_wave[-1]) for c in curves]
    np.testing.assert_allclose(ours[covered], theirs[covered], atol=2e-3)


def test_line_adds_its_flux_times_the_response():
    curve = load_filter("sloan_r")
    bands = band_responses([curve])
    lam = np.array([6563.0])
    w = float(np.asarray(line_weights(jnp.asarray(lam), 0.0, bands))[0, 0])
    t = np.interp(lam[0], curve.wavelength, curve.transmission)
    norm = np.trapezoid(curve.transmission * curve.wavelength, curve.wavelength)
    assert w == pytest.approx(t * lam[0] / norm, rel=1e-4)


def test_explicit_conversion_is_used_as_given():
    assert image_unit_factor(8.07e17, 26.466, 12350.0) == 8.07e17


def test_sfh_pieces_hold_unit_mass():
    b = burst_sfh(-1.0, 5.0)
    assert float(jnp.sum(b.mass) + b.single_mass) == pytest.approx(1.0, rel=1e-6)
    assert float(b.mass[0]) == pytest.approx(0.1, rel=1e-6)
    assert float(b.edges_yr[1]) == pytest.approx(1e8)
    c = conti_sfh(-0.5, 2.0, 13.0)
    assert float(c.edges_yr[1]) == pytest.approx(12.8e9, rel=1e-6)
    bins = binned_sfh(jnp.array([0.0, 1.0, 0.5]), (0.0, 0.1, 1.0, 10.0))
    np.testing.assert_allclose(np.asarray(bins.mass), np.array([1, 10, 10**0.5]) / (11 + 10**0.5), rtol=1e-6)


@pytest.mark.parametrize(
    "form,params,analytic",
    [
        # exponential: SFR0 exp((t - t0)/tau); integral = SFR0 tau (exp((b-t0)/tau) - exp((a-t0)/tau))
        ("exponential", (0.0, 2.0, 1.0), lambda a, b: 2.0 * (np.exp((b - 1) / 2) - np.exp((a - 1) / 2))),
        # delayed: SFR0 t/tau^2 exp(-t/tau); integral = [-(1 + t/tau) exp(-t/tau)]
        ("delayed", (0.3, 1.5), lambda a, b: 10**0.3 * ((1 + a / 1.5) * np.exp(-a / 1.5) - (1 + b / 1.5) * np.exp(-b / 1.5))),
    ],
)
def test_form_bin_masses_match_analytic_integrals(form, params, analytic):
    edges = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 8.0])
    got = np.asarray(form_bin_masses(form, jnp.asarray(params), jnp.asarray(edges)))
    expected = np.array([analytic(a, b) for a, b in zip(edges[:-1], edges[1:])]) * 1e9
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_galex_default_calibration_and_explicit_override():
    """I9 = -1 on GALEX gives the GR6 counts-per-second calibration whatever I10 says."""
    assert image_unit_factor(-1, 26.466, 1535.0, "galex_fuv") == pytest.approx(1 / 1.40e-15)
    assert image_unit_factor(-1, 26.466, 2300.0, "GALEX_NUV") == pytest.approx(1 / 2.06e-16)
    assert image_unit_factor(5.0, 26.466, 1535.0, "galex_fuv") == 5.0
    # and a 1 cps FUV source is about AB 18.8, the GALEX FUV zero point
    flam = 1.40e-15
    fnu = flam * 1535.0**2 / 2.99792458e18
    assert -2.5 * np.log10(fnu) - 48.6 == pytest.approx(18.82, abs=0.05)
