"""Dust: attenuation inside a galaxy, Galactic foreground extinction, dust emission.

Attenuation
-----------
The attenuation curve is the starburst law of Calzetti et al. (2000, ApJ 533,
682) plus a 2175 A bump of Drude shape (Noll et al. 2009, A&A 507, 1793):

    A_lambda / A_V = (k_Calzetti(lambda) + D(lambda; E_b)) / R_V,  R_V = 4.05

This is the curve of Salim, Boquien & Lee (2018, ApJ 859, 11) with slope
deviation delta = 0 and bump strength B = E_b, and equals bagpipes' "Salim"
dust (Carnall et al. 2018, MNRAS 480, 4379) with ``delta = 0``. ``A_V`` and the
bump amplitude (``P26`` of a GalfitS configuration) are the free parameters;
:func:`dust_transmission` is ``10**(-0.4 A_lambda)``. All of it is pure
``jax.numpy`` and differentiates in ``A_V`` and the bump amplitude.

Galactic extinction
-------------------
:func:`galactic_extinction` (numpy, evaluated once when a fit is built) gives
the Milky-Way foreground ``A_lambda`` in the observed frame from E(B-V), with
the laws of Fitzpatrick (1999, PASP 111, 63) or Cardelli, Clayton & Mathis
(1989, ApJ 345, 245) as implemented in the ``dust_extinction`` package
(Gordon 2024, JOSS 9, 7023), extended beyond their validity range.

Dust emission
-------------
Draine & Li (2007, ApJ 657, 810; DL07) spectra from
:func:`galfits_nb.models.ssp.load_templates` (``templates.dust``). A fraction
``1 - gamma`` of the dust mass sits in a radiation field ``U = Umin`` and a
fraction ``gamma`` in a power law ``dM/dU ~ U^-2`` from ``Umin`` to 1e6
(DL07 eq. 23). :func:`dust_emission_shape` returns the unit-integral
spectrum (for energy balance, where the absorbed luminosity
:func:`absorbed_luminosity` sets the normalisation);
:func:`dust_emission_luminosity` returns ``L_lambda`` for a dust mass.

Pass the template arrays as arguments of a jitted function rather than
closing over them, so they are not compiled in as constants.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.errors import GalfitsError
from galfits_nb.models.ssp import L_SUN_ERG_S, DustEmissionTemplates, Templates, _tent_weights

__all__ = [
    "CALZETTI_RV",
    "BUMP_CENTRE_A",
    "BUMP_FWHM_A",
    "DL07_DUST_TO_H",
    "GALACTIC_LAWS",
    "calzetti_curve",
    "drude_bump",
    "attenuation_curve",
    "dust_transmission",
    "galactic_extinction",
    "dust_power_per_mass",
    "dust_emission_shape",
    "dust_emission_luminosity",
    "absorbed_luminosity",
]

# R_V = A_V / E(B-V) of the starburst attenuation curve (Calzetti et al. 2000).
CALZETTI_RV = 4.05

# The 2175 A bump: central wavelength and FWHM [A] of Noll et al. (2009),
# which Salim et al. (2018) and bagpipes also use.
BUMP_CENTRE_A = 2175.0
BUMP_FWHM_A = 350.0

# Calzetti et al. (2000) eq. 4 holds from 0.12 to 2.2 um; the two polynomials
# meet at 0.63 um.
_CALZETTI_BLUE_LIMIT_UM = 0.12
_CALZETTI_SPLIT_UM = 0.63
# Power-law index of the curve blueward of 1200 A, continuous there. It is
# the extension bagpipes applies, kept so our models and bagpipes' agree.
_CALZETTI_FAR_UV_INDEX = -0.77

# Dust-to-hydrogen mass ratio of the Milky-Way (R_V = 3.1) grain models of
# Draine & Li (2007, Table 3): 0.0100 to 0.0104 from q_PAH = 0.47 % to 4.58 %.
DL07_DUST_TO_H = 0.010

# Mass of a hydrogen atom [g] (CODATA 2018: 1.00782503 u) and the nominal
# solar mass [g] (IAU 2015 Resolution B3 with CODATA G). The DL07 grids give
# power per H nucleon; these turn it into power per solar mass of dust.
_HYDROGEN_MASS_G = 1.6735575e-24
_SOLAR_MASS_G = 1.98841e33
# [L_sun / M_sun] per [erg/s per H nucleon] for a dust-to-hydrogen ratio of 1.
_PER_H_TO_PER_MSUN = _SOLAR_MASS_G / (_HYDROGEN_MASS_G * L_SUN_ERG_S)

# Beyond the red limit of a Galactic law, A_lambda falls as lambda^-1.61: the
# near-infrared power law of Cardelli, Clayton & Mathis (1989, eq. 2).
_GALACTIC_IR_INDEX = 1.61

GALACTIC_LAWS = ("F99", "CCM89")


# ---------------------------------------------------------------------------
# Attenuation (pure, jit-able)
# ---------------------------------------------------------------------------


def _calzetti_uv(x_um: jax.Array) -> jax.Array:
    """Calzetti et al. (2000) eq. 4, 0.12 <= lambda < 0.63 um."""
    return 2.659 * (-2.156 + 1.509 / x_um - 0.198 / x_um**2 + 0.011 / x_um**3) + CALZETTI_RV


def _calzetti_optical(x_um: jax.Array) -> jax.Array:
    """Calzetti et al. (2000) eq. 4, 0.63 <= lambda <= 2.2 um."""
    return 2.659 * (-1.857 + 1.040 / x_um) + CALZETTI_RV


def calzetti_curve(wavelength: jax.Array) -> jax.Array:
    """The starburst attenuation curve k(lambda) = A_lambda / E(B-V).

    Calzetti et al. (2000, ApJ 533, 682, eq. 4) with R_V = 4.05, defined by
    its authors from 0.12 to 2.2 um. Outside that range:

    * blueward of 1200 A, ``k(1200 A) * (lambda / 1200 A)**-0.77``: a power
      law continuous at 1200 A, the extension bagpipes uses (its "Calzetti"
      and "Salim" dust), so that our attenuated spectra match bagpipes';
    * redward of 2.2 um, the 0.63-2.2 um polynomial continued until it
      reaches zero at 3.115 um, and zero beyond (no attenuation in the
      mid- and far-infrared). Bagpipes continues the same polynomial but
      cuts it at 3.1 um, where k = 0.004: the two differ by less than
      0.001 in A_lambda / A_V, between 3.10 and 3.12 um only.

    The result is continuous and finite for every positive wavelength.

    Parameters
    ----------
    wavelength : array of any shape
        Rest-frame wavelength [A], positive.

    Returns
    -------
    array of the same shape
        k(lambda) [mag per mag of E(B-V)], >= 0.
    """
    x_um = jnp.asarray(wavelength) * 1e-4
    far_uv = _calzetti_uv(jnp.asarray(_CALZETTI_BLUE_LIMIT_UM, x_um.dtype)) * (
        x_um / _CALZETTI_BLUE_LIMIT_UM
    ) ** _CALZETTI_FAR_UV_INDEX
    # Every branch is finite for x > 0, so jnp.where passes finite gradients.
    k = jnp.where(
        x_um < _CALZETTI_BLUE_LIMIT_UM,
        far_uv,
        jnp.where(x_um < _CALZETTI_SPLIT_UM, _calzetti_uv(x_um), _calzetti_optical(x_um)),
    )
    return jnp.maximum(k, 0.0)


def drude_bump(wavelength: jax.Array, amplitude: jax.Array | float) -> jax.Array:
    """The 2175 A absorption bump as a Drude profile, in units of k(lambda).

    ``D = E_b * lambda**2 * w**2 / ((lambda**2 - lambda_0**2)**2 + lambda**2 * w**2)``
    with lambda_0 = 2175 A and FWHM w = 350 A (Noll et al. 2009, A&A 507,
    1793). It peaks at ``E_b`` at 2175 A.

    Parameters
    ----------
    wavelength : array of any shape
        Rest-frame wavelength [A].
    amplitude : scalar
        Bump strength E_b (``P26``); the Milky Way has ~3, the Calzetti law 0.

    Returns
    -------
    array of the same shape
        D(lambda), added to k(lambda) [mag per mag of E(B-V)].
    """
    lam2 = jnp.asarray(wavelength) ** 2
    width2 = BUMP_FWHM_A**2
    return amplitude * lam2 * width2 / ((lam2 - BUMP_CENTRE_A**2) ** 2 + lam2 * width2)


def attenuation_curve(wavelength: jax.Array, bump: jax.Array | float) -> jax.Array:
    """A_lambda / A_V of the Calzetti curve with a 2175 A bump.

    ``(k_Calzetti + D_bump) / 4.05``: the curve of Salim et al. (2018, ApJ
    859, 11) with delta = 0 and B = ``bump``; with ``bump = 0`` it is
    the Calzetti et al. (2000) curve.

    Parameters
    ----------
    wavelength : array of any shape
        Rest-frame wavelength [A].
    bump : scalar
        Bump amplitude E_b (see :func:`drude_bump`).

    Returns
    -------
    array of the same shape
        A_lambda / A_V (0.9995 at 5500 A for ``bump = 0``).
    """
    return (calzetti_curve(wavelength) + drude_bump(wavelength, bump)) / CALZETTI_RV


def dust_transmission(
    wavelength: jax.Array, av: jax.Array | float, bump: jax.Array | float
) -> jax.Array:
    """Fraction of the light that passes the dust: ``10**(-0.4 A_V A_lambda/A_V)``.

    Parameters
    ----------
    wavelength : array of any shape
        Rest-frame wavelength [A].
    av : scalar
        V-band attenuation A_V [mag].
    bump : scalar
        2175 A bump amplitude E_b.

    Returns
    -------
    array of the same shape
        Transmission in [0, 1] for ``av >= 0``.
    """
    return 10.0 ** (-0.4 * av * attenuation_curve(wavelength, bump))


# ---------------------------------------------------------------------------
# Galactic extinction (numpy, build time)
# ---------------------------------------------------------------------------


def _galactic_law(law: str, r_v: float):
    try:
        from dust_extinction.parameter_averages import CCM89, F99
    except ImportError:
        raise GalfitsError(
            "Galactic extinction needs the 'dust_extinction' package: "
            "`pip install dust_extinction`"
        ) from None
    laws = {"F99": F99, "CCM89": CCM89}
    if law not in laws:
        raise GalfitsError(
            f"unknown Galactic extinction law {law!r}; choose one of {', '.join(GALACTIC_LAWS)}"
        )
    model_class = laws[law]
    low, high = model_class.Rv_range
    if not low <= r_v <= high:
        raise GalfitsError(f"R_V = {r_v} is outside the range of {law}: {low} to {high}")
    return model_class(Rv=r_v)


def galactic_extinction(
    wavelength_obs: np.ndarray,
    ebv: float,
    r_v: float = 3.1,
    law: str = "F99",
) -> np.ndarray:
    """Milky-Way foreground extinction A_lambda in the observed frame.

    ``A_lambda = E(B-V) * R_V * (A_lambda / A_V)`` with ``A_lambda / A_V`` of
    Fitzpatrick (1999, PASP 111, 63; ``"F99"``) or Cardelli, Clayton & Mathis
    (1989, ApJ 345, 245; ``"CCM89"``), as the ``dust_extinction`` package
    evaluates them. Both are defined for 1 / lambda from 0.3 to 10 um^-1
    (1000 A to 3.33 um). Beyond that:

    * blueward of 1000 A the value at 1000 A is held, rather than
      extrapolating the far-UV polynomial beyond the data it was fitted to
      (light observed below 912 A does not cross the Milky Way anyway: its
      neutral hydrogen absorbs it);
    * redward of 3.33 um ``A_lambda`` falls as ``lambda**-1.61``, the
      near-infrared power law of CCM89 (eq. 2), continuous at 3.33 um and
      tapering towards zero (1e-4 of its 3.33 um value at 1000 um). The
      9.7 um silicate feature is ignored: with A_V / tau_9.7 ~ 18 (Roche &
      Aitken 1984, MNRAS 208, 481) it is ~0.02 mag at E(B-V) = 0.1, and
      most extragalactic fields have less foreground dust than that.

    Parameters
    ----------
    wavelength_obs : ndarray of any shape
        Observed-frame wavelength [A], positive.
    ebv : float
        Colour excess E(B-V) [mag], e.g. from the Schlegel, Finkbeiner &
        Davis (1998) map as recalibrated by Schlafly & Finkbeiner (2011).
    r_v : float
        Total-to-selective extinction ratio A_V / E(B-V); 3.1 is the
        diffuse Milky-Way average. Must lie in the law's range (2 to 6).
    law : {"F99", "CCM89"}

    Returns
    -------
    ndarray of the same shape
        A_lambda [mag], >= 0.

    Raises
    ------
    GalfitsError
        For an unknown law, ``r_v`` outside its range, or when
        ``dust_extinction`` is not installed.
    """
    wavelength = np.asarray(wavelength_obs, dtype=np.float64)
    return ebv * r_v * _cached_galactic_curve(wavelength.ravel(), law, float(r_v)).reshape(wavelength.shape)


def _cached_galactic_curve(wavelength: np.ndarray, law: str, r_v: float) -> np.ndarray:
    """``A_lambda / A_V`` of :func:`galactic_extinction`, kept in ``GALFITS_NB_CACHE/dust``.

    Importing ``dust_extinction`` (with astropy.modeling) takes 0.7-1.5 s,
    more than evaluating the law; a fit reads the same template grid on
    every run. The key covers the law, R_V, the package's version and the
    wavelengths themselves.
    """
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from galfits_nb.cache import cache_dir, read_npz, store_npz

    try:
        package = version("dust_extinction")
    except PackageNotFoundError:
        package = "none"
    key = hashlib.sha1(repr((law, r_v, package)).encode() + wavelength.tobytes()).hexdigest()[:16]
    try:
        path = cache_dir("dust") / f"galactic-{law}-{key}.npz"
    except OSError:
        path = None
    stored = read_npz(path) if path is not None else None
    if stored is not None and stored.get("curve", np.empty(0)).shape == wavelength.shape:
        return stored["curve"]
    curve = _galactic_curve(wavelength, law, r_v)
    if path is not None:
        store_npz(path, {"curve": curve})
    return curve


def _galactic_curve(wavelength: np.ndarray, law: str, r_v: float) -> np.ndarray:
    """``A_lambda / A_V`` with the extensions :func:`galactic_extinction` describes, from ``dust_extinction``."""
    import astropy.units as u

    model = _galactic_law(law, r_v)
    x_low, x_high = (float(v) for v in model.x_range)
    x = 1e4 / wavelength  # wavenumber [1/um]
    inside = np.clip(x, x_low, x_high)
    a_over_av = np.asarray(model(inside / u.micron), dtype=np.float64).reshape(x.shape)
    taper = np.minimum(x / x_low, 1.0) ** _GALACTIC_IR_INDEX
    return a_over_av * taper


# ---------------------------------------------------------------------------
# Dust emission (pure, jit-able)
# ---------------------------------------------------------------------------


def _dust_templates(templates: DustEmissionTemplates | Templates) -> DustEmissionTemplates:
    return templates.dust if isinstance(templates, Templates) else templates


def _model_powers(
    dust: DustEmissionTemplates,
    qpah: jax.Array | float,
    umin: jax.Array | float,
    gamma: jax.Array | float,
    dust_to_hydrogen: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """Power per solar mass of dust [L_sun/M_sun] carried by each grid model.

    Returns the weights of the ``umin_only`` and ``umin_umax`` spectra, both
    of shape (n_qpah, n_umin): bilinear interpolation weights (linear in
    q_PAH and in log Umin, clipped to the grid) times the mass fractions
    ``1 - gamma`` and ``gamma`` times each model's emitted power per unit
    dust mass. The unit-integral shapes weighted this way add up to the
    emission of the mass mixture of DL07 eq. 23.
    """
    umin_grid = jnp.asarray(dust.umin)
    # Clipping before the log keeps umin <= 0 from producing NaN.
    log_umin = jnp.log10(jnp.clip(jnp.asarray(umin, umin_grid.dtype), umin_grid[0], umin_grid[-1]))
    weights = (
        _tent_weights(jnp.asarray(qpah, umin_grid.dtype), jnp.asarray(dust.qpah))[:, None]
        * _tent_weights(log_umin, jnp.log10(umin_grid))[None, :]
    )
    ratio = jnp.asarray(dust_to_hydrogen)
    if ratio.ndim == 1:  # one ratio per q_PAH model
        ratio = ratio[:, None]
    per_mass = _PER_H_TO_PER_MSUN / ratio
    only = (1.0 - gamma) * weights * jnp.asarray(dust.power_umin_only) * per_mass
    power_law = gamma * weights * jnp.asarray(dust.power_umin_umax) * per_mass
    return only, power_law


def dust_power_per_mass(
    templates: DustEmissionTemplates | Templates,
    qpah: jax.Array | float,
    umin: jax.Array | float,
    gamma: jax.Array | float,
    dust_to_hydrogen: jax.Array | float = DL07_DUST_TO_H,
) -> jax.Array:
    """Luminosity emitted per solar mass of dust [L_sun/M_sun].

    Divides an absorbed luminosity to give the dust mass of an
    energy-balance model. Arguments as in :func:`dust_emission_luminosity`.

    Returns
    -------
    scalar [L_sun / M_sun]
        ~140 for Milky-Way dust at Umin = 1, gamma = 0.
    """
    only, power_law = _model_powers(_dust_templates(templates), qpah, umin, gamma, dust_to_hydrogen)
    return jnp.sum(only) + jnp.sum(power_law)


def dust_emission_luminosity(
    templates: DustEmissionTemplates | Templates,
    log_dust_mass: jax.Array | float,
    qpah: jax.Array | float,
    umin: jax.Array | float,
    gamma: jax.Array | float,
    dust_to_hydrogen: jax.Array | float = DL07_DUST_TO_H,
) -> jax.Array:
    """Dust emission of a dust mass, after Draine & Li (2007).

    ``L = M_dust / (m_H * M_dust/M_H) * [(1 - gamma) j(Umin) + gamma j(Umin, 1e6)]``
    where ``j`` is the emission per H nucleon of the grid models, interpolated
    linearly in q_PAH and log Umin (clipped to the grid; the grid's own
    spectra are reproduced exactly at its nodes).

    The default ``dust_to_hydrogen`` is that of the Milky-Way models of DL07
    (:data:`DL07_DUST_TO_H`). Seven of the grid's eleven q_PAH values are
    such models (0.47, 1.12, 1.77, 2.50, 3.19, 3.90, 4.58 %); the other four
    are DL07's LMC (0.75, 1.49, 2.37 %) and SMC (0.10 %) dust, which emits 4
    to 8 times less per H nucleon because those galaxies hold less dust per
    H. With the Milky-Way ratio their emission per dust mass comes out too
    low, so between q_PAH = 0.1 and 2.5 % the luminosity per dust mass is
    not smooth in q_PAH. Pass one ratio per grid model (an array of shape
    (n_qpah,)) to correct that, or normalise by energy balance
    (:func:`dust_emission_shape` times :func:`absorbed_luminosity`), which
    needs no ratio.

    Parameters
    ----------
    templates : DustEmissionTemplates (or Templates)
        ``templates.dust`` of :func:`galfits_nb.models.ssp.load_templates`.
    log_dust_mass : scalar
        log10 of the dust mass [M_sun].
    qpah : scalar
        PAH mass fraction q_PAH [%], 0.10 to 4.58.
    umin : scalar
        Minimum starlight intensity Umin (units of the local interstellar
        field of Mathis, Mezger & Panagia 1983), 0.1 to 25.
    gamma : scalar
        Mass fraction of the dust in the power-law radiation field, 0 to 1.
    dust_to_hydrogen : scalar or array of shape (n_qpah,)
        Dust-to-hydrogen mass ratio of the grid's dust models.

    Returns
    -------
    array of shape (n_wave,)
        L_lambda [L_sun/A] on ``templates.wavelength`` (zero below 1 um).
    """
    dust = _dust_templates(templates)
    only, power_law = _model_powers(dust, qpah, umin, gamma, dust_to_hydrogen)
    per_mass = jnp.tensordot(only, jnp.asarray(dust.umin_only), axes=2) + jnp.tensordot(
        power_law, jnp.asarray(dust.umin_umax), axes=2
    )
    return 10.0**log_dust_mass * per_mass


def dust_emission_shape(
    templates: DustEmissionTemplates | Templates,
    qpah: jax.Array | float,
    umin: jax.Array | float,
    gamma: jax.Array | float,
) -> jax.Array:
    """Unit-integral spectrum of DL07 dust emission, for energy balance.

    The mass mixture of DL07 (eq. 23): ``1 - gamma`` of the dust heated by
    ``U = Umin``, ``gamma`` by ``dM/dU ~ U^-2`` up to 1e6. The grid stores
    each spectrum with unit integral, so the two are weighted by their
    emitted power per H nucleon before they are added (a mass fraction of
    the power-law dust emits more than the same mass at Umin), then the sum
    is normalised. Interpolation is linear in q_PAH and in log Umin,
    clipped to the grid. Bagpipes mixes the same per-H spectra but
    interpolates linearly in Umin.

    The template grid stops at 1000 um, DL07's at 1 cm; the 0.003 %
    (Umin = 25) to 0.3 % (Umin = 0.1) of the power emitted beyond 1000 um
    is folded into the grid by the normalisation, so in energy balance all
    the absorbed luminosity appears within 1-1000 um.

    Parameters
    ----------
    templates : DustEmissionTemplates (or Templates)
        ``templates.dust``.
    qpah : scalar
        PAH mass fraction q_PAH [%].
    umin : scalar
        Minimum starlight intensity Umin.
    gamma : scalar
        Mass fraction of the dust in the power-law radiation field.

    Returns
    -------
    array of shape (n_wave,)
        Spectrum [1/A] with ``sum(shape * dlambda) = 1`` over the pixel
        widths of the template grid. Times a luminosity [L_sun], it is
        L_lambda [L_sun/A].
    """
    dust = _dust_templates(templates)
    # The dust-to-H ratio cancels in the normalisation.
    only, power_law = _model_powers(dust, qpah, umin, gamma, 1.0)
    spectrum = jnp.tensordot(only, jnp.asarray(dust.umin_only), axes=2) + jnp.tensordot(
        power_law, jnp.asarray(dust.umin_umax), axes=2
    )
    return spectrum / (jnp.sum(only) + jnp.sum(power_law))


def absorbed_luminosity(
    wavelength_edges: jax.Array, intrinsic: jax.Array, transmission: jax.Array
) -> jax.Array:
    """Luminosity removed by dust: ``sum(L_lambda * (1 - T) * dlambda)``.

    In an energy-balance model the dust re-emits exactly this luminosity in
    the infrared (``absorbed_luminosity * dust_emission_shape``).

    Parameters
    ----------
    wavelength_edges : array of shape (n_wave + 1,)
        Pixel edges [A] (``templates.stellar.wavelength_edges``).
    intrinsic : array of shape (..., n_wave)
        Unattenuated luminosity density [L_sun/A], pixel means.
    transmission : array of shape (..., n_wave)
        Dust transmission (:func:`dust_transmission`).

    Returns
    -------
    array of shape (...)
        Absorbed luminosity [L_sun].
    """
    widths = jnp.diff(jnp.asarray(wavelength_edges))
    return jnp.sum(intrinsic * (1.0 - transmission) * widths, axis=-1)
