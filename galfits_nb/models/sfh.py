"""Star-formation histories of the P block (P9, P10, P15), as pure functions.

An SFH here is a :class:`SFHPieces`: stretches of constant star-formation
rate between lookback ages, plus one single-age population, all per unit
mass *formed*. :func:`galfits_nb.models.ssp.ssp_weights` and
:func:`~galfits_nb.models.ssp.single_age_weights` turn it into weights of
the native SSP ages; the normalisation to the stellar mass P14 happens in
:mod:`galfits_nb.models.sed`.

The three P15 types (CONFIG-FORMAT.md)
-------------------------------------
``burst``
    A constant SFR over the last 100 Myr holding the fraction
    ``f = 10**P9`` of the formed mass, plus a single-age population of age
    P10 [Gyr] holding ``1 - f``.
``conti``
    A constant SFR from 200 Myr after the Big Bang until the epoch observed
    (lookback ages 0 to ``t_universe(z) - 0.2`` Gyr) holding ``f``, plus the
    single-age population holding ``1 - f``.
``bins``
    P10 lists bin edges [Gyr of lookback age], P9 one log mass per bin; the
    masses ``10**P9`` are normalised to sum to one (only their ratios count:
    P14 sets the total), constant SFR inside each bin.

Ages are lookback ages from the epoch at which the galaxy is observed.

Functional forms (SFH priors on ``bins``)
----------------------------------------
:func:`form_bin_masses` integrates GalfitS's three functional forms of the
SFR over the bins (``SFHa2``/``SFHa3`` of a prior file). ``t`` in them is
read as the lookback age in Gyr, the same axis as the bin edges:
``exponential`` ``SFR0 exp((t - t0) / tau)``, ``delayed``
``SFR0 (t / tau**2) exp(-t / tau)``, ``exponential2``
``SFR0 (exp((t - t0) / tau0) - exp((t - t1) / tau1))`` (negative values
clipped to 0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "SFH_TYPES",
    "BURST_WINDOW_GYR",
    "CONTI_START_GYR",
    "SFHPieces",
    "burst_sfh",
    "conti_sfh",
    "binned_sfh",
    "clip_pieces",
    "FORMS",
    "form_sfr",
    "form_bin_masses",
]

SFH_TYPES = ("burst", "conti", "bins")

BURST_WINDOW_GYR = 0.1
"""Length of the recent constant-SFR stretch of ``burst`` [Gyr]."""

CONTI_START_GYR = 0.2
"""Cosmic time at which the constant SFR of ``conti`` starts [Gyr]."""

FORMS = ("exponential", "delayed", "exponential2")


class SFHPieces(NamedTuple):
    """A star-formation history per unit formed mass.

    Attributes
    ----------
    edges_yr : array of shape (m + 1,)
        Increasing lookback-age edges of the constant-SFR stretches [yr].
    mass : array of shape (m,)
        Mass formed in each stretch (fraction of the total).
    single_age_yr : scalar array
        Age of the single-age population [yr].
    single_mass : scalar array
        Its mass (fraction of the total); ``sum(mass) + single_mass = 1``.
    """

    edges_yr: jax.Array
    mass: jax.Array
    single_age_yr: jax.Array
    single_mass: jax.Array

    @property
    def sfr(self) -> jax.Array:
        """SFR of each stretch [fraction of the formed mass per yr], shape (m,)."""
        width = jnp.diff(self.edges_yr)
        return jnp.where(width > 0, self.mass / jnp.where(width > 0, width, 1.0), 0.0)


def burst_sfh(log_fraction: jax.Array, age_gyr: jax.Array) -> SFHPieces:
    """``burst``: constant SFR over the last 100 Myr plus one single-age population.

    Parameters
    ----------
    log_fraction : scalar
        P9, log10 of the mass fraction formed in the last 100 Myr (<= 0).
    age_gyr : scalar
        P10, age of the single-age population [Gyr].

    Returns
    -------
    SFHPieces
    """
    f = jnp.clip(10.0 ** jnp.asarray(log_fraction), 0.0, 1.0)
    edges = jnp.stack([jnp.zeros_like(f), jnp.full_like(f, BURST_WINDOW_GYR * 1e9)])
    return SFHPieces(edges, f[None], jnp.asarray(age_gyr) * 1e9, 1.0 - f)


def conti_sfh(log_fraction: jax.Array, age_gyr: jax.Array, universe_age_gyr: jax.Array) -> SFHPieces:
    """``conti``: constant SFR since 200 Myr after the Big Bang plus one single-age population.

    Parameters
    ----------
    log_fraction : scalar
        P9, log10 of the mass fraction formed at the constant rate (<= 0).
    age_gyr : scalar
        P10, age of the single-age population [Gyr].
    universe_age_gyr : scalar
        Age of the universe at the galaxy's redshift [Gyr]
        (:func:`galfits_nb.models.cosmology.age_of_universe_gyr`).

    Returns
    -------
    SFHPieces
    """
    f = jnp.clip(10.0 ** jnp.asarray(log_fraction), 0.0, 1.0)
    start = jnp.maximum(jnp.asarray(universe_age_gyr) - CONTI_START_GYR, 1e-3) * 1e9
    edges = jnp.stack([jnp.zeros_like(f), start * jnp.ones_like(f)])
    return SFHPieces(edges, f[None], jnp.asarray(age_gyr) * 1e9, 1.0 - f)


def binned_sfh(log_masses: jax.Array, edges_gyr: jax.Array | tuple[float, ...]) -> SFHPieces:
    """``bins``: constant SFR inside each bin of P10, relative masses ``10**P9``.

    Parameters
    ----------
    log_masses : array of shape (m,)
        P9, log10 of the (relative) mass formed in each bin.
    edges_gyr : array of shape (m + 1,)
        P10, increasing bin edges [Gyr of lookback age].

    Returns
    -------
    SFHPieces
        Masses normalised to sum to 1; no single-age population.
    """
    log_masses = jnp.asarray(log_masses)
    weights = jax.nn.softmax(log_masses * jnp.log(10.0))  # 10**p / sum(10**p), overflow-safe
    edges = jnp.asarray(edges_gyr, dtype=weights.dtype) * 1e9
    zero = jnp.zeros((), dtype=weights.dtype)
    return SFHPieces(edges, weights, zero, zero)


def clip_pieces(pieces: SFHPieces, max_age_yr: float) -> SFHPieces:
    """The part of an SFH younger than ``max_age_yr``.

    Used to split off the stars still inside their birth clouds (those
    that ionise the gas, Charlot & Fall 2000, ApJ 539, 718).

    Parameters
    ----------
    pieces : SFHPieces
    max_age_yr : float
        Upper age limit [yr].

    Returns
    -------
    SFHPieces
        Same shapes; masses of the stretches scaled by the share of each
        stretch below the limit, the single-age mass kept only when its age
        is below it.
    """
    edges = jnp.minimum(pieces.edges_yr, max_age_yr)
    young_mass = pieces.sfr * jnp.diff(edges)
    single = jnp.where(pieces.single_age_yr < max_age_yr, pieces.single_mass, 0.0)
    return SFHPieces(edges, young_mass, pieces.single_age_yr, single)


# ---------------------------------------------------------------------------
# Functional forms (priors on bins)
# ---------------------------------------------------------------------------


def form_sfr(form: str, t_gyr: jax.Array, params: jax.Array) -> jax.Array:
    """SFR of one of GalfitS's functional forms [M_sun/yr] at lookback age ``t_gyr``.

    Parameters
    ----------
    form : str
        ``exponential`` (logSFR0, tau, t0), ``delayed`` (logSFR0, tau) or
        ``exponential2`` (logSFR0, tau0, t0, tau1, t1); static.
    t_gyr : array
        Lookback age [Gyr].
    params : array of shape (n_params,)
        The form's parameters in the order above (SFR0 as log10 M_sun/yr,
        times in Gyr).

    Returns
    -------
    array like ``t_gyr``
        Non-negative.
    """
    t = jnp.asarray(t_gyr)
    sfr0 = 10.0 ** params[0]
    if form == "exponential":
        value = sfr0 * jnp.exp((t - params[2]) / params[1])
    elif form == "delayed":
        value = sfr0 * (t / params[1] ** 2) * jnp.exp(-t / params[1])
    elif form == "exponential2":
        value = sfr0 * (jnp.exp((t - params[2]) / params[1]) - jnp.exp((t - params[4]) / params[3]))
    else:
        raise ValueError(f"unknown SFH form {form!r}; expected one of {', '.join(FORMS)}")
    return jnp.maximum(value, 0.0)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


def form_bin_masses(form: str, params: jax.Array, edges_gyr: jax.Array) -> jax.Array:
    """Mass formed [M_sun] in each bin by a functional SFR.

    16-point Gauss-Legendre quadrature per bin: exact to float precision for
    the smooth forms over bins up to several e-folding times wide.

    Parameters
    ----------
    form : str
        See :func:`form_sfr`; static.
    params : array of shape (n_params,)
    edges_gyr : array of shape (m + 1,)
        Bin edges [Gyr of lookback age].

    Returns
    -------
    array of shape (m,) [M_sun]
    """
    edges = jnp.asarray(edges_gyr)
    lo, hi = edges[:-1, None], edges[1:, None]
    half = 0.5 * (hi - lo)
    t = lo + half * (1.0 + jnp.asarray(_GL_NODES, dtype=edges.dtype)[None, :])
    sfr = form_sfr(form, t, jnp.asarray(params))
    return 1e9 * jnp.sum(sfr * jnp.asarray(_GL_WEIGHTS, dtype=edges.dtype)[None, :], axis=1) * half[:, 0]
