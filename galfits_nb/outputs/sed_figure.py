"""The SED figure of a fit (``<target>.sed.png``) and the photometry it shows.

What is drawn
-------------
* each SED component's observed-frame continuum, f_lambda against observed
  wavelength (:func:`galfits_nb.models.sed_scene.component_spectra`);
* the model's band fluxes: the components' band-mean flux densities summed
  (open squares at the pivot wavelengths);
* the measured photometry of each band: the model band flux plus the sum of
  the residuals (data - model) over the band's unmasked pixels, i.e. the
  light in the cut-out with the model standing in for masked pixels and for
  the profile beyond the cut-out edge; error ``sqrt(sum sigma^2)`` over the
  unmasked pixels (filled circles with error bars).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from galfits_nb.atomic import atomic_path

__all__ = ["band_photometry", "sed_figure", "write_sed_png"]


def band_photometry(
    models: Mapping[str, xr.Dataset],
    band_fluxes: Mapping[str, np.ndarray],
    labels: tuple[str, ...],
    unit_factors: np.ndarray,
    pivots: np.ndarray,
) -> xr.Dataset:
    """Model and measured photometry of the SED-mode bands.

    Parameters
    ----------
    models : mapping of str to xr.Dataset
        ``FitResult.models`` (by band label).
    band_fluxes : mapping of str to array of shape (n_band,)
        Per component, band fluxes in image units
        (:func:`galfits_nb.models.sed_scene.component_band_fluxes`).
    labels : tuple of str
        Band labels, the order of ``band_fluxes`` (``SEDScene.labels``).
    unit_factors : array of shape (n_band,)
        Image units per erg/s/cm^2/A.
    pivots : array of shape (n_band,)
        Pivot wavelengths [A].

    Returns
    -------
    xr.Dataset
        Over ``band``: ``pivot`` [A], ``model``, ``measured``, ``error``
        [erg/s/cm^2/A], and ``<component>`` band fluxes [erg/s/cm^2/A].
    """
    units = np.asarray(unit_factors, dtype=float)
    components = {name: np.asarray(f, dtype=float) / units for name, f in band_fluxes.items()}
    model = np.sum(list(components.values()), axis=0)
    measured = np.zeros(len(labels))
    error = np.zeros(len(labels))
    for i, label in enumerate(labels):
        ds = models[label]
        good = ~np.asarray(ds.mask.values, dtype=bool)
        measured[i] = model[i] + float(np.sum(ds.residual.values[good])) / units[i]
        error[i] = float(np.sqrt(np.sum(ds.sigma.values[good] ** 2))) / units[i]
    data = {
        "pivot": ("band", np.asarray(pivots, dtype=float), {"units": "Angstrom"}),
        "model": ("band", model, {"units": "erg/s/cm2/Angstrom"}),
        "measured": ("band", measured, {"units": "erg/s/cm2/Angstrom"}),
        "error": ("band", error, {"units": "erg/s/cm2/Angstrom"}),
    }
    for name, values in components.items():
        data[name] = ("band", values, {"units": "erg/s/cm2/Angstrom"})
    return xr.Dataset(data, coords={"band": list(labels)})


def sed_figure(
    spectra: Mapping[str, tuple[np.ndarray, np.ndarray]],
    photometry: xr.Dataset,
    title: str | None = None,
):
    """Component SEDs, model band fluxes and measured photometry, log-log.

    Parameters
    ----------
    spectra : mapping of str to (ndarray, ndarray)
        By component: observed wavelength [A], f_lambda [erg/s/cm^2/A].
    photometry : xr.Dataset
        From :func:`band_photometry`.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    pivot_um = photometry.pivot.values / 1e4
    lo, hi = pivot_um.min() / 1.6, pivot_um.max() * 1.6
    peak = []
    for name, (wave, flux) in spectra.items():
        um = np.asarray(wave) / 1e4
        keep = (um > lo) & (um < hi) & (np.asarray(flux) > 0)
        ax.plot(um[keep], np.asarray(flux)[keep], lw=1.0, label=name)
        if keep.any():
            peak.append(np.max(np.asarray(flux)[keep]))
    ax.plot(pivot_um, photometry.model.values, "s", mfc="none", mec="k", ms=7, label="model bands")
    ax.errorbar(
        pivot_um,
        photometry.measured.values,
        yerr=photometry.error.values,
        fmt="o",
        color="crimson",
        ms=4,
        label="measured (cut-out)",
    )
    for x, label in zip(pivot_um, photometry.band.values):
        ax.annotate(str(label), (x, photometry.model.values[list(pivot_um).index(x)]), fontsize=6,
                    xytext=(0, -12), textcoords="offset points", ha="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    values = np.concatenate([photometry.model.values, photometry.measured.values])
    values = values[values > 0]
    top = max(values.max(), max(peak) if peak else values.max()) * 3
    ax.set_ylim(values.min() / 10, top)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("observed wavelength [um]")
    ax.set_ylabel("f_lambda [erg s$^{-1}$ cm$^{-2}$ A$^{-1}$]")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def write_sed_png(
    path: str | os.PathLike,
    spectra: Mapping[str, tuple[np.ndarray, np.ndarray]],
    photometry: xr.Dataset,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """Write :func:`sed_figure` as a PNG, atomically; returns the path."""
    fig = sed_figure(spectra, photometry, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)
