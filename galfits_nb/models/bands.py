"""Band fluxes of model spectra: filter responses on the template grid.

Band flux
---------
The flux a band measures is the photon-weighted mean flux density

    <f_lambda>_b = int f_lambda T_b lambda dlambda / int T_b lambda dlambda,

with ``T_b`` the filter's response per photon (sedpy's curves; Bessell &
Murphy 2012, PASP 124, 140, eq. A11). A model spectrum is held as pixel
means on the template grid (:mod:`galfits_nb.models.ssp`), so the integral
is a weighted sum over pixels with ``w_b[k] = int_pixel_k T_b lambda dlambda
/ int T_b lambda dlambda`` (:func:`pixel_weights`), exact for a filter curve
linear between its samples and a spectrum constant inside a pixel. The
pixel edges in the observed frame are the rest-frame edges times ``1 + z``;
the cumulative integral of ``T_b lambda`` is interpolated at them with
``jnp.interp``, so the same function serves a fixed redshift (evaluated once
when a fit is built) and a free one (inside the fit). A line of flux ``F``
[erg/s/cm^2] at observed wavelength ``l`` adds ``F T_b(l) l / int T_b lambda
dlambda`` (:func:`line_weights`).

Image units
-----------
I9 converts f_lambda [erg/s/cm^2/A] to image units. ``I9 = -1`` ("default"
in GalfitS's configs) takes the band's default calibration:

* bands whose standard image products have one fixed calibration use it
  (:data:`DEFAULT_CONVERSIONS`): GALEX intensity maps in counts per second,
  ``f_lambda = 1.40e-15 cps`` (FUV) and ``2.06e-16 cps`` (NUV) erg/s/cm^2/A
  (Morrissey et al. 2007, ApJS 173, 682; the GALEX GR6 flux calibration);
* any other band uses its AB zero point I10: an image value ``c`` is the AB
  magnitude ``I10 - 2.5 log10 c``, i.e. ``f_nu = c 10**(-0.4 (I10 + 48.6))``
  (Oke & Gunn 1983, ApJ 266, 713), and ``f_nu = <f_lambda> lambda_p**2 /
  c_light`` at the band's pivot wavelength ``lambda_p`` (exact for the mean
  above).

A positive I9 always wins. docs/sed.md gives the J0056 evidence for the
GALEX rule (with I10 = 26.466, the value that config writes for every band,
its GALEX images would be 7.6 mag too faint for any stellar population).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.data.filters import FilterCurve

__all__ = [
    "C_LIGHT_A_S",
    "BandResponses",
    "band_responses",
    "pixel_weights",
    "line_weights",
    "band_means",
    "image_unit_factor",
    "DEFAULT_CONVERSIONS",
]

C_LIGHT_A_S = 2.99792458e18
"""Speed of light [A/s]."""

DEFAULT_CONVERSIONS = {"galex_fuv": 1.0 / 1.40e-15, "galex_nuv": 1.0 / 2.06e-16}
"""Image units per erg/s/cm^2/A for ``I9 = -1`` where a band's images have one
standard calibration (GALEX counts per second; Morrissey et al. 2007)."""


class BandResponses(NamedTuple):
    """Filter curves of several bands, padded to one length (a pytree of arrays).

    Attributes
    ----------
    wavelength : array of shape (n_band, n_sample)
        Sample wavelengths [A], increasing; padding continues beyond the
        curve with zero response.
    response : array of shape (n_band, n_sample)
        ``T_b lambda / int T_b lambda dlambda`` [1/A].
    cumulative : array of shape (n_band, n_sample)
        Its running integral, 0 to 1.
    pivot : array of shape (n_band,)
        Pivot wavelengths [A].
    """

    wavelength: jax.Array
    response: jax.Array
    cumulative: jax.Array
    pivot: jax.Array


def band_responses(curves: list[FilterCurve]) -> BandResponses:
    """Tabulate filter curves for :func:`pixel_weights` and :func:`line_weights`.

    Parameters
    ----------
    curves : list of FilterCurve
        From :func:`galfits_nb.data.filters.load_filter`.

    Returns
    -------
    BandResponses
        float64 numpy arrays (convert with ``jnp.asarray`` when used in a fit).
    """
    n = max(len(c.wavelength) for c in curves) + 2
    wave = np.zeros((len(curves), n))
    resp = np.zeros((len(curves), n))
    cum = np.zeros((len(curves), n))
    for i, curve in enumerate(curves):
        lam = np.asarray(curve.wavelength, dtype=float)
        y = np.clip(np.asarray(curve.transmission, dtype=float), 0.0, None) * lam
        m = len(lam)
        # Zero response one sample step before and after the curve (the curve
        # is linear to those points), then padding with zero response.
        first = max(lam[1] - lam[0], 1e-3)
        last = max(lam[-1] - lam[-2], 1e-3)
        full_l = np.concatenate([[lam[0] - first], lam, lam[-1] + last * np.arange(1, n - m)])
        full_y = np.concatenate([[0.0], y, np.zeros(n - m - 1)])
        running = np.concatenate([[0.0], np.cumsum(0.5 * (full_y[1:] + full_y[:-1]) * np.diff(full_l))])
        norm = running[-1]
        wave[i], resp[i], cum[i] = full_l, full_y / norm, running / norm
    pivot = np.array([c.wave_pivot for c in curves], dtype=float)
    return BandResponses(wave, resp, cum, pivot)


def pixel_weights(edges_rest: jax.Array, redshift: jax.Array, bands: BandResponses) -> jax.Array:
    """Weights of the template pixels in each band's mean flux density.

    Parameters
    ----------
    edges_rest : array of shape (n_wave + 1,)
        Rest-frame pixel edges [A] (``templates.stellar.wavelength_edges``).
    redshift : scalar
    bands : BandResponses

    Returns
    -------
    array of shape (n_band, n_wave)
        ``<f_lambda>_b = weights @ f_lambda`` for pixel means ``f_lambda``
        in the observed frame.
    """
    if not any(isinstance(a, jax.Array) for a in (edges_rest, redshift, bands.wavelength, bands.cumulative)):
        # numpy when nothing is a JAX array (building a fit): nothing to compile
        edges = np.asarray(edges_rest, dtype=float) * (1.0 + redshift)
        cum = np.stack(
            [np.interp(edges, w, c, left=0.0, right=1.0) for w, c in zip(bands.wavelength, bands.cumulative)]
        )
        return np.diff(cum, axis=1)
    edges = jnp.asarray(edges_rest) * (1.0 + redshift)
    cum = jax.vmap(lambda w, c: jnp.interp(edges, w, c, left=0.0, right=1.0))(
        jnp.asarray(bands.wavelength), jnp.asarray(bands.cumulative)
    )
    return jnp.diff(cum, axis=1)


def line_weights(wavelength_rest: jax.Array, redshift: jax.Array, bands: BandResponses) -> jax.Array:
    """Weights of line fluxes in each band's mean flux density.

    Parameters
    ----------
    wavelength_rest : array of shape (n_line,)
        Rest-frame line wavelengths [A].
    redshift : scalar
    bands : BandResponses

    Returns
    -------
    array of shape (n_band, n_line) [1/A]
        ``<f_lambda>_b += weights @ F_line`` for line fluxes [erg/s/cm^2].
    """
    lam = jnp.asarray(wavelength_rest) * (1.0 + redshift)
    return jax.vmap(lambda w, r: jnp.interp(lam, w, r, left=0.0, right=0.0))(
        jnp.asarray(bands.wavelength), jnp.asarray(bands.response)
    )


def band_means(
    continuum_flambda: jax.Array,
    line_flux: jax.Array,
    pixel_w: jax.Array,
    line_w: jax.Array,
) -> jax.Array:
    """Photon-weighted mean flux density per band [erg/s/cm^2/A].

    Parameters
    ----------
    continuum_flambda : array of shape (n_wave,)
        Observed-frame pixel means [erg/s/cm^2/A].
    line_flux : array of shape (n_line,) [erg/s/cm^2]
    pixel_w : array of shape (n_band, n_wave)
    line_w : array of shape (n_band, n_line)

    Returns
    -------
    array of shape (n_band,)
    """
    return pixel_w @ continuum_flambda + line_w @ line_flux


def image_unit_factor(flux_conversion: float, zeropoint: float, pivot: float, band: str | None = None) -> float:
    """Image units per erg/s/cm^2/A of band-mean flux density (module docstring).

    Parameters
    ----------
    flux_conversion : float
        I9; used when positive.
    zeropoint : float
        I10, the AB magnitude of one image unit (used when I9 = -1 and the
        band has no default calibration).
    pivot : float
        The band's pivot wavelength [A].
    band : str, optional
        The band name (I2), for :data:`DEFAULT_CONVERSIONS`.

    Returns
    -------
    float
    """
    if flux_conversion is not None and flux_conversion > 0:
        return float(flux_conversion)
    if band is not None and band.lower() in DEFAULT_CONVERSIONS:
        return float(DEFAULT_CONVERSIONS[band.lower()])
    f_nu_per_unit = 10.0 ** (-0.4 * (zeropoint + 48.6))
    return float(pivot**2 / C_LIGHT_A_S / f_nu_per_unit)
