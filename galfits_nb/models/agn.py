"""The AGN spectrum: continuum, Balmer continuum, FeII, broad and narrow lines, hot dust.

Every model function takes rest-frame pixel **edges** (array of shape
(n + 1,), vacuum Angstrom, increasing, any spacing: a coarse SED grid with
R ~ 100-2000 or a spectrum with ~60 km/s pixels) and returns the
**pixel-averaged** luminosity density ``L_lambda`` of shape (n,), i.e. the
integral of the model over each pixel divided by its width. So
``sum(L * diff(edges))`` is the luminosity emitted between the first and last
edge, on any grid:

* Gaussian lines are differences of error functions, exact for a line
  narrower than a pixel (:func:`gaussian_lines`);
* power laws are integrated in closed form (:func:`power_law`,
  :func:`broken_power_law`);
* the other smooth continua (disk, Balmer continuum, black body) use
  Simpson's rule over each pixel (edges and midpoint), whose relative
  error is about ``(s dlambda / lambda)**4 / 2880`` for a local slope
  ``s = dln L / dln lambda``: 1e-5 on an R = 100 grid even in a Wien tail
  with s = 40. The Balmer continuum's edge at 3646 A is made a node of the
  rule, so its jump is integrated exactly.

Units
-----
Luminosity parameters are in erg/s (CONFIG-FORMAT.md, ``N`` block). The
output is ``L_lambda / unit_erg_s`` in [erg/s/A]: with the default
``unit_erg_s = 1`` it is erg/s/A. A Seyfert's ``L_lambda`` (~1e39 erg/s/A)
exceeds float32's largest number (3.4e38), so **a float32 caller must pass a
larger unit**, e.g. ``unit_erg_s = L_SUN_ERG_S`` (L_sun/A, the unit of
:mod:`galfits_nb.models.sed`). Everything inside is computed in logarithms
or in numbers of order unity and exponentiated only after the unit is
divided out, so with such a unit every function is finite, with finite
gradients, in float32 and float64.

Conventions
-----------
* ``log_l5100`` (N10) is ``log10(lambda L_lambda)`` at 5100 A [erg/s].
* ``alpha`` (N11) is the index of ``L_lambda ~ lambda**-alpha``; positive
  is blue (a quasar composite has alpha ~ 1.5, Vanden Berk et al. 2001,
  AJ 122, 549); ``alpha_nu = 2 - alpha`` for ``L_nu ~ nu**-alpha_nu``.
* Velocities in km/s. A line at rest wavelength ``l0`` with offset ``v`` is
  centred at ``l0 (1 + v / c)`` with ``sigma_lambda = l0 (1 + v / c) sigma / c``
  (non-relativistic Doppler shift; the relativistic one differs by
  ``(v/c)**2 / 2``, 5e-5 at 3000 km/s, which only relabels ``v``). An
  instrumental width ``sigma_instrument_kms`` is added in quadrature to
  every line and FeII width.
* Intrinsic attenuation (N9, ``A_V``): the Calzetti et al. (2000, ApJ 533,
  682) curve without a 2175 A bump, :func:`galfits_nb.models.dust.dust_transmission`
  (the only curve :mod:`galfits_nb.models.dust` offers; an SMC curve, which
  Hopkins et al. 2004, AJ 128, 1112 found to fit reddened quasars, would be
  the better choice where the UV matters). It dims the power-law / disk
  continuum, Balmer continuum, FeII and broad lines: the dust lies between
  us and the broad-line region. Narrow lines (emitted further out than the
  nuclear dust) and hot dust (infrared) are not attenuated. Continua are
  multiplied by the transmission at each pixel's centre, lines (FeII lines
  included) by the transmission at the line centre (so a line keeps its
  attenuated luminosity exactly).

Components
----------
Continuum (N18):

0. power law, :func:`power_law` (``logL5100``, ``alpha1``);
1. broken power law, :func:`broken_power_law` (``logL5100``, ``alpha1``
   blueward and ``alpha2`` redward of 4661 A, Vanden Berk et al. 2001);
2. thin accretion disk, :func:`thin_disk` (``logMBH``, ``logLEdd``,
   ``spin``): Shakura & Sunyaev (1973, A&A 24, 337) with its inner edge at
   the innermost stable circular orbit of a Kerr black hole (Bardeen, Press
   & Teukolsky 1972, ApJ 178, 347). ``logL5100`` and ``alpha`` are not used;
3. type 2: no nuclear continuum, no broad-line region (broad lines, FeII
   and Balmer continuum are dropped, with a warning if the configuration
   asks for them); narrow lines and hot dust remain;
4. "arbitrary" is not implemented: :func:`agn_spec` raises a
   :class:`~galfits_nb.errors.ConfigError` naming N18.

Balmer continuum (N16), :func:`balmer_continuum`: Grandi (1982, ApJ 255,
25) optically thick form as in Dietrich et al. (2002, ApJ 564, 581). Its
normalisation ``bac_logL`` is ``log10(lambda L_lambda)`` [erg/s] just
blueward of the Balmer edge (3646 A). The high-order Balmer lines that
smooth the edge in real spectra are not modelled.

FeII (N17), :func:`feii`: the broad (L1) Fe II line system of I Zw 1
measured by Veron-Cetty, Joly & Veron (2004, A&A 417, 515, appendix line
list): 100 lines, 3564-7080 A (air wavelengths as published, converted to
vacuum here), each a Gaussian of common width and offset. ``feii_logL`` is
log10 of the FeII luminosity between 4434 and 4684 A [erg/s], the band of
Boroson & Green (1992, ApJS 80, 109) that defines R_FeII = L(FeII
4434-4684) / L(H-beta broad); it is measured on the intrinsic template
(before instrumental broadening and attenuation) so it does not change
with the instrument. The ultraviolet FeII complex is not modelled.

Hot dust (N27), :func:`hot_dust`: a black body of total luminosity
``10**logLhotdust`` erg/s at 1200 K (or ``Thotdust``).

Broad (N12, N14 Gaussians each) and narrow (N13, N15 Gaussians each) lines:
:func:`gaussian_lines`; parameter names in :func:`agn_parameter_rows`.

Torus emission (N20-N25) is not part of this module.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc
from jax.typing import ArrayLike

from galfits_nb.config.companions import ParamRow
from galfits_nb.config.spec import NucleusSpec, Param
from galfits_nb.errors import ConfigError
from galfits_nb.models import dust as dust_model
from galfits_nb.models.lines import (
    DOUBLET_RATIOS,
    LINE_WAVELENGTHS,
    air_to_vacuum,
    canonical_line_name,
)

__all__ = [
    "C_KMS",
    "L5100_PIVOT_AA",
    "BREAK_AA",
    "BALMER_EDGE_AA",
    "FEII_WINDOW_AIR_AA",
    "HOT_DUST_TEMPERATURE_K",
    "FEII_VC04_BROAD",
    "FeIITemplate",
    "AGNSpec",
    "AGNComponents",
    "eddington_luminosity",
    "isco_radius",
    "radiative_efficiency",
    "disk_accretion_rate",
    "power_law",
    "broken_power_law",
    "thin_disk",
    "balmer_continuum",
    "gaussian_lines",
    "hot_dust",
    "load_feii_template",
    "feii",
    "agn_spec",
    "agn_parameter_rows",
    "agn_parameter_names",
    "agn_spectrum",
]

# ---------------------------------------------------------------------------
# Constants (CODATA 2018; IAU 2015 Resolution B3 for the Sun)
# ---------------------------------------------------------------------------

#: Speed of light [km/s].
C_KMS = 299792.458
#: Wavelength at which ``logL5100`` is defined [A].
L5100_PIVOT_AA = 5100.0
#: Break of the broken power law [A] (Vanden Berk et al. 2001, sec. 4.1).
BREAK_AA = 4661.0
#: Balmer edge [A] (Dietrich et al. 2002; the vacuum Balmer limit is 3647.05 A,
#: a difference the unmodelled high-order Balmer lines smear out anyway).
BALMER_EDGE_AA = 3646.0
#: The R_FeII band of Boroson & Green (1992) [A], air; converted to vacuum
#: when used.
FEII_WINDOW_AIR_AA = (4434.0, 4684.0)
#: Default hot-dust temperature [K] (N27).
HOT_DUST_TEMPERATURE_K = 1200.0

_LN10 = math.log(10.0)
_C_CMS = 2.99792458e10
# Nominal solar mass parameter G M_sun [cm^3/s^2] (IAU 2015 B3).
_GM_SUN = 1.3271244e26
_PROTON_MASS_G = 1.67262192369e-24
_THOMSON_CM2 = 6.6524587321e-25
_SIGMA_SB = 5.670374419e-5  # erg/s/cm^2/K^4
_HC_OVER_K_AA_K = 1.438776877e8  # h c / k [A K]
# 2 h c^2 in erg/s per cm^2 per sr, with lambda in A: B_lambda [erg/s/cm^2/A/sr]
# = _TWO_HC2 / lambda_A**5 / (exp(x) - 1).
_TWO_HC2 = 2.0 * 6.62607015e-27 * _C_CMS**2 * 1e32
#: Eddington luminosity per solar mass [erg/s]: 4 pi G M m_p c / sigma_T
#: (electron scattering in ionised hydrogen).
_L_EDD_PER_MSUN = 4.0 * math.pi * _GM_SUN * _PROTON_MASS_G * _C_CMS / _THOMSON_CM2
_GRAVITATIONAL_RADIUS_PER_MSUN_CM = _GM_SUN / _C_CMS**2
_SECONDS_PER_YEAR = 3.15576e7  # Julian year
_M_SUN_G = 1.98841e33
_SQRT2 = math.sqrt(2.0)
# Full-precision matrix products: on GPUs JAX may otherwise round float32
# operands to TF32 (10-bit mantissa), 1e-3 errors in line luminosities.
_EXACT = jax.lax.Precision.HIGHEST

# ---------------------------------------------------------------------------
# Numerical helpers (float32-safe)
# ---------------------------------------------------------------------------


def _float_array(x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def _log_expm1(x: jax.Array) -> jax.Array:
    """``log(exp(x) - 1) = x + log(1 - exp(-x))`` for ``x > 0``.

    Accurate from 1e-30 to 1e30 in float32 (``expm1`` keeps small ``x``
    exact, ``exp(-x)`` underflows harmlessly for large ``x``), with the
    finite gradient ``1 / (1 - exp(-x))``.
    """
    return x + jnp.log(-jnp.expm1(-x))


def _exprel(z: jax.Array) -> jax.Array:
    """``(exp(z) - 1) / z``, 1 at ``z = 0``; finite gradient everywhere."""
    tiny = jnp.abs(z) < 1e-4
    safe = jnp.where(tiny, 1.0, z)
    return jnp.where(tiny, 1.0 + z / 2.0 + z * z / 6.0, jnp.expm1(safe) / safe)


def _pixel_centres(edges: jax.Array) -> jax.Array:
    """Geometric means of the edges, shape (n,)."""
    return jnp.sqrt(edges[:-1] * edges[1:])


def _simpson_mean(log_f, nodes: jax.Array, width: jax.Array) -> jax.Array:
    """``integral f / width`` over each ``[nodes[i], nodes[i+1]]`` by Simpson's rule.

    ``f = exp(log_f(lambda))``, evaluated once on the ``2n + 1`` nodes and
    midpoints. ``nodes`` (n + 1,) increasing or equal (an empty interval
    gives 0); ``width`` (n,) the pixel widths the integrals are divided by.
    """
    mid = 0.5 * (nodes[:-1] + nodes[1:])
    n = nodes.shape[0]
    f = jnp.exp(log_f(jnp.concatenate([nodes, mid])))
    f_nodes, f_mid = f[:n], f[n:]
    mean = (f_nodes[:-1] + 4.0 * f_mid + f_nodes[1:]) / 6.0
    return mean * jnp.diff(nodes) / width


def _log_unit(unit_erg_s: float) -> float:
    if not unit_erg_s > 0:
        raise ValueError(f"unit_erg_s must be positive, got {unit_erg_s!r}")
    return math.log(unit_erg_s)


def _log_planck(wavelength: jax.Array, log_t: jax.Array) -> jax.Array:
    """``ln B_lambda(T)`` [erg/s/cm^2/A/sr] at ``wavelength`` [A] for ``T = exp(log_t)`` [K]."""
    x = _HC_OVER_K_AA_K / wavelength * jnp.exp(-log_t)
    return math.log(_TWO_HC2) - 5.0 * jnp.log(wavelength) - _log_expm1(x)


# ---------------------------------------------------------------------------
# Black holes and accretion
# ---------------------------------------------------------------------------


def eddington_luminosity(log_mbh: ArrayLike) -> jax.Array:
    """log10 of the Eddington luminosity ``4 pi G M m_p c / sigma_T`` [erg/s].

    Parameters
    ----------
    log_mbh : array_like
        log10 of the black-hole mass [M_sun].

    Returns
    -------
    array
        ``log10 L_Edd`` [erg/s]; 46.099 for ``log_mbh = 8``.
    """
    return _float_array(log_mbh) + math.log10(_L_EDD_PER_MSUN)


# |a| below which r_isco uses its Taylor series: the closed form's sqrt has an
# infinite derivative at a = 0 (its argument vanishes quadratically).
_ISCO_SERIES_SPIN = 1e-3
_SPIN_LIMIT = 0.9999


def isco_radius(spin: ArrayLike) -> jax.Array:
    """Radius of the innermost stable circular orbit [G M / c^2].

    Bardeen, Press & Teukolsky (1972, eq. 2.21) for spin ``a`` (prograde
    orbits for ``a > 0``, retrograde for ``a < 0``): 6 at ``a = 0``, 1 at
    ``a = 1``, 9 at ``a = -1``. ``a`` is clipped to +-0.9999 (the closed
    form's derivative diverges at +-1); near ``a = 0`` the series
    ``6 - 4 sqrt(2/3) a - (7/18) a**2`` replaces it (error < 1e-9).

    Parameters
    ----------
    spin : array_like
        Dimensionless spin ``a = J c / (G M^2)``, in [-1, 1].

    Returns
    -------
    array
        ``r_isco`` in units of ``G M / c^2``.
    """
    a = jnp.clip(_float_array(spin), -_SPIN_LIMIT, _SPIN_LIMIT)
    near_zero = jnp.abs(a) < _ISCO_SERIES_SPIN
    safe = jnp.where(near_zero, 0.5, a)
    z1 = 1.0 + jnp.cbrt(1.0 - safe * safe) * (jnp.cbrt(1.0 + safe) + jnp.cbrt(1.0 - safe))
    z2 = jnp.sqrt(3.0 * safe * safe + z1 * z1)
    closed = 3.0 + z2 - jnp.sign(safe) * jnp.sqrt((3.0 - z1) * (3.0 + z1 + 2.0 * z2))
    series = 6.0 - 4.0 * math.sqrt(2.0 / 3.0) * a - (7.0 / 18.0) * a * a
    return jnp.where(near_zero, series, closed)


def radiative_efficiency(spin: ArrayLike) -> jax.Array:
    """Radiative efficiency ``1 - E_isco`` of a thin disk around a Kerr black hole.

    ``E_isco = sqrt(1 - 2 / (3 r_isco))`` (Bardeen et al. 1972; Novikov &
    Thorne 1973): 0.0572 at ``a = 0``, 0.321 at ``a = 0.998``.

    Parameters
    ----------
    spin : array_like
        Spin ``a`` in [-1, 1].

    Returns
    -------
    array
        ``eta``, dimensionless.
    """
    return 1.0 - jnp.sqrt(1.0 - 2.0 / (3.0 * isco_radius(spin)))


def disk_accretion_rate(log_mbh: ArrayLike, log_ledd: ArrayLike, spin: ArrayLike) -> jax.Array:
    """log10 of the accretion rate ``L_bol / (eta(a) c^2)`` [M_sun/yr].

    ``L_bol = 10**log_ledd * L_Edd(M)``; ``eta`` from :func:`radiative_efficiency`.

    Returns
    -------
    array
        ``log10(Mdot / (M_sun/yr))``; 0.35 for ``log_mbh = 8``,
        ``log_ledd = -1``, ``a = 0``.
    """
    log_lbol = _float_array(log_ledd) + eddington_luminosity(log_mbh)
    conversion = math.log10(_SECONDS_PER_YEAR / (_C_CMS**2 * _M_SUN_G))
    return log_lbol - jnp.log10(radiative_efficiency(spin)) + conversion


# ---------------------------------------------------------------------------
# Continua
# ---------------------------------------------------------------------------


def _power_law_mean(
    lo: jax.Array,
    hi: jax.Array,
    width: jax.Array,
    log_norm: jax.Array,
    pivot: float,
    alpha: jax.Array,
) -> jax.Array:
    """``integral_lo^hi exp(log_norm) (lambda / pivot)**-alpha dlambda / width``, exactly.

    ``integral = pivot (lo/pivot)**(1-alpha) x exprel((1-alpha) x)`` with
    ``x = ln(hi/lo)``: no division by ``1 - alpha``, finite at alpha = 1
    and for empty segments (``hi == lo`` gives 0).
    """
    x = jnp.log(hi / lo)
    one_minus = 1.0 - alpha
    log_scale = log_norm + math.log(pivot) + one_minus * jnp.log(lo / pivot) - jnp.log(width)
    return jnp.exp(log_scale) * x * _exprel(one_minus * x)


def power_law(
    edges: ArrayLike,
    log_l5100: ArrayLike,
    alpha: ArrayLike,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """Power-law continuum ``L_lambda = (10**log_l5100 / 5100) (lambda / 5100)**-alpha``.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A], vacuum, increasing.
    log_l5100 : scalar
        ``log10(lambda L_lambda)`` at 5100 A [erg/s] (N10).
    alpha : scalar
        Index of ``L_lambda ~ lambda**-alpha`` (N11; positive = blue).
    unit_erg_s : float
        Output unit (module docstring); static.

    Returns
    -------
    array of shape (n,)
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A], exact integrals.
    """
    edges = _float_array(edges)
    log_norm = _LN10 * _float_array(log_l5100) - math.log(L5100_PIVOT_AA) - _log_unit(unit_erg_s)
    lo, hi = edges[:-1], edges[1:]
    return _power_law_mean(lo, hi, hi - lo, log_norm, L5100_PIVOT_AA, _float_array(alpha))


def broken_power_law(
    edges: ArrayLike,
    log_l5100: ArrayLike,
    alpha1: ArrayLike,
    alpha2: ArrayLike,
    break_aa: float = BREAK_AA,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """Broken power law: index ``alpha1`` blueward of ``break_aa``, ``alpha2`` redward.

    Continuous at the break and normalised so that ``lambda L_lambda`` at
    5100 A is ``10**log_l5100``. The break at 4661 A is where Vanden Berk
    et al. (2001, AJ 122, 549, sec. 4.1) find the slope of the SDSS quasar
    composite to change (alpha_nu = -0.44 blueward, -2.45 redward, i.e.
    ``alpha1 = 1.56``, ``alpha2 = -0.45`` in our convention).

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    log_l5100 : scalar
        ``log10(lambda L_lambda)`` at 5100 A [erg/s].
    alpha1, alpha2 : scalar
        Indices of ``L_lambda ~ lambda**-alpha`` blueward / redward of the break.
    break_aa : float
        Break wavelength [A]; static.
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A], exact integrals
        (a pixel containing the break is integrated piecewise).
    """
    edges = _float_array(edges)
    alpha1, alpha2 = _float_array(alpha1), _float_array(alpha2)
    log_l5100 = _float_array(log_l5100)
    # Normalise at 5100 A on whichever side of the break it lies.
    alpha_pivot = alpha2 if L5100_PIVOT_AA >= break_aa else alpha1
    log_norm_break = (
        _LN10 * log_l5100
        - math.log(L5100_PIVOT_AA)
        + alpha_pivot * math.log(L5100_PIVOT_AA / break_aa)
        - _log_unit(unit_erg_s)
    )
    lo, hi = edges[:-1], edges[1:]
    width = hi - lo
    blue_lo, blue_hi = jnp.minimum(lo, break_aa), jnp.minimum(hi, break_aa)
    red_lo, red_hi = jnp.maximum(lo, break_aa), jnp.maximum(hi, break_aa)
    blue = _power_law_mean(blue_lo, blue_hi, width, log_norm_break, break_aa, alpha1)
    red = _power_law_mean(red_lo, red_hi, width, log_norm_break, break_aa, alpha2)
    return blue + red


# Gauss-Legendre quadrature of the disk in u = ln(R / R_in), two panels: the
# inner one holds the hottest annuli (T peaks at R = 49/36 R_in, u = 0.31).
_DISK_INNER_U = 2.0
_DISK_NODES_PER_PANEL = 48
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_DISK_NODES_PER_PANEL)
_GL_T = 0.5 * (_GL_X + 1.0)  # nodes on [0, 1]
_GL_WT = 0.5 * _GL_W  # weights on [0, 1]


def _disk_log_integral(wavelength: jax.Array, log_t4_star: jax.Array, u_out: jax.Array) -> jax.Array:
    """``ln integral_0^u_out B_lambda(T(u)) r**2 du`` with ``r = e^u`` (per sr, cm^2 of R_in^2).

    ``T(r)**4 = T_*^4 r**-3 (1 - r**-1/2)`` (Shakura & Sunyaev 1973 with a
    zero-torque inner edge). The integrand is summed after subtracting its
    largest log (held out of the gradient, which the shift does not change),
    so nothing overflows.
    """
    dtype = wavelength.dtype
    t = jnp.asarray(_GL_T, dtype)
    w = jnp.asarray(_GL_WT, dtype)
    inner = jnp.minimum(u_out, _DISK_INNER_U)
    u = jnp.concatenate([inner * t, inner + (u_out - inner) * t])
    weights = jnp.concatenate([inner * w, (u_out - inner) * w])
    # ln T = (ln T_*^4 - 3u + ln(1 - e^{-u/2})) / 4
    log_t = 0.25 * (log_t4_star - 3.0 * u + jnp.log(-jnp.expm1(-0.5 * u)))
    log_terms = 2.0 * u + _log_planck(wavelength[..., None], log_t)  # (..., n_nodes)
    peak = jax.lax.stop_gradient(jnp.max(log_terms, axis=-1, keepdims=True))
    return jnp.log(jnp.matmul(jnp.exp(log_terms - peak), weights, precision=_EXACT)) + peak[..., 0]


def thin_disk(
    edges: ArrayLike,
    log_mbh: ArrayLike,
    log_ledd: ArrayLike,
    spin: ArrayLike,
    cos_inclination: ArrayLike = 0.5,
    *,
    r_out_rg: float = 1.0e4,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """A geometrically thin, optically thick accretion disk (multi-temperature black body).

    The disk radiates ``L_bol = 10**log_ledd * L_Edd(M)`` (L_Edd of
    :func:`eddington_luminosity`) from ``R_in = r_isco(a) G M / c^2``
    (:func:`isco_radius`, Bardeen et al. 1972) to ``R_out = r_out_rg G M / c^2``,
    each annulus a black body at the Shakura & Sunyaev (1973, eq. 3.8)
    temperature with a zero-torque inner edge,

        T(R)**4 = (3 G M Mdot_N / (8 pi sigma R**3)) (1 - sqrt(R_in / R)).

    A Newtonian disk so described radiates ``G M Mdot_N / (2 R_in)``. We
    set ``Mdot_N = 2 R_in L_bol / (G M)`` so that it radiates exactly
    ``L_bol`` (to a fraction ``1 - 3/x + 2/x**1.5``, ``x = R_out / R_in``,
    for the finite outer edge): ``T(R)**4 = 3 L_bol R_in / (4 pi sigma R**3)
    (1 - sqrt(R_in / R))``. The physical accretion rate
    ``Mdot = L_bol / (eta(a) c^2)`` with the Kerr efficiency of
    :func:`radiative_efficiency` (:func:`disk_accretion_rate`) is larger
    by ``1 / (2 eta r_isco)`` (1.46 at a = 0): the relativistic corrections
    of Novikov & Thorne (1973), which remove that energy from the inner
    disk, are replaced by this renormalisation. The spin thus sets the
    inner radius, hence the peak temperature (``T_max ~ r_isco**-1/2`` at
    fixed ``L_bol`` and ``M``).

    Inclination: a flat disk without limb darkening seen at inclination
    ``i`` has the isotropic-equivalent luminosity ``4 pi d^2 F_lambda =
    2 cos(i) L_lambda`` (``L_lambda`` emitted by both faces together). The
    default ``cos i = 0.5`` (i = 60 deg, also the mean of ``cos i`` over
    random orientations) makes the two equal, so that the model's
    ``lambda``-integral is ``L_bol``.

    The radial integral is a fixed 96-point Gauss-Legendre rule in
    ``ln R`` (two panels, the inner one over the hottest annuli),
    jit-friendly and within 1e-6 of an adaptive quadrature
    (tests/test_agn.py).

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    log_mbh : scalar
        log10 black-hole mass [M_sun] (N6 / seed's N9).
    log_ledd : scalar
        log10 of L_bol / L_Edd (N7 / seed's N8).
    spin : scalar
        Dimensionless spin ``a`` (N8), in [-1, 1].
    cos_inclination : scalar
        Cosine of the inclination (1 = face-on).
    r_out_rg : float
        Outer radius [G M / c^2]; static. 1e4 by default (about where a
        quasar disk becomes self-gravitating, e.g. Goodman 2003, MNRAS 339,
        937); the outer edge matters only in the infrared.
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means (Simpson's rule) of the isotropic-equivalent
        ``L_lambda`` [unit_erg_s erg/s/A].
    """
    edges = _float_array(edges)
    dtype = edges.dtype
    log_mbh = jnp.asarray(log_mbh, dtype)
    r_isco = isco_radius(jnp.asarray(spin, dtype))
    log_lbol = _LN10 * (jnp.asarray(log_ledd, dtype) + log_mbh) + math.log(_L_EDD_PER_MSUN)
    log_r_in = jnp.log(r_isco) + math.log(_GRAVITATIONAL_RADIUS_PER_MSUN_CM) + _LN10 * log_mbh  # [cm]
    log_t4_star = math.log(3.0 / (4.0 * math.pi * _SIGMA_SB)) + log_lbol - 2.0 * log_r_in
    u_out = math.log(r_out_rg) - jnp.log(r_isco)
    # L_lambda(i) = 2 cos i * 2 faces * pi B * 2 pi R dR = 8 pi^2 cos i R_in^2 int B r^2 du
    log_prefactor = (
        math.log(8.0 * math.pi**2)
        + jnp.log(jnp.asarray(cos_inclination, dtype))
        + 2.0 * log_r_in
        - _log_unit(unit_erg_s)
    )

    def log_f(wavelength: jax.Array) -> jax.Array:
        return log_prefactor + _disk_log_integral(wavelength, log_t4_star, u_out)

    return _simpson_mean(log_f, edges, jnp.diff(edges))


def balmer_continuum(
    edges: ArrayLike,
    log_l_bac: ArrayLike,
    t_e: ArrayLike = 15000.0,
    tau_be: ArrayLike = 1.0,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """Balmer continuum of Grandi (1982) as used by Dietrich et al. (2002, eq. 1).

    ``L_lambda = C B_lambda(T_e) (1 - exp(-tau_BE (lambda / lambda_BE)**3))``
    for ``lambda <= lambda_BE = 3646 A``, 0 redward: optically thick
    partially, with optical depth ``tau_BE`` at the edge.

    Normalisation: ``log_l_bac = log10(lambda_BE L_lambda(lambda_BE))``,
    ``lambda L_lambda`` [erg/s] just blueward of the edge.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    log_l_bac : scalar
        ``log10(lambda L_lambda)`` at 3646 A [erg/s] (``<nucleus>_bac_logL``).
    t_e : scalar
        Electron temperature [K]; 15 000 K (Dietrich et al. 2002).
    tau_be : scalar
        Optical depth at the Balmer edge; 1 (Dietrich et al. 2002).
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A]; the pixel holding
        the edge gets the integral of its blue part over its whole width.
    """
    edges = _float_array(edges)
    dtype = edges.dtype
    log_t = jnp.log(jnp.asarray(t_e, dtype))
    tau_be = jnp.asarray(tau_be, dtype)
    edge = jnp.asarray(BALMER_EDGE_AA, dtype)
    log_shape_edge = _log_planck(edge, log_t) + jnp.log(-jnp.expm1(-tau_be))
    log_norm = _LN10 * jnp.asarray(log_l_bac, dtype) - math.log(BALMER_EDGE_AA) - _log_unit(unit_erg_s)

    def log_f(wavelength: jax.Array) -> jax.Array:
        tau = tau_be * (wavelength / BALMER_EDGE_AA) ** 3
        return log_norm + _log_planck(wavelength, log_t) + jnp.log(-jnp.expm1(-tau)) - log_shape_edge

    return _simpson_mean(log_f, jnp.minimum(edges, BALMER_EDGE_AA), jnp.diff(edges))


def hot_dust(
    edges: ArrayLike,
    log_l: ArrayLike,
    temperature: ArrayLike = HOT_DUST_TEMPERATURE_K,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """Black body of total luminosity ``10**log_l`` erg/s (N27 hot dust).

    ``L_lambda = L pi B_lambda(T) / (sigma T^4) = L (15 / pi^4) x**4 / (e^x - 1) / lambda``
    with ``x = h c / (lambda k T)`` (the form of :mod:`galfits_nb.models.stars`),
    evaluated in logarithms.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    log_l : scalar
        log10 of the bolometric luminosity [erg/s].
    temperature : scalar
        Temperature [K]; 1200 K by default (near the sublimation temperature
        of graphite grains).
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means (Simpson's rule) of ``L_lambda`` [unit_erg_s erg/s/A].
    """
    edges = _float_array(edges)
    dtype = edges.dtype
    log_t = jnp.log(jnp.asarray(temperature, dtype))
    log_norm = _LN10 * jnp.asarray(log_l, dtype) + math.log(15.0 / math.pi**4) - _log_unit(unit_erg_s)

    def log_f(wavelength: jax.Array) -> jax.Array:
        log_x = math.log(_HC_OVER_K_AA_K) - jnp.log(wavelength) - log_t
        return log_norm + 4.0 * log_x - _log_expm1(jnp.exp(log_x)) - jnp.log(wavelength)

    return _simpson_mean(log_f, edges, jnp.diff(edges))


# ---------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------


def _erf_difference(z: jax.Array) -> jax.Array:
    """``erf(z[..., 1:]) - erf(z[..., :-1])`` for increasing ``z``, without cancellation in the wings.

    With ``e = erfc(|z|)`` (one evaluation per edge): both edges right of
    the centre give ``e_lo - e_hi``, both left ``e_hi - e_lo``, and a pixel
    holding the centre ``2 - e_lo - e_hi``. Differences of two numbers near
    1 (``erf`` in the wings) would lose all precision in float32.
    """
    e = erfc(jnp.abs(z))
    right = z >= 0.0
    e_lo, e_hi = e[..., :-1], e[..., 1:]
    return jnp.where(
        right[..., :-1],
        e_lo - e_hi,
        jnp.where(right[..., 1:], 2.0 - e_lo - e_hi, e_hi - e_lo),
    )


def gaussian_lines(
    edges: ArrayLike,
    centres_aa: ArrayLike,
    log_l: ArrayLike,
    sigma_kms: ArrayLike,
    voff_kms: ArrayLike,
    sigma_instrument_kms: ArrayLike = 0.0,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """Sum of Gaussian lines, averaged over each pixel.

    Line ``j`` has luminosity ``10**log_l[j]`` erg/s, centre
    ``centres_aa[j] (1 + voff_kms[j] / c)`` and width
    ``sigma_lambda = centre * sqrt(sigma_kms[j]**2 + sigma_instrument_kms**2) / c``.
    Each pixel gets ``L (erf(z_hi) - erf(z_lo)) / (2 dlambda)``: the line's
    luminosity inside the pixel over its width, so a line narrower than a
    pixel keeps its total luminosity on any grid.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    centres_aa : array of shape (n_lines,)
        Rest wavelengths [A] (vacuum, :data:`galfits_nb.models.lines.LINE_WAVELENGTHS`).
    log_l : array of shape (n_lines,)
        log10 line luminosities [erg/s].
    sigma_kms : scalar or array of shape (n_lines,)
        Gaussian sigma [km/s].
    voff_kms : scalar or array of shape (n_lines,)
        Velocity offsets [km/s].
    sigma_instrument_kms : scalar or array of shape (n_lines,)
        Instrumental sigma [km/s], added in quadrature.
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A].
    """
    edges = _float_array(edges)
    dtype = edges.dtype
    centres = jnp.atleast_1d(jnp.asarray(centres_aa, dtype))
    log_l = jnp.broadcast_to(jnp.asarray(log_l, dtype), centres.shape)
    fractions = _line_fractions(edges, centres, sigma_kms, voff_kms, sigma_instrument_kms)
    amplitude = jnp.exp(_LN10 * log_l - _log_unit(unit_erg_s))
    return jnp.matmul(amplitude, fractions, precision=_EXACT) / jnp.diff(edges)


def _line_fractions(
    edges: jax.Array,
    centres: jax.Array,
    sigma_kms: ArrayLike,
    voff_kms: ArrayLike,
    sigma_instrument_kms: ArrayLike,
) -> jax.Array:
    """Fraction of each line's luminosity inside each pixel, shape (n_lines, n)."""
    dtype = edges.dtype
    sigma = jnp.broadcast_to(jnp.asarray(sigma_kms, dtype), centres.shape)
    voff = jnp.broadcast_to(jnp.asarray(voff_kms, dtype), centres.shape)
    inst = jnp.broadcast_to(jnp.asarray(sigma_instrument_kms, dtype), centres.shape)
    mean = centres * (1.0 + voff / C_KMS)
    # A floor of 1e-3 km/s keeps a zero width finite (and differentiable).
    width = mean * jnp.sqrt(sigma**2 + inst**2 + 1e-6) / C_KMS
    z = (edges[None, :] - mean[:, None]) / (_SQRT2 * width[:, None])  # (n_lines, n + 1)
    return 0.5 * _erf_difference(z)


# ---------------------------------------------------------------------------
# FeII
# ---------------------------------------------------------------------------

#: The broad (L1) Fe II line system of I Zw 1 from Veron-Cetty, Joly & Veron
#: (2004, A&A 417, 515, appendix): (air wavelength [A], intensity relative to
#: the system's H-beta, multiplet number or '' where none is given). The
#: machine-readable transcription is that of the BADASS code's data files
#: (Sexton et al. 2021, MNRAS 500, 2871); the multiplet 42 wavelengths agree
#: with NIST's (4923.93, 5018.44, 5169.03 A) to 0.01 A.
FEII_VC04_BROAD: tuple[tuple[float, float, str], ...] = (
    (3564.53, 0.11, '113'), (3589.48, 0.11, ''), (3614.87, 0.12, '112'), (3627.17, 0.11, '193'),
    (3649.39, 0.08, ''), (3732.88, 0.08, ''), (3764.09, 0.19, '29'), (4093.66, 0.06, ''),
    (4178.86, 0.07, '28'), (4258.16, 0.04, '28'), (4278.10, 0.09, '32'), (4296.57, 0.07, '28'),
    (4303.17, 0.12, '27'), (4314.29, 0.05, '32'), (4369.40, 0.12, '28'), (4385.38, 0.05, '27'),
    (4403.03, 0.09, ''), (4416.82, 0.09, '27'), (4472.92, 0.21, '37'), (4489.18, 0.04, '37'),
    (4491.40, 0.04, '37'), (4508.28, 0.14, '38'), (4515.34, 0.10, '37'), (4520.22, 0.10, '37'),
    (4522.63, 0.10, '38'), (4534.17, 0.07, '37'), (4549.47, 0.07, '38'), (4555.89, 0.14, '37'),
    (4576.33, 0.07, '38'), (4582.83, 0.08, '37'), (4583.83, 0.08, '38'), (4595.68, 0.07, '38'),
    (4601.41, 0.04, '43'), (4620.51, 0.10, '38'), (4629.34, 0.17, '37'), (4656.97, 0.13, '43'),
    (4666.75, 0.12, '37'), (4713.18, 0.03, '26'), (4720.15, 0.01, '54'), (4731.44, 0.05, '43'),
    (4886.93, 0.04, '54'), (4923.92, 0.18, '42'), (5018.45, 0.18, '42'), (5030.64, 0.11, ''),
    (5132.67, 0.13, '35'), (5154.40, 0.11, '35'), (5169.03, 0.18, '42'), (5197.57, 0.15, '49'),
    (5234.62, 0.15, '49'), (5238.58, 0.05, '41'), (5254.92, 0.01, '49'), (5256.89, 0.01, '41'),
    (5264.80, 0.17, '48'), (5275.99, 0.08, '49'), (5284.09, 0.12, '41'), (5316.61, 0.19, '49'),
    (5316.78, 0.06, '48'), (5337.71, 0.12, '48'), (5362.86, 0.08, '48'), (5414.09, 0.07, '48'),
    (5425.27, 0.04, '49'), (5432.98, 0.09, '55'), (5505.25, 0.07, ''), (5534.83, 0.15, '55'),
    (5738.18, 0.01, ''), (5955.51, 0.02, '217'), (5991.39, 0.05, '46'), (6044.53, 0.03, '46'),
    (6113.32, 0.02, '46'), (6116.04, 0.02, '46'), (6129.71, 0.01, '46'), (6147.74, 0.03, '74'),
    (6149.25, 0.03, '74'), (6157.12, 0.04, ''), (6178.14, 0.02, '46'), (6185.34, 0.02, '46'),
    (6238.37, 0.05, '74'), (6247.55, 0.13, '74'), (6278.22, 0.02, ''), (6307.53, 0.07, '34'),
    (6317.99, 0.05, ''), (6336.95, 0.04, ''), (6369.45, 0.04, '40'), (6385.45, 0.05, ''),
    (6402.90, 0.02, ''), (6407.30, 0.02, '74'), (6416.89, 0.05, '74'), (6432.68, 0.06, '40'),
    (6442.95, 0.02, ''), (6456.39, 0.14, '74'), (6491.28, 0.07, ''), (6500.63, 0.06, ''),
    (6516.07, 0.08, '40'), (6598.30, 0.21, ''), (6623.07, 0.06, ''), (6644.25, 0.03, ''),
    (6993.43, 0.01, ''), (7008.69, 0.03, ''), (7054.53, 0.05, ''), (7080.47, 0.02, ''),
)


class FeIITemplate(NamedTuple):
    """An FeII template as a list of lines (a pytree of arrays).

    Attributes
    ----------
    wavelength : array of shape (n_lines,)
        Rest wavelengths in vacuum [A].
    intensity : array of shape (n_lines,)
        Relative line luminosities (any normalisation).
    """

    wavelength: np.ndarray
    intensity: np.ndarray


@lru_cache(maxsize=1)
def load_feii_template() -> FeIITemplate:
    """The FeII template: :data:`FEII_VC04_BROAD` with vacuum wavelengths.

    The table is published data built into this module, so nothing is read
    or cached on disk and no extra package is needed. The arrays are
    read-only float64 numpy arrays (cast to the caller's dtype when used).

    Returns
    -------
    FeIITemplate
        100 lines from 3565.5 to 7082.4 A (vacuum).
    """
    table = np.array([(w, i) for w, i, _ in FEII_VC04_BROAD], dtype=np.float64)
    wavelength = air_to_vacuum(table[:, 0])
    intensity = table[:, 1].copy()
    wavelength.setflags(write=False)
    intensity.setflags(write=False)
    return FeIITemplate(wavelength, intensity)


def _feii_window_vacuum() -> tuple[float, float]:
    lo, hi = air_to_vacuum(np.array(FEII_WINDOW_AIR_AA))
    return float(lo), float(hi)


def feii(
    edges: ArrayLike,
    template: FeIITemplate,
    log_l_feii: ArrayLike,
    sigma_kms: ArrayLike,
    voff_kms: ArrayLike,
    sigma_instrument_kms: ArrayLike = 0.0,
    *,
    unit_erg_s: float = 1.0,
) -> jax.Array:
    """The FeII pseudo-continuum: the template's lines broadened and shifted together.

    Every template line is a Gaussian of the same velocity width and offset:
    this *is* the template convolved with a Gaussian in ``ln lambda``,
    computed exactly line by line (:func:`gaussian_lines`) instead of by an
    FFT on a resampled grid, so it holds on any pixel grid.

    Normalisation: ``10**log_l_feii`` [erg/s] is the luminosity of the
    intrinsic template (width ``sigma_kms``, no offset, no instrument, no
    attenuation) between 4434 and 4684 A (Boroson & Green 1992, converted
    to vacuum), computed from the lines' erf fractions inside that band.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A].
    template : FeIITemplate
        From :func:`load_feii_template`.
    log_l_feii : scalar
        log10 of the FeII luminosity in 4434-4684 A [erg/s].
    sigma_kms, voff_kms : scalar
        Common Gaussian sigma and velocity offset [km/s].
    sigma_instrument_kms : scalar
        Instrumental sigma [km/s], added in quadrature.
    unit_erg_s : float
        Output unit; static.

    Returns
    -------
    array of shape (n,)
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A].
    """
    edges = _float_array(edges)
    centres, log_l = _feii_lines(template, log_l_feii, sigma_kms, edges.dtype)
    return gaussian_lines(edges, centres, log_l, sigma_kms, voff_kms, sigma_instrument_kms, unit_erg_s=unit_erg_s)


def _feii_lines(
    template: FeIITemplate, log_l_feii: ArrayLike, sigma_kms: ArrayLike, dtype
) -> tuple[jax.Array, jax.Array]:
    """Centres [A] and log10 luminosities [erg/s] of the template lines, shape (n_lines,)."""
    centres = jnp.asarray(template.wavelength, dtype)
    intensity = jnp.asarray(template.intensity, dtype)
    sigma = jnp.asarray(sigma_kms, dtype)
    lo, hi = _feii_window_vacuum()
    width = centres * jnp.sqrt(sigma**2 + 1e-6) / C_KMS
    band = (jnp.asarray([lo, hi], dtype)[None, :] - centres[:, None]) / (_SQRT2 * width[:, None])
    inside = 0.5 * _erf_difference(band)[:, 0]
    log_window = jnp.log10(jnp.sum(intensity * inside))
    return centres, jnp.asarray(log_l_feii, dtype) + jnp.log10(intensity) - log_window

# ---------------------------------------------------------------------------
# The nucleus: static spec, parameter rows, full spectrum
# ---------------------------------------------------------------------------

_CONTINUUM_MODELS = {0: "power law", 1: "broken power law", 2: "thin disk", 3: "type 2 (no continuum)"}


class AGNSpec(NamedTuple):
    """What never changes about a nucleus's spectrum (hashable, static under jit).

    Attributes
    ----------
    name : str
        N1, the prefix of every parameter name.
    continuum : int
        N18: 0 power law, 1 broken power law, 2 thin disk, 3 type 2.
    broad_lines, narrow_lines : tuple of str
        N12 / N13 as names of :data:`~galfits_nb.models.lines.LINE_WAVELENGTHS`.
    n_broad, n_narrow : int
        N14 / N15, Gaussians per line.
    balmer_continuum, feii : bool
        N16 / N17.
    hot_dust : bool
        N27 given (``<name>_logLhotdust``).
    hot_dust_temperature : bool
        N27 gives a temperature (``<name>_Thotdust``); else 1200 K.
    attenuation : bool
        N9 given (``<name>_Av``); the seed's layout has none (no attenuation).
    spin : bool
        N8 given (``<name>_spin``); else the thin disk uses a = 0.
    """

    name: str
    continuum: int = 0
    broad_lines: tuple[str, ...] = ()
    narrow_lines: tuple[str, ...] = ()
    n_broad: int = 1
    n_narrow: int = 1
    balmer_continuum: bool = False
    feii: bool = False
    hot_dust: bool = False
    hot_dust_temperature: bool = False
    attenuation: bool = False
    spin: bool = False


class AGNComponents(NamedTuple):
    """The parts of an AGN spectrum, each an array of shape (n,) [unit_erg_s erg/s/A].

    Attributes
    ----------
    continuum : power law, broken power law or disk (attenuated)
    balmer : Balmer continuum (attenuated)
    feii : FeII (attenuated)
    broad : broad lines (attenuated)
    narrow : narrow lines
    hot_dust : hot-dust black body
    total : their sum
    """

    continuum: jax.Array
    balmer: jax.Array
    feii: jax.Array
    broad: jax.Array
    narrow: jax.Array
    hot_dust: jax.Array
    total: jax.Array


def _key(nucleus: NucleusSpec, item: int) -> str:
    return f"N{nucleus.letter}{item}"


def _canonical_lines(nucleus: NucleusSpec, lines: tuple[str, ...], item: int) -> tuple[str, ...]:
    names: list[str] = []
    for line in lines:
        try:
            name = canonical_line_name(line)
        except ConfigError as err:
            raise ConfigError(err.detail, key=_key(nucleus, item), expected=err.expected, found=err.found) from None
        if name in names:
            raise ConfigError(
                f"line {line!r} is listed twice (as {name!r})", key=_key(nucleus, item), found=repr(list(lines))
            )
        names.append(name)
    return tuple(names)


def _require(nucleus: NucleusSpec, key: str, item: int, why: str) -> object:
    value = nucleus.get(key)
    if value is None:
        raise ConfigError(f"nucleus {nucleus.name!r}: {why} needs {key}", key=_key(nucleus, item), found="nothing")
    return value


def agn_spec(nucleus: NucleusSpec) -> AGNSpec:
    """The static AGN model of an ``N`` block.

    Parameters
    ----------
    nucleus : NucleusSpec

    Returns
    -------
    AGNSpec
        Line names made canonical (``'Halpha'`` -> ``'Ha'``).

    Raises
    ------
    ConfigError
        Naming the key: an unknown or repeated line (N12 / N13), a continuum
        model other than 0-3 (N18), a missing parameter the continuum needs
        (N10 / N11 / N6 / N7), fewer than one Gaussian per line (N14 / N15).

    Warns
    -----
    ConfigWarning
        N18 = 3 (type 2) with broad lines, FeII or a Balmer continuum, which
        are then left out.
    """
    from galfits_nb.config.lyric import ConfigWarning

    continuum = int(nucleus.continuum)
    if continuum not in _CONTINUUM_MODELS:
        raise ConfigError(
            f"nucleus {nucleus.name!r}: continuum model {continuum} is not available",
            key=_key(nucleus, 18),
            expected="0 (power law), 1 (broken power law), 2 (thin disk) or 3 (type 2)",
            found=str(continuum),
        )
    broad = _canonical_lines(nucleus, tuple(nucleus.broad_lines), 12)
    narrow = _canonical_lines(nucleus, tuple(nucleus.narrow_lines), 13)
    balmer, fe = bool(nucleus.balmer_continuum), bool(nucleus.feii)
    if continuum in (0, 1):
        _require(nucleus, "logL5100", 10, _CONTINUUM_MODELS[continuum])
        alpha = _require(nucleus, "alpha", 11, _CONTINUUM_MODELS[continuum])
        needed = continuum + 1
        if not isinstance(alpha, tuple) or len(alpha) < needed:
            raise ConfigError(
                f"nucleus {nucleus.name!r}: the {_CONTINUUM_MODELS[continuum]} needs {needed} power-law index(es)",
                key=_key(nucleus, 11),
                expected=f"{needed} parameter(s) [[...]{', [...]' if needed > 1 else ''}]",
                found=f"{len(alpha) if isinstance(alpha, tuple) else 1}",
            )
    elif continuum == 2:
        layout_items = (6, 7) if nucleus.layout == "full" else (9, 8)
        _require(nucleus, "logMBH", layout_items[0], "the thin disk")
        _require(nucleus, "logLEdd", layout_items[1], "the thin disk")
    else:  # type 2
        asked = (("broad lines", bool(broad)), ("FeII", fe), ("Balmer continuum", balmer))
        dropped = [what for what, on in asked if on]
        if dropped:
            warnings.warn(
                f"{_key(nucleus, 18)}: nucleus {nucleus.name!r} is a type 2 (N18 = 3), which has no broad-line "
                f"region; its {', '.join(dropped)} are left out",
                ConfigWarning,
                stacklevel=2,
            )
        broad, balmer, fe = (), False, False
    n_broad, n_narrow = int(nucleus.n_broad), int(nucleus.n_narrow)
    for lines, n, item in ((broad, n_broad, 14), (narrow, n_narrow, 15)):
        if lines and n < 1:
            raise ConfigError(
                f"nucleus {nucleus.name!r}: Gaussians per line", key=_key(nucleus, item), expected=">= 1", found=str(n)
            )
    hot = nucleus.get("logLhotdust")
    return AGNSpec(
        name=nucleus.name,
        continuum=continuum,
        broad_lines=broad,
        narrow_lines=narrow,
        n_broad=max(n_broad, 1),
        n_narrow=max(n_narrow, 1),
        balmer_continuum=balmer,
        feii=fe,
        hot_dust=hot is not None,
        hot_dust_temperature=isinstance(hot, tuple) and len(hot) > 1,
        attenuation=nucleus.get("Av") is not None,
        spin=nucleus.get("spin") is not None,
    )


# Start values only (no measurement): rough log10 ratios of broad-line to
# broad H-beta luminosity in type 1 AGN (H-alpha / H-beta ~ 3, the UV lines
# stronger than H-beta); other lines start 1 dex below H-beta.
_BROAD_START = {
    "Ha": 0.5, "Hb": 0.0, "Hg": -0.4, "Hd": -0.7, "He": -0.9, "H8": -1.1,
    "HeII_4686": -1.0, "HeI": -0.9, "MgII": 0.3, "CIV": 0.5, "CIII": 0.2, "Lya": 1.0,
    "NV": 0.2, "SiIV": 0.0, "HeII": -0.5, "Paa": -0.3, "Pab": -0.6, "Pag": -0.9, "Brg": -1.5,
}
# ... and narrow lines relative to narrow [O III] 5007, typical of Seyfert
# narrow-line regions (H-beta a tenth of [O III], H-alpha / H-beta = 2.9).
_NARROW_START = {
    "OIII_5007": 0.0, "Hb": -1.0, "Ha": -0.55, "NII_6583": -0.6, "SII_6716": -1.1,
    "SII_6731": -1.1, "OI_6302": -1.2, "OII_3727": -0.6, "OII_3726": -0.9, "OII_3729": -0.9,
    "NeIII_3869": -1.0, "NeV_3426": -1.1, "HeII_4686": -1.8, "HeI": -1.9, "Hg": -1.35,
    "Hd": -1.6, "OIII_4363": -1.7,
}
# For a Seyfert 1 with log L5100 = 43: broad H-beta 41.5, narrow [O III] 41.
_BROAD_HB_AT_43 = 41.5
_NARROW_OIII_AT_43 = 41.0


def _start_shift(nucleus: NucleusSpec) -> float:
    """Line starts follow the continuum start: ``log L5100 - 43`` dex."""
    p = nucleus.get("logL5100")
    return float(p.value) - 43.0 if isinstance(p, Param) else 0.0


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def _broad_names(spec: AGNSpec) -> list[tuple[str, str, str, str, int]]:
    """(line, logL, sigma, voff, k) for every broad Gaussian, in row order."""
    out = []
    for line in spec.broad_lines:
        for k in range(1, spec.n_broad + 1):
            stem = f"{spec.name}_{line}_b{k}"
            out.append((line, f"{stem}_logL", f"{stem}_sigma", f"{stem}_voff", k))
    return out


def _narrow_log_l_names(spec: AGNSpec) -> list[tuple[str, str, int]]:
    return [
        (line, f"{spec.name}_{line}_n{k}_logL", k)
        for k in range(1, spec.n_narrow + 1)
        for line in spec.narrow_lines
    ]


def agn_parameter_rows(nucleus: NucleusSpec) -> list[ParamRow]:
    """The parameter rows a nucleus needs beyond its N-block keys.

    All names start with ``<nucleus>_`` (N1). Luminosities are log10 [erg/s],
    widths sigma [km/s], offsets [km/s]. Start values suit a Seyfert 1 with
    log L5100 = 43 and move with the N10 start (``+ (logL5100 - 43)``).

    ===========================  ==============================================
    ``<line>_b<k>_logL``         broad line k = 1..N14: start broad H-beta
                                 41.5 - log10(N14) (other lines scaled), in
                                 [35, 47], step 0.05
    ``<line>_b<k>_sigma``        1200 km/s for k = 1, 3000 for k = 2 (broader,
                                 so components keep their order), x1.5 per
                                 further k; in [300, 10000], step 50
    ``<line>_b<k>_voff``         0 in [-3000, 3000], step 20
    ``<line>_n<k>_logL``         narrow line k = 1..N15: start [O III] 5007 41
                                 (other lines scaled), k >= 2 0.5 dex fainter;
                                 in [33, 46], step 0.05. The weak member of
                                 [O III], [N II], [O I] doublets is tied to the
                                 strong one (``DOUBLET_RATIOS``), vary 0
    ``n<k>_sigma``               shared by the narrow lines of component k:
                                 150 km/s in [20, 600] (k = 1); 400 in
                                 [50, 1500] (k >= 2, x1.5 per further k; an
                                 outflow wing), step 5
    ``n<k>_voff``                0 in [-500, 500] (k = 1); -100 in
                                 [-1500, 1500] (k >= 2), step 5
    ``feii_logL``                N17 = 1: FeII in 4434-4684 A, start broad
                                 H-beta - 0.3 (R_FeII = 0.5), in [35, 47]
    ``feii_sigma``               1200 km/s in [300, 6000], step 50
    ``feii_voff``                0 in [-3000, 3000], step 20
    ``bac_logL``                 N16 = 1: lambda L_lambda at 3646 A, start 42.3
                                 in [37, 47]
    ===========================  ==============================================

    Every row varies (``vary`` True) except tied ones.

    Parameters
    ----------
    nucleus : NucleusSpec

    Returns
    -------
    list of ParamRow

    Raises
    ------
    ConfigError
        As :func:`agn_spec`.
    """
    spec = agn_spec(nucleus)
    shift = _start_shift(nucleus)
    rows: list[ParamRow] = []
    broad_hb = _BROAD_HB_AT_43 + shift
    split = math.log10(spec.n_broad)
    for line, log_l, sigma, voff, k in _broad_names(spec):
        start = _clip(broad_hb + _BROAD_START.get(line, -1.0) - split, 35.5, 46.5)
        width = min(1200.0 * (2.5 if k > 1 else 1.0) * 1.5 ** max(k - 2, 0), 9000.0)
        rows.append(ParamRow(log_l, round(start, 4), 35.0, 47.0, 0.05, True, None))
        rows.append(ParamRow(sigma, width, 300.0, 10000.0, 50.0, True, None))
        rows.append(ParamRow(voff, 0.0, -3000.0, 3000.0, 20.0, True, None))
    narrow_oiii = _NARROW_OIII_AT_43 + shift
    for line, log_l, k in _narrow_log_l_names(spec):
        tie = None
        if line in DOUBLET_RATIOS and DOUBLET_RATIOS[line][0] in spec.narrow_lines:
            strong, ratio = DOUBLET_RATIOS[line]
            tie = f"{spec.name}_{strong}_n{k}_logL{math.log10(ratio):+.6f}"
            offset = _NARROW_START.get(strong, -1.2) + math.log10(ratio)
        else:
            offset = _NARROW_START.get(line, -1.2)
        start = _clip(narrow_oiii + offset - 0.5 * (k > 1), 33.5, 45.5)
        rows.append(ParamRow(log_l, round(start, 4), 33.0, 46.0, 0.05, tie is None, tie))
    for k in range(1, spec.n_narrow + 1 if spec.narrow_lines else 1):
        if k == 1:
            rows.append(ParamRow(f"{spec.name}_n1_sigma", 150.0, 20.0, 600.0, 5.0, True, None))
            rows.append(ParamRow(f"{spec.name}_n1_voff", 0.0, -500.0, 500.0, 5.0, True, None))
        else:
            width = min(400.0 * 1.5 ** (k - 2), 1400.0)
            rows.append(ParamRow(f"{spec.name}_n{k}_sigma", width, 50.0, 1500.0, 5.0, True, None))
            rows.append(ParamRow(f"{spec.name}_n{k}_voff", -100.0, -1500.0, 1500.0, 5.0, True, None))
    if spec.feii:
        start = _clip(broad_hb - 0.3, 35.5, 46.5)
        rows.append(ParamRow(f"{spec.name}_feii_logL", round(start, 4), 35.0, 47.0, 0.05, True, None))
        rows.append(ParamRow(f"{spec.name}_feii_sigma", 1200.0, 300.0, 6000.0, 50.0, True, None))
        rows.append(ParamRow(f"{spec.name}_feii_voff", 0.0, -3000.0, 3000.0, 20.0, True, None))
    if spec.balmer_continuum:
        start = _clip(42.3 + shift, 37.5, 46.5)
        rows.append(ParamRow(f"{spec.name}_bac_logL", round(start, 4), 37.0, 47.0, 0.05, True, None))
    return rows


def agn_parameter_names(spec: AGNSpec) -> tuple[str, ...]:
    """Every parameter name :func:`agn_spectrum` reads for ``spec`` (static).

    Returns
    -------
    tuple of str
        Full names (``AGN_logL5100``, ``AGN_Hb_b1_logL``, ...), in a stable order.
    """
    p = spec.name
    names: list[str] = []
    if spec.continuum in (0, 1):
        names += [f"{p}_logL5100", f"{p}_alpha1"] + ([f"{p}_alpha2"] if spec.continuum == 1 else [])
    elif spec.continuum == 2:
        names += [f"{p}_logMBH", f"{p}_logLEdd"] + ([f"{p}_spin"] if spec.spin else [])
    if spec.attenuation:
        names.append(f"{p}_Av")
    for _, log_l, sigma, voff, _ in _broad_names(spec):
        names += [log_l, sigma, voff]
    names += [log_l for _, log_l, _ in _narrow_log_l_names(spec)]
    if spec.narrow_lines:
        for k in range(1, spec.n_narrow + 1):
            names += [f"{p}_n{k}_sigma", f"{p}_n{k}_voff"]
    if spec.feii:
        names += [f"{p}_feii_logL", f"{p}_feii_sigma", f"{p}_feii_voff"]
    if spec.balmer_continuum:
        names.append(f"{p}_bac_logL")
    if spec.hot_dust:
        names.append(f"{p}_logLhotdust")
        if spec.hot_dust_temperature:
            names.append(f"{p}_Thotdust")
    return tuple(names)


def agn_spectrum(
    edges: ArrayLike,
    values: dict[str, ArrayLike],
    spec: AGNSpec,
    feii_template: FeIITemplate | None = None,
    sigma_instrument_kms: ArrayLike = 0.0,
    *,
    unit_erg_s: float = 1.0,
) -> AGNComponents:
    """The rest-frame spectrum of a nucleus, by component.

    Parameters
    ----------
    edges : array of shape (n + 1,)
        Rest-frame pixel edges [A], vacuum, increasing.
    values : dict of str to scalar
        Parameter values by full name (those of :func:`agn_parameter_names`;
        others are ignored). Ties must already be resolved
        (:meth:`~galfits_nb.inference.parameters.ParameterTable.resolve`).
    spec : AGNSpec
        Static (pass as a static argument of ``jax.jit``).
    feii_template : FeIITemplate, optional
        Default :func:`load_feii_template` (pass it as an argument of a
        jitted caller rather than letting it become a constant).
    sigma_instrument_kms : scalar
        Instrumental sigma [km/s], added in quadrature to every line and
        to the FeII width.
    unit_erg_s : float
        Output unit (module docstring); static. Pass e.g. ``L_SUN_ERG_S``
        when computing in float32.

    Returns
    -------
    AGNComponents
        Pixel means of ``L_lambda`` [unit_erg_s erg/s/A], each of shape (n,).
    """
    edges = _float_array(edges)
    dtype = edges.dtype
    p = spec.name

    def value(key: str) -> jax.Array:
        return jnp.asarray(values[f"{p}_{key}"], dtype)

    zeros = jnp.zeros(edges.shape[0] - 1, dtype)
    centres = _pixel_centres(edges)
    inst = jnp.asarray(sigma_instrument_kms, dtype)
    av = value("Av") if spec.attenuation else jnp.asarray(0.0, dtype)
    transmission = dust_model.dust_transmission(centres, av, 0.0) if spec.attenuation else 1.0

    def log_transmission_at(wavelength: jax.Array) -> jax.Array:
        """log10 of the transmission at line centres (0 without N9)."""
        if not spec.attenuation:
            return jnp.zeros(wavelength.shape, dtype)
        return -0.4 * av * dust_model.attenuation_curve(wavelength, 0.0)

    if spec.continuum == 0:
        continuum = power_law(edges, value("logL5100"), value("alpha1"), unit_erg_s=unit_erg_s)
    elif spec.continuum == 1:
        continuum = broken_power_law(edges, value("logL5100"), value("alpha1"), value("alpha2"), unit_erg_s=unit_erg_s)
    elif spec.continuum == 2:
        spin = value("spin") if spec.spin else jnp.asarray(0.0, dtype)
        continuum = thin_disk(edges, value("logMBH"), value("logLEdd"), spin, unit_erg_s=unit_erg_s)
    else:
        continuum = zeros
    continuum = continuum * transmission

    balmer = zeros
    if spec.balmer_continuum:
        balmer = balmer_continuum(edges, value("bac_logL"), unit_erg_s=unit_erg_s) * transmission

    # Every Gaussian (FeII, broad, narrow) in one matrix of pixel fractions:
    # one erfc evaluation, then one (3, n_lines) x (n_lines, n) product.
    groups: list[tuple[int, jax.Array, jax.Array, jax.Array, jax.Array]] = []  # (part, centres, logL, sigma, voff)
    if spec.feii:
        template = load_feii_template() if feii_template is None else feii_template
        fe_sigma, fe_voff = value("feii_sigma"), value("feii_voff")
        fe_centres, fe_log_l = _feii_lines(template, value("feii_logL"), fe_sigma, dtype)
        ones = jnp.ones_like(fe_centres)
        groups.append((0, fe_centres, fe_log_l + log_transmission_at(fe_centres), fe_sigma * ones, fe_voff * ones))
    names = _broad_names(spec)
    if names:
        wavelengths = np.array([LINE_WAVELENGTHS[line] for line, *_ in names])
        log_l = jnp.stack([jnp.asarray(values[n], dtype) for _, n, _, _, _ in names])
        sigma = jnp.stack([jnp.asarray(values[n], dtype) for _, _, n, _, _ in names])
        voff = jnp.stack([jnp.asarray(values[n], dtype) for _, _, _, n, _ in names])
        centres_b = jnp.asarray(wavelengths, dtype)
        groups.append((1, centres_b, log_l + log_transmission_at(centres_b), sigma, voff))
    narrow_names = _narrow_log_l_names(spec)
    if narrow_names:
        wavelengths = np.array([LINE_WAVELENGTHS[line] for line, _, _ in narrow_names])
        log_l = jnp.stack([jnp.asarray(values[n], dtype) for _, n, _ in narrow_names])
        sigma = jnp.stack([value(f"n{k}_sigma") for _, _, k in narrow_names])
        voff = jnp.stack([value(f"n{k}_voff") for _, _, k in narrow_names])
        groups.append((2, jnp.asarray(wavelengths, dtype), log_l, sigma, voff))
    line_parts = [zeros, zeros, zeros]
    if groups:
        centres_all = jnp.concatenate([g[1] for g in groups])
        fractions = _line_fractions(
            edges,
            centres_all,
            jnp.concatenate([g[3] for g in groups]),
            jnp.concatenate([g[4] for g in groups]),
            inst,
        )
        amplitudes = jnp.zeros((3, centres_all.shape[0]), dtype)
        start = 0
        for part, centres_g, log_l_g, _, _ in groups:
            stop = start + centres_g.shape[0]
            amplitudes = amplitudes.at[part, start:stop].set(jnp.exp(_LN10 * log_l_g - _log_unit(unit_erg_s)))
            start = stop
        per_part = jnp.matmul(amplitudes, fractions, precision=_EXACT) / jnp.diff(edges)
        line_parts = [per_part[i] if any(g[0] == i for g in groups) else zeros for i in range(3)]
    fe, broad, narrow = line_parts

    dust = zeros
    if spec.hot_dust:
        temperature = value("Thotdust") if spec.hot_dust_temperature else HOT_DUST_TEMPERATURE_K
        dust = hot_dust(edges, value("logLhotdust"), temperature, unit_erg_s=unit_erg_s)

    total = continuum + balmer + fe + broad + narrow + dust
    return AGNComponents(continuum, balmer, fe, broad, narrow, dust, total)
