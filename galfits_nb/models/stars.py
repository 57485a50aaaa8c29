"""Foreground stars (F blocks): a black body of given temperature and luminosity.

CONFIG-FORMAT.md gives a star F4 ``Teff`` [K] and F5 ``log L`` [L_sun] "at
1 kpc". Read here as: **a star of bolometric luminosity L placed at
d = 1 kpc**, so its bolometric flux is ``L / (4 pi d^2)`` and its spectrum a
Planck curve of temperature ``Teff`` carrying that flux:

    f_lambda = L / (4 pi d^2) * pi B_lambda(Teff) / (sigma_SB Teff^4)

``pi B_lambda / (sigma_SB T^4)`` is the black body's flux per unit wavelength
normalised to integrate to 1 over wavelength. ``log L`` thus encodes the
observed bolometric flux, not the star's true luminosity: a star of true
luminosity L_true at distance D has ``log L = log10(L_true / L_sun) + 2
log10(1 kpc / D)``, and the Sun at 1 kpc (``log L = 0``) has an apparent
bolometric magnitude 4.74 + 10 = 14.74. The spectrum is in the observed frame
(a Galactic star has no redshift), before any Galactic extinction. F6 log g
and F7 Z are kept in the spec but do not change a black body.

Written with the dimensionless ``x = h c / (lambda k T)``:

    pi B_lambda / (sigma_SB T^4) = (15 / pi^4) x^4 / (e^x - 1) / lambda

(substitute sigma_SB = 2 pi^5 k^4 / (15 h^3 c^2)), which keeps every
intermediate number of order unity, so the function is accurate in float32
too, and ``x^4 e^-x / (1 - e^-x)`` (with ``expm1``) stays finite, with finite
gradients, from the Rayleigh-Jeans tail (x -> 0) to the Wien tail (x -> inf).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "L_SUN_ERG_S",
    "KPC_CM",
    "HC_OVER_K_AA_K",
    "bolometric_flux",
    "planck_shape",
    "star_flux_density",
]

#: Nominal solar luminosity [erg/s] (IAU 2015 Resolution B3: 3.828e26 W).
L_SUN_ERG_S = 3.828e33
#: One kiloparsec [cm] (IAU 2012 astronomical unit, parsec = 648000 / pi au).
KPC_CM = 3.0856775814913673e21
#: Second radiation constant h c / k [Angstrom K] (CODATA 2018: 1.438776877e-2 m K).
HC_OVER_K_AA_K = 1.438776877e8
# 15 / pi^4: normalises x^3 / (e^x - 1) to unit integral over x.
_PLANCK_NORM = 15.0 / math.pi**4
# L_sun / (4 pi (1 kpc)^2) [erg/s/cm^2]: bolometric flux of log L = 0.
_FLUX_LSUN_1KPC = L_SUN_ERG_S / (4.0 * math.pi * KPC_CM**2)


def bolometric_flux(log_l: ArrayLike) -> jnp.ndarray:
    """Bolometric flux of a star of ``log L`` [L_sun] at 1 kpc.

    Parameters
    ----------
    log_l : array_like
        log10 of the luminosity in L_sun, as if at 1 kpc (F5).

    Returns
    -------
    jnp.ndarray
        ``L / (4 pi (1 kpc)^2)`` [erg/s/cm^2], same shape as ``log_l``;
        3.20e-11 for ``log_l = 0``.
    """
    return _FLUX_LSUN_1KPC * 10.0 ** jnp.asarray(log_l)


def planck_shape(wavelength: ArrayLike, teff: ArrayLike) -> jnp.ndarray:
    """A black body's spectrum per unit wavelength, normalised to unit integral.

    Parameters
    ----------
    wavelength : array_like
        Wavelength [A], > 0.
    teff : array_like
        Temperature [K], > 0; broadcast against ``wavelength``.

    Returns
    -------
    jnp.ndarray
        ``pi B_lambda(T) / (sigma_SB T^4)`` [1/A], so that its integral over
        wavelength is 1.
    """
    wavelength = jnp.asarray(wavelength)
    x = HC_OVER_K_AA_K / (wavelength * jnp.asarray(teff))
    # x^4 / (e^x - 1) = x^4 e^-x / (1 - e^-x): no overflow for large x.
    return _PLANCK_NORM * x**4 * jnp.exp(-x) / (-jnp.expm1(-x)) / wavelength


def star_flux_density(wavelength_obs: ArrayLike, teff: ArrayLike, log_l: ArrayLike) -> jnp.ndarray:
    """Observed f_lambda of a black-body star of ``Teff`` and ``log L`` at 1 kpc.

    Parameters
    ----------
    wavelength_obs : array_like of shape (n_wave,)
        Observed wavelength [A] (no redshift).
    teff : array_like
        Effective temperature [K] (F4).
    log_l : array_like
        log10 luminosity [L_sun] as if at 1 kpc (F5; module docstring).
        ``teff`` and ``log_l`` broadcast against ``wavelength_obs``
        (e.g. shape ``(n_star, 1)`` for several stars).

    Returns
    -------
    jnp.ndarray
        f_lambda [erg/s/cm^2/A] = ``L / (4 pi (1 kpc)^2) * pi B_lambda(Teff)
        / (sigma_SB Teff^4)``. Pure and differentiable in ``teff`` and
        ``log_l``; jit- and vmap-friendly.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> f = star_flux_density(jnp.array([5000.0]), 5772.0, 0.0)  # the Sun at 1 kpc
    """
    return bolometric_flux(log_l) * planck_shape(wavelength_obs, teff)
