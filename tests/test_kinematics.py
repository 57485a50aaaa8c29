"""Velocity broadening, resolution matching, air/vacuum and log-lambda grids.

References are analytic: a Gaussian convolved with a Gaussian is a Gaussian
whose variance is the sum; air/vacuum pairs are published laboratory
wavelengths.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.models.kinematics import (
    C_KMS,
    FWHM_PER_SIGMA,
    air_to_vacuum,
    broaden,
    fft_length,
    log_wavelength_grid,
    match_resolution,
    vacuum_to_air,
)


def gaussian(x: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """Unit-area Gaussian sampled at ``x``."""
    return np.exp(-0.5 * ((x - centre) / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma)


# ---------------------------------------------------------------------------
# Grids, air and vacuum
# ---------------------------------------------------------------------------


def test_log_wavelength_grid_is_uniform_in_velocity():
    centres, edges = log_wavelength_grid(3000.0, 9500.0, 50.0)
    assert edges[0] == 3000.0 and edges[-1] >= 9500.0
    assert edges[-2] < 9500.0  # the smallest pixel count reaching 9500 A
    np.testing.assert_allclose(np.diff(np.log(edges)) * C_KMS, 50.0, rtol=1e-9)
    np.testing.assert_allclose(np.diff(np.log(centres)) * C_KMS, 50.0, rtol=1e-9)
    np.testing.assert_allclose(centres, np.sqrt(edges[1:] * edges[:-1]), rtol=1e-12)
    assert centres.size == 6912
    with pytest.raises(ValueError):
        log_wavelength_grid(5000.0, 4000.0, 50.0)


@pytest.mark.parametrize(
    "air, vacuum",
    [
        (6562.80, 6564.61),  # H-alpha (SDSS line list; Morton 2000)
        (5006.843, 5008.240),  # [O III] 5007 (SDSS line list)
        (6583.45, 6585.27),  # [N II] 6584 (SDSS line list)
        (3933.663, 3934.777),  # Ca II K (Morton 2000: 3934.777 vacuum)
    ],
)
def test_air_vacuum_against_published_pairs(air, vacuum):
    assert float(air_to_vacuum(air)) == pytest.approx(vacuum, abs=0.01)
    assert float(vacuum_to_air(vacuum)) == pytest.approx(air, abs=0.01)


def test_air_vacuum_round_trip():
    wave = np.geomspace(2000.0, 2.0e4, 1000)
    np.testing.assert_allclose(vacuum_to_air(air_to_vacuum(wave)), wave, rtol=1e-13)
    # The offset grows from 0.6 A at 2000 A to ~2.6 A at 9500 A.
    shift = air_to_vacuum(np.array([2000.0, 5000.0, 9500.0])) - [2000.0, 5000.0, 9500.0]
    np.testing.assert_allclose(shift, [0.65, 1.39, 2.61], atol=0.02)


def test_fft_length():
    assert [fft_length(n) for n in (1, 7, 13, 101, 13824, 14000)] == [1, 8, 15, 108, 13824, 14400]
    for n in range(1, 400):
        m = fft_length(n)
        assert m >= n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        assert m == 1


# ---------------------------------------------------------------------------
# broaden
# ---------------------------------------------------------------------------

N = 512
X = np.arange(N, dtype=float)


# JAX computes in float32 here (x64 off, the package's default): tolerances
# are a few float32 round-offs of the peak.
TOL = 2e-6


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0, 7.0])
def test_broaden_delta_gives_the_gaussian(sigma):
    delta = np.zeros(N)
    delta[N // 2] = 1.0
    out = np.asarray(broaden(jnp.asarray(delta, jnp.float32), sigma))
    assert out.dtype == np.float32
    expected = gaussian(X, N // 2, sigma)
    # The result is the band-limited Gaussian; the sampled one differs by its
    # aliased power, ~exp(-pi^2 sigma^2 / 2) of the peak (7e-3 at sigma = 1).
    alias = math.exp(-(math.pi * sigma) ** 2 / 2)
    np.testing.assert_allclose(out, expected, rtol=0, atol=(TOL + alias) * expected.max())
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("sigma0, sigma", [(3.0, 4.0), (4.0, 0.8), (2.0, 0.3), (2.0, 0.1)])
def test_broaden_gaussian_adds_in_quadrature(sigma0, sigma):
    """Widths add in quadrature; exact below a pixel too (Cappellari 2017, sec. 3.2)."""
    line = gaussian(X, 200.3, sigma0)
    out = np.asarray(broaden(jnp.asarray(line), sigma))
    expected = gaussian(X, 200.3, math.hypot(sigma0, sigma))
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOL * expected.max())


def test_broaden_sub_pixel_beats_a_sampled_kernel():
    """A sampled, renormalised kernel of sigma = 0.4 pixel broadens far too little."""
    sigma0, sigma = 1.5, 0.4
    line = gaussian(X, 256.0, sigma0)
    expected = gaussian(X, 256.0, math.hypot(sigma0, sigma))
    exact = np.asarray(broaden(jnp.asarray(line), sigma))
    taps = np.arange(-5, 6)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    naive = np.convolve(line, kernel / kernel.sum(), mode="same")
    error_exact = np.abs(exact - expected).max()
    error_naive = np.abs(naive - expected).max()
    assert error_exact < TOL * expected.max()
    assert error_naive > 1e-2 * expected.max()  # > 5000 times worse


def test_broaden_identity_at_zero_and_composition_below_a_pixel():
    rng = np.random.default_rng(3)
    # Absorption lines resolved by the grid (sigma 1.2-3 pixels), as templates are.
    spectrum = 1.0 - sum(
        0.5 * gaussian(X, c, w) for c, w in zip(rng.uniform(20, N - 20, 40), rng.uniform(1.2, 3.0, 40))
    )
    np.testing.assert_allclose(np.asarray(broaden(jnp.asarray(spectrum), 0.0)), spectrum, rtol=0, atol=TOL)
    twice = broaden(broaden(jnp.asarray(spectrum), 0.3), 0.4)
    once = broaden(jnp.asarray(spectrum), 0.5)
    # Away from the ends: the first pass lost what it spread off the grid, and
    # the step from the continuum to the zero padding rings (module docstring).
    inner = slice(150, N - 150)
    np.testing.assert_allclose(np.asarray(twice)[inner], np.asarray(once)[inner], rtol=0, atol=TOL)


def test_broaden_conserves_flux_and_batches():
    lines = np.stack([gaussian(X, c, 2.0) for c in (150.0, 256.0, 300.7, 350.0, 250.0, 200.0)])
    lines = lines.reshape(2, 3, N) * np.arange(1, 7).reshape(2, 3, 1)
    sigma = np.array([[0.0, 0.5, 1.0], [3.0, 10.0, 20.0]])
    out = np.asarray(broaden(jnp.asarray(lines), jnp.asarray(sigma)))
    assert out.shape == (2, 3, N)
    np.testing.assert_allclose(out.sum(-1), lines.sum(-1), rtol=1e-5)
    for i in range(2):
        for j in range(3):
            single = np.asarray(broaden(jnp.asarray(lines[i, j]), sigma[i, j]))
            np.testing.assert_allclose(out[i, j], single, rtol=0, atol=TOL * lines.max())


def test_broaden_shift_moves_by_fractions_of_a_pixel():
    line = gaussian(X, 200.0, 3.0)
    out = np.asarray(broaden(jnp.asarray(line), 2.0, shift_pix=2.37))
    np.testing.assert_allclose(out, gaussian(X, 202.37, math.hypot(3.0, 2.0)), rtol=0, atol=TOL * line.max())


def test_broaden_does_not_wrap_around():
    line = np.zeros(N)
    line[-3] = 1.0
    out = np.asarray(broaden(jnp.asarray(line), 5.0))
    assert np.abs(out[:N // 2]).max() < 1e-7  # nothing reappears at the blue end
    assert out.sum() == pytest.approx(gaussian(X, N - 3, 5.0).sum(), rel=1e-5)  # part leaves the grid


def test_broaden_jits_and_differentiates_in_float32():
    line = jnp.asarray(gaussian(X, 256.0, 2.0), dtype=jnp.float32)
    target = jnp.asarray(gaussian(X, 256.0, math.hypot(2.0, 1.5)), dtype=jnp.float32)

    def loss(sigma):
        return jnp.sum((broaden(line, sigma) - target) ** 2)

    grad = jax.jit(jax.grad(loss))
    assert jax.jit(broaden)(line, jnp.float32(0.7)).dtype == jnp.float32
    for sigma in (0.0, 0.3, 1.5, 4.0):
        g = grad(jnp.float32(sigma))
        assert g.dtype == jnp.float32 and np.isfinite(float(g))
    assert float(grad(jnp.float32(0.0))) == 0.0  # d/dsigma exp(-sigma^2 w^2 / 2) = 0 at 0
    assert float(grad(jnp.float32(1.0))) < 0 < float(grad(jnp.float32(2.0)))  # minimum at 1.5
    h = 1e-2
    numeric = (float(loss(jnp.float32(1.0 + h))) - float(loss(jnp.float32(1.0 - h)))) / (2 * h)
    assert float(grad(jnp.float32(1.0))) == pytest.approx(numeric, rel=2e-2)


# ---------------------------------------------------------------------------
# match_resolution
# ---------------------------------------------------------------------------


def _moment_fwhm(wave: np.ndarray, flux: np.ndarray, centre: float, half: float) -> float:
    near = np.abs(wave - centre) < half
    w, f = wave[near], flux[near] * np.gradient(wave)[near]
    mean = np.sum(w * f) / np.sum(f)
    return FWHM_PER_SIGMA * math.sqrt(np.sum((w - mean) ** 2 * f) / np.sum(f))


def test_match_resolution_constant_widths_add_in_quadrature():
    wave, _ = log_wavelength_grid(4000.0, 6000.0, 30.0)
    have, want = 2.5, 4.0
    line = gaussian(wave, 5000.0, have / FWHM_PER_SIGMA)
    out = match_resolution(wave, line, have, want)
    expected = gaussian(wave, 5000.0, want / FWHM_PER_SIGMA)
    np.testing.assert_allclose(out, expected, atol=3e-3 * expected.max())
    assert _moment_fwhm(wave, out, 5000.0, 30.0) == pytest.approx(want, rel=3e-3)
    widths = np.gradient(wave)
    assert np.sum(out * widths) == pytest.approx(np.sum(line * widths), rel=1e-4)


def test_match_resolution_wavelength_dependent_and_untouched_where_sharper():
    wave, _ = log_wavelength_grid(4000.0, 7000.0, 40.0)
    have = 2.5
    want = np.interp(wave, [4000.0, 7000.0], [2.0, 5.0])  # 2.5 A reached at 4500 A
    centres = [4200.0, 5200.0, 6000.0, 6700.0]
    flux = sum(gaussian(wave, c, have / FWHM_PER_SIGMA) for c in centres)
    out = match_resolution(wave, flux, have, want)
    sharper = want <= have
    np.testing.assert_array_equal(out[sharper & (wave < 4400.0)], flux[sharper & (wave < 4400.0)])
    for c in centres[1:]:
        target = float(np.interp(c, wave, want))
        assert _moment_fwhm(wave, out, c, 4 * target) == pytest.approx(target, rel=0.02)
    # scalars and arrays mean the same
    np.testing.assert_allclose(
        match_resolution(wave, flux, np.full(wave.size, have), want), out, rtol=0, atol=1e-15
    )


def test_match_resolution_batches_and_identity():
    wave, _ = log_wavelength_grid(4000.0, 5000.0, 50.0)
    rng = np.random.default_rng(0)
    flux = 1.0 + 0.1 * rng.standard_normal((2, 3, wave.size))
    np.testing.assert_array_equal(match_resolution(wave, flux, 3.0, 2.0), flux)
    out = match_resolution(wave, flux, 2.0, 3.0, chunk_bytes=1)
    for i in range(2):
        np.testing.assert_allclose(out[i, 1], match_resolution(wave, flux[i, 1], 2.0, 3.0), atol=1e-14)
    with pytest.raises(ValueError):
        match_resolution(wave[::-1], flux, 2.0, 3.0)
