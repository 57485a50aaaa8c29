"""Start values of emission-line luminosities measured from the spectrum.

A nucleus with four broad and twelve narrow lines, two Gaussians each, adds
dozens of line luminosities whose table defaults (:mod:`galfits_nb.models.agn`)
come from a mean quasar, not from the object. Levenberg-Marquardt converges
in far fewer steps from luminosities measured on the data, so before a fit
each line luminosity still holding its default is replaced by a simple
measurement (never a fit):

* continuum: a running median of the spectrum over ~ 15000 km/s;
* narrow part of a line: the continuum-subtracted flux within +-400 km/s,
  minus the broad pedestal (median excess at 600-1500 km/s) over that window;
* broad part: the excess within +-6000 km/s minus the narrow parts of every
  line inside that window;
* flux -> luminosity with ``4 pi D_L^2`` at the line's redshift (Planck 2018);
  a line's Gaussians share it 60 / 40 per cent (component 1 / 2).

Tied rows (doublet members), fixed rows and rows the user set (from the
config or ``--readpar``) keep their values.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy.ndimage import median_filter

from galfits_nb.inference.parameters import ParameterTable
from galfits_nb.models.lines import line_wavelength
from galfits_nb.models.spectrum_scene import SpectrumScene

__all__ = ["start_line_luminosities", "line_fluxes"]

_C_KMS = 299792.458
_NARROW_KMS = 400.0
_PEDESTAL_KMS = (600.0, 1500.0)
_BROAD_KMS = 6000.0
_MEDIAN_PIXELS = 201
_SHARES = (0.6, 0.4)


def _continuum(flux: np.ndarray, good: np.ndarray) -> np.ndarray:
    filled = np.interp(np.arange(flux.size), np.nonzero(good)[0], flux[good]) if good.any() else flux
    return median_filter(filled, size=min(_MEDIAN_PIXELS, max(3, flux.size // 3) | 1), mode="nearest")


def line_fluxes(
    wavelength: np.ndarray,
    excess: np.ndarray,
    good: np.ndarray,
    centres_rest: dict[str, float],
    z: float,
    broad: set[str],
) -> tuple[dict[str, float], dict[str, float]]:
    """Narrow and broad line fluxes [flux unit x A] measured on a continuum-subtracted spectrum.

    Parameters
    ----------
    wavelength : ndarray of shape (n,)
        Observed wavelength [A].
    excess : ndarray of shape (n,)
        Flux density minus continuum.
    good : bool ndarray of shape (n,)
    centres_rest : dict of str to float
        Rest (vacuum) wavelength of each line [A].
    z : float
    broad : set of str
        Lines that also have a broad part.

    Returns
    -------
    narrow, broad_fluxes : dict of str to float
        Fluxes (may be <= 0 when nothing is seen).
    """
    dlam = np.gradient(wavelength)
    narrow: dict[str, float] = {}
    for name, rest in centres_rest.items():
        v = _C_KMS * (wavelength / (rest * (1.0 + z)) - 1.0)
        core = good & (np.abs(v) < _NARROW_KMS)
        ring = good & (np.abs(v) > _PEDESTAL_KMS[0]) & (np.abs(v) < _PEDESTAL_KMS[1])
        pedestal = float(np.median(excess[ring])) if name in broad and ring.any() else 0.0
        narrow[name] = float(np.sum((excess[core] - pedestal) * dlam[core])) if core.any() else 0.0
    broad_fluxes: dict[str, float] = {}
    for name in broad:
        rest = centres_rest[name]
        v = _C_KMS * (wavelength / (rest * (1.0 + z)) - 1.0)
        window = good & (np.abs(v) < _BROAD_KMS)
        total = float(np.sum(excess[window] * dlam[window])) if window.any() else 0.0
        inside = [
            other for other, w in centres_rest.items()
            if abs(_C_KMS * (w / rest - 1.0)) < _BROAD_KMS
        ]
        broad_fluxes[name] = total - sum(max(narrow[o], 0.0) for o in inside)
    return narrow, broad_fluxes


def _log_luminosity(flux_1e17: float, z: float) -> float:
    from astropy.cosmology import Planck18

    d_cm = Planck18.luminosity_distance(z).to_value("cm")
    return math.log10(flux_1e17 * 1e-17 * 4.0 * math.pi * d_cm**2)


def start_line_luminosities(
    table: ParameterTable, defaults: ParameterTable, scene: SpectrumScene, tree: xr.DataTree
) -> ParameterTable:
    """``table`` with line luminosities still at their defaults measured from the spectra.

    Parameters
    ----------
    table : ParameterTable
        Start table of the fit.
    defaults : ParameterTable
        The table as the config defines it (``build_parameter_table``): a row
        whose value differs from its default here was set by the user and is kept.
    scene : SpectrumScene
    tree : xr.DataTree
        The observation (spectra under ``/spectra/<letter>``).

    Returns
    -------
    ParameterTable
    """
    updates: dict[str, float] = {}

    def settable(name: str) -> bool:
        if name not in table or name in updates:
            return False
        row = table[name]
        return row.vary and row.tie is None and name in defaults and row.value == defaults[name].value

    def put(name: str, flux: float, z: float, share: float) -> None:
        if not settable(name) or not flux > 0:
            return
        row = table[name]
        value = _log_luminosity(flux * share, z)
        updates[name] = float(min(max(value, row.min + 1e-3 * (row.max - row.min)), row.max - 1e-3 * (row.max - row.min)))

    for frame in scene.frames:
        ds = tree[f"spectra/{frame.letter}"].to_dataset()
        wavelength = np.asarray(ds.wavelength.values, float)
        flux = np.asarray(ds.flux.values, float)
        good = ~np.asarray(ds.mask.values, bool)
        excess = flux - _continuum(flux, good)
        for j, nucleus in enumerate(frame.nuclei):
            spec = nucleus.spec
            z = frame.nucleus_redshifts[j]
            names = dict.fromkeys((*spec.narrow_lines, *spec.broad_lines))
            centres = {name: line_wavelength(name) for name in names}
            narrow, broad = line_fluxes(wavelength, excess, good, centres, z, set(spec.broad_lines))
            for line in spec.narrow_lines:
                for k in range(1, spec.n_narrow + 1):
                    share = _SHARES[min(k - 1, 1)] if spec.n_narrow > 1 else 1.0
                    put(f"{spec.name}_{line}_n{k}_logL", narrow[line], z, share)
            for line in spec.broad_lines:
                for k in range(1, spec.n_broad + 1):
                    share = _SHARES[min(k - 1, 1)] if spec.n_broad > 1 else 1.0
                    put(f"{spec.name}_{line}_b{k}_logL", broad[line], z, share)
        for lines in frame.lines:
            z = frame.redshifts[lines.galaxy]
            centres = {name: line_wavelength(name) for name in lines.names}
            narrow, _ = line_fluxes(wavelength, excess, good, centres, z, set())
            n = len(lines.log_l)
            for k, row in enumerate(lines.log_l):
                share = _SHARES[min(k, 1)] if n > 1 else 1.0
                for line, name in zip(lines.names, row):
                    put(name, narrow[line], z, share)
    return table.with_values(updates) if updates else table
