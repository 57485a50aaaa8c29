"""PSF convolution, oversampling and point sources."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from galfits_nb.models import psf as ps
from galfits_nb.models.profiles import PixelGrid

convolve = jax.jit(ps.convolve, static_argnums=2)
point_source = jax.jit(ps.point_source_image, static_argnames=("grid", "oversampling"))


def gaussian_psf(size: int, sigma: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """Point-sampled Gaussian on a (size, size) stamp, centred on (size // 2, size // 2)."""
    cy, cx = centre if centre is not None else (size // 2, size // 2)
    y, x = np.mgrid[:size, :size]
    image = np.exp(-0.5 * ((x - cx) ** 2 + (y - cy) ** 2) / sigma**2)
    return image / image.sum()


def gaussian_pixels(grid: PixelGrid, x0: float, y0: float, sigma: float) -> np.ndarray:
    """Exact pixel integrals of a round unit-flux Gaussian (arcsec units of ``grid``)."""
    ye = (np.arange(grid.ny + 1) - 0.5 - grid.cy) * grid.pixel_scale - y0
    xe = (np.arange(grid.nx + 1) - 0.5 - grid.cx) * grid.pixel_scale - x0
    py = np.diff(0.5 * special.erf(ye / (np.sqrt(2) * sigma)))
    px = np.diff(0.5 * special.erf(xe / (np.sqrt(2) * sigma)))
    return py[:, None] * px[None, :]


def centroid(image: np.ndarray) -> tuple[float, float]:
    y, x = np.mgrid[: image.shape[0], : image.shape[1]]
    total = image.sum()
    return float((image * y).sum() / total), float((image * x).sum() / total)


def test_fft_size():
    for n in (1, 7, 31, 97, 128, 250, 1001):
        size = ps.fft_size(n)
        assert size >= n and size % 2 == 0
        rest = size
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        assert rest == 1
    for n, k in ((250, 3), (254, 3), (97, 5), (101, 4)):
        size = ps.fft_size(n, multiple=k)
        assert size >= n and size % k == 0 and size % 2 == 0
        assert not any(ps.fft_size(m) == m and m % k == 0 for m in range(n, size))  # the smallest such size
    assert ps.fft_size(100, multiple=7) == ps.fft_size(100)  # 7 is not 5-smooth: ignored


@pytest.mark.parametrize("k, shape, psf_size", [(3, (20, 17), 25), (2, (16, 16), 12), (3, (14, 14), 70), (5, (9, 11), 31)])
def test_oversampled_convolution_bins_like_scipy(k, shape, psf_size):
    """Binning in Fourier space (folded inverse) against scipy's direct convolution binned in numpy."""
    from scipy.signal import convolve2d

    rng = np.random.default_rng(11)
    fine = rng.random((shape[0] * k, shape[1] * k))
    psf = rng.random((psf_size, psf_size))
    psf /= psf.sum()
    psf_ft = ps.psf_transform(psf, shape, k)
    py, px = ps.padded_shape(shape, psf.shape, k)
    assert py % k == 0 and px % k == 0  # the Fourier-space binning applies
    ours = np.asarray(jax.jit(ps.convolve, static_argnums=2)(jnp.asarray(fine, jnp.float32), psf_ft, k))
    h = psf_size // 2
    full = convolve2d(fine, psf, mode="full")[h : h + fine.shape[0], h : h + fine.shape[1]]
    reference = full.reshape(shape[0], k, shape[1], k).sum(axis=(1, 3))
    assert ours.shape == shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-6 * reference.max())


def test_folded_inverse_equals_the_full_inverse_binned():
    """The Fourier-space binning against the plain inverse FFT then block sums, with a batch axis."""
    rng = np.random.default_rng(2)
    spectrum = jnp.asarray(np.fft.rfft2(rng.random((2, 36, 30))).astype(np.complex64))
    direct = np.fft.irfft2(np.asarray(spectrum), s=(36, 30))[:, :33, :27].reshape(2, 11, 3, 9, 3).sum(axis=(2, 4))
    ours = np.asarray(ps._inverse_binned(spectrum, (36, 30), 3, (33, 27)))
    np.testing.assert_allclose(ours, direct, atol=1e-5)


@pytest.mark.parametrize("psf_size", [11, 12])
def test_delta_gives_the_psf(psf_size):
    rng = np.random.default_rng(1)
    psf = rng.uniform(0.1, 1.0, (psf_size, psf_size))
    psf /= psf.sum()
    shape = (33, 33)
    delta = np.zeros(shape)
    i, j = 14, 17
    delta[i, j] = 1.0
    out = np.asarray(convolve(jnp.asarray(delta), ps.psf_transform(psf, shape), 1))
    c = psf_size // 2  # PSF centre convention
    expected = np.zeros(shape)
    expected[i - c : i - c + psf_size, j - c : j - c + psf_size] = psf
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_psf_is_normalised_and_flux_conserved():
    rng = np.random.default_rng(2)
    psf = rng.uniform(0.0, 5.0, (13, 13)) * gaussian_psf(13, 3.0)  # unnormalised, lopsided
    model = jnp.asarray(np.pad(rng.uniform(0.0, 1.0, (15, 15)), 9))  # light well inside
    out = convolve(model, ps.psf_transform(psf, model.shape), 1)
    assert float(jnp.sum(out)) == pytest.approx(float(jnp.sum(model)), rel=1e-5)
    assert float(jnp.sum(ps.normalised_psf(psf))) == pytest.approx(1.0, rel=1e-6)


def test_no_wraparound_at_the_edges():
    psf = gaussian_psf(13, 3.0)
    image = np.zeros((33, 33))
    image[0, 0] = 1.0  # light at a corner must not appear at the opposite corner
    out = np.asarray(convolve(jnp.asarray(image), ps.psf_transform(psf, image.shape), 1))
    assert abs(out[-1, -1]) < 1e-7
    assert out[0, 0] == pytest.approx(psf[6, 6], rel=1e-5)


@pytest.mark.parametrize("oversampling", [2, 3])
def test_oversampled_gaussian_convolution(oversampling):
    """Gaussian model (x) Gaussian PSF = Gaussian of summed variances, pixel-integrated."""
    k = oversampling
    grid = PixelGrid.centred(33, 33, 1.0)
    sigma_model, sigma_psf = 1.2, 1.0  # data pixels
    x0, y0 = 0.3, -0.4
    fine = grid.oversampled(k)
    fine_model = jnp.asarray(gaussian_pixels(fine, x0, y0, sigma_model))
    # PSF point-sampled on the fine grid, centre at (n // 2, n // 2)
    psf = gaussian_psf(12 * k + 1, sigma_psf * k)
    out = np.asarray(convolve(fine_model, ps.psf_transform(psf, grid.shape, k), k))
    expected = gaussian_pixels(grid, x0, y0, np.hypot(sigma_model, sigma_psf))
    assert np.abs(out - expected).max() < 1e-4 * expected.max()


@pytest.mark.parametrize("oversampling", [1, 2])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.3, -0.45), (2.7, 1.25)])
def test_point_source_position_and_flux(oversampling, offset):
    k = oversampling
    grid = PixelGrid.centred(33, 33, 0.25)
    psf = gaussian_psf(25 * k + (k % 2 == 0), 1.6 * k)  # even size when k = 2
    psf_ft = ps.psf_transform(psf, grid.shape, k)
    dx, dy = offset  # pixels
    image = np.asarray(point_source(dx * grid.pixel_scale, dy * grid.pixel_scale, psf_ft, grid, k))
    assert image.sum() == pytest.approx(1.0, abs=1e-5)
    cy, cx = centroid(image)
    assert cy == pytest.approx(grid.cy + dy, abs=2e-3)
    assert cx == pytest.approx(grid.cx + dx, abs=2e-3)


def test_point_source_matches_convolved_delta():
    """An integer shift equals convolving a delta placed on that pixel."""
    grid = PixelGrid.centred(33, 33, 1.0)
    psf = gaussian_psf(13, 1.5)
    psf_ft = ps.psf_transform(psf, grid.shape)
    image = np.asarray(point_source(3.0, -2.0, psf_ft, grid, 1))
    delta = np.zeros(grid.shape)
    delta[16 - 2, 16 + 3] = 1.0
    expected = np.asarray(convolve(jnp.asarray(delta), psf_ft, 1))
    np.testing.assert_allclose(image, expected, atol=1e-6)


def test_point_source_gradient():
    grid = PixelGrid.centred(21, 21, 1.0)
    psf_ft = ps.psf_transform(gaussian_psf(15, 1.5), grid.shape)
    weights = jnp.linspace(0.0, 1.0, 21)[None, :] * jnp.ones((21, 1))

    def loss(x0):
        return jnp.sum(weights * ps.point_source_image(x0, 0.0, psf_ft, grid))

    g = float(jax.jit(jax.grad(loss))(0.2))
    # weights rise by 1/20 per pixel in x: d(loss)/dx0 = 0.05 for a source inside the image
    assert g == pytest.approx(0.05, rel=1e-3)


@pytest.mark.parametrize("psf_size, margin", [(15, 7), (16, 8), (15, 3), (21, 0)])
def test_margin_keeps_wrapped_light_out_of_the_kept_pixels(psf_size, margin):
    from scipy.signal import convolve2d

    from galfits_nb.models.psf import convolve, padded_shape, psf_transform

    rng = np.random.default_rng(5)
    shape = (30 + 2 * margin, 26 + 2 * margin)
    image = rng.random(shape)
    psf = rng.random((psf_size, psf_size))
    psf /= psf.sum()
    ours = np.asarray(convolve(jnp.asarray(image), psf_transform(jnp.asarray(psf), shape, 1, margin=margin)))
    # scipy's linear convolution; 'full' output re-centred on the PSF's centre pixel (m // 2).
    full = convolve2d(image, psf, mode="full")
    h = psf_size // 2
    reference = full[h : h + shape[0], h : h + shape[1]]
    keep = (slice(margin, shape[0] - margin), slice(margin, shape[1] - margin))
    np.testing.assert_allclose(ours[keep], reference[keep], atol=1e-5)
    # A margin of half the PSF needs no zeros beyond the image itself.
    if margin >= h:
        assert padded_shape(shape, psf.shape, 1, margin) == (ps.fft_size(shape[0]), ps.fft_size(shape[1]))
