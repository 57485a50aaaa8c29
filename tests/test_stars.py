"""The F-block star SED: a black body of Teff carrying the bolometric flux of L at 1 kpc."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from astropy.modeling.models import BlackBody

from galfits_nb.models.stars import KPC_CM, L_SUN_ERG_S, bolometric_flux, planck_shape, star_flux_density


def enable_x64():
    """float64 inside the block (jax.enable_x64, or the experimental one in older JAX)."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy

    return legacy()


FLAM = u.erg / u.s / u.cm**2 / u.AA
# Jitted once per shape and precision: eager jnp runs op by op, compiling each.
flux = jax.jit(star_flux_density)
shape = jax.jit(planck_shape)


def astropy_flambda(wave_aa: np.ndarray, teff: float, log_l: float) -> np.ndarray:
    """The same star from astropy: L / (4 pi d^2) * pi B_lambda / (sigma T^4)."""
    blackbody = BlackBody(temperature=teff * u.K, scale=1.0 * FLAM / u.sr)
    b_lambda = blackbody(wave_aa * u.AA).to(FLAM / u.sr)
    sigma_t4 = (const.sigma_sb * (teff * u.K) ** 4).to(u.erg / u.s / u.cm**2)
    flux = (10.0**log_l * const.L_sun / (4 * np.pi * (1 * u.kpc) ** 2)).to(u.erg / u.s / u.cm**2)
    return (flux * np.pi * u.sr * b_lambda / sigma_t4).to_value(FLAM)


@pytest.mark.parametrize("teff", [3000.0, 5772.0, 10000.0, 30000.0])
def test_matches_astropy_blackbody(teff):
    wave = np.geomspace(900.0, 5.0e5, 200)
    with enable_x64():
        ours = np.asarray(flux(wave, teff, 1.3))
    np.testing.assert_allclose(ours, astropy_flambda(wave, teff, 1.3), rtol=1e-6)


def test_default_precision_is_close_to_float64():
    wave = np.geomspace(900.0, 5.0e5, 200)
    ours = np.asarray(flux(wave.astype(np.float32), 6500.0, 2.0))
    np.testing.assert_allclose(ours, astropy_flambda(wave, 6500.0, 2.0), rtol=2e-5)


@pytest.mark.parametrize("teff", [2500.0, 5772.0, 40000.0])
def test_integral_is_stefan_boltzmann_flux(teff):
    """Total flux over wavelength = L / (4 pi (1 kpc)^2)."""
    log_l = 0.7
    wave = np.geomspace(10.0, 1.0e8, 40001)
    with enable_x64():
        total = float(np.trapezoid(np.asarray(flux(wave, teff, log_l)), wave))
    expected = 10.0**log_l * L_SUN_ERG_S / (4 * np.pi * KPC_CM**2)
    assert total == pytest.approx(expected, rel=1e-3)
    assert float(bolometric_flux(log_l)) == pytest.approx(expected, rel=1e-12)


def test_constants_match_astropy():
    assert L_SUN_ERG_S == pytest.approx(const.L_sun.to_value(u.erg / u.s), rel=1e-12)
    assert KPC_CM == pytest.approx((1 * u.kpc).to_value(u.cm), rel=1e-12)


def test_sun_numbers():
    """The Sun: Wien peak at 5020 A; at 1 kpc m_bol = 14.74; at 1 au the solar constant."""
    teff = 5772.0
    wave = np.linspace(4000.0, 6000.0, 20001)
    with enable_x64():
        peak = float(wave[np.argmax(np.asarray(flux(wave, teff, 0.0)))])
        f_bol_1kpc = float(bolometric_flux(0.0))
        log_l_1au = 2 * np.log10(KPC_CM / const.au.to_value(u.cm))
        solar_constant = float(bolometric_flux(log_l_1au))
    assert peak == pytest.approx(2.897771955e7 / teff, abs=0.5)
    # IAU 2015 B2: m_bol = -2.5 log10(F / 2.518021002e-8 W m^-2).
    m_bol = -2.5 * np.log10(f_bol_1kpc * 1e-3 / 2.518021002e-8)
    assert m_bol == pytest.approx(4.74 + 10.0, abs=0.005)
    assert solar_constant * 1e-3 == pytest.approx(1361.0, rel=1e-3)  # W/m^2


def test_normalised_shape_integrates_to_one():
    wave = np.geomspace(10.0, 1.0e8, 40001)
    with enable_x64():
        assert float(np.trapezoid(np.asarray(shape(wave, 8000.0)), wave)) == pytest.approx(1.0, rel=1e-4)


def test_differentiable_jittable_and_finite_in_both_tails():
    wave = np.array([50.0, 1000.0, 5500.0, 2.0e5, 1.0e8], dtype=np.float32)

    def total(teff, log_l):
        return jnp.sum(jnp.log(star_flux_density(wave[1:4], teff, log_l)))

    d_teff, d_logl = jax.jit(jax.grad(total, argnums=(0, 1)))(6000.0, 1.0)
    assert np.isfinite(d_teff) and d_teff > 0
    assert float(d_logl) == pytest.approx(3 * np.log(10.0), rel=1e-5)
    # Wien tail underflows to 0 and the Rayleigh-Jeans tail stays finite, with finite gradients.
    grads = jax.jit(jax.grad(lambda t: jnp.sum(star_flux_density(wave, t, 0.0))))(2000.0)
    assert np.isfinite(grads)
    values = flux(wave, 2000.0, 0.0)
    assert np.all(np.isfinite(values)) and float(values[0]) == 0.0 and float(values[-1]) > 0


def test_broadcasts_over_stars():
    wave = np.geomspace(1000.0, 1.0e5, 50)
    teff = np.array([[4000.0], [9000.0]])
    log_l = np.array([[0.0], [1.0]])
    both = flux(wave, teff, log_l)
    assert both.shape == (2, 50)
    np.testing.assert_allclose(both[1], flux(wave, 9000.0, 1.0), rtol=1e-6)
    vmapped = jax.jit(jax.vmap(star_flux_density, in_axes=(None, 0, 0)))(wave, teff[:, 0], log_l[:, 0])
    np.testing.assert_allclose(vmapped, both, rtol=1e-6)
