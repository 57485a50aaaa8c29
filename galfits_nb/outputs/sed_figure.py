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
  unmasked pixels (filled circles with error bars);
* with ``spectrum_points``, each fitted spectrum binned to about 200 points
  (:func:`binned_spectrum`): the data (small grey points with error bars)
  and its model (a line). The spectrum is the light inside the fibre or slit
  times its normalisation, so it may lie below the components' total.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from galfits_nb.atomic import atomic_path

__all__ = ["band_photometry", "binned_spectrum", "sed_figure", "write_sed_png"]

SPECTRUM_UNIT = 1e-17
"""erg/s/cm^2/A per unit of a fitted spectrum (``FitResult.spectra``)."""


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


def binned_spectrum(ds: xr.Dataset, n_bins: int = 200) -> xr.Dataset:
    """A fitted spectrum binned for the SED figure, in erg/s/cm^2/A.

    The unmasked pixels are split, in wavelength order, into ``n_bins``
    groups of consecutive pixels with (nearly) equal counts; each bin holds
    the inverse-variance weighted mean of the data and, with the same
    weights, of the model. A bin may span a masked gap.

    Parameters
    ----------
    ds : xr.Dataset
        One entry of ``FitResult.spectra``: ``data``, ``error``, ``model``,
        ``mask`` (True = excluded) over ``wavelength`` (observed, A), in
        1e-17 erg/s/cm^2/A.
    n_bins : int
        Number of bins (fewer when fewer pixels are good).

    Returns
    -------
    xr.Dataset
        Over ``wavelength`` (mean of the bin's pixels, A; shape (n,) with
        n <= n_bins): ``data``, ``error`` (``1 / sqrt(sum w)``), ``model``
        in erg/s/cm^2/A; attrs ``letter``.
    """
    wave = np.asarray(ds.wavelength.values, dtype=float)
    data = np.asarray(ds.data.values, dtype=float)
    model = np.asarray(ds.model.values, dtype=float)
    error = np.asarray(ds.error.values, dtype=float)
    bad = np.asarray(ds["mask"].values, dtype=bool) if "mask" in ds else np.zeros(wave.shape, bool)
    good = np.flatnonzero(~bad & np.isfinite(data) & np.isfinite(error) & (error > 0))
    groups = [g for g in np.array_split(good, min(n_bins, good.size)) if g.size] if good.size else []
    out = np.zeros((4, len(groups)))
    for k, idx in enumerate(groups):
        weight = 1.0 / error[idx] ** 2
        total = weight.sum()
        out[:, k] = (
            wave[idx].mean(),
            (weight * data[idx]).sum() / total,
            1.0 / np.sqrt(total),
            (weight * model[idx]).sum() / total,
        )
    unit = {"units": "erg/s/cm2/Angstrom"}
    return xr.Dataset(
        {
            "data": ("wavelength", out[1] * SPECTRUM_UNIT, unit),
            "error": ("wavelength", out[2] * SPECTRUM_UNIT, unit),
            "model": ("wavelength", out[3] * SPECTRUM_UNIT, unit),
        },
        coords={"wavelength": ("wavelength", out[0], {"units": "Angstrom"})},
        attrs={"letter": ds.attrs.get("letter", "")},
    )


def sed_figure(
    spectra: Mapping[str, tuple[np.ndarray, np.ndarray]],
    photometry: xr.Dataset,
    title: str | None = None,
    spectrum_points: Mapping[str, xr.Dataset] | None = None,
):
    """Component SEDs, model band fluxes and measured photometry, log-log.

    Parameters
    ----------
    spectra : mapping of str to (ndarray, ndarray)
        By component: observed wavelength [A], f_lambda [erg/s/cm^2/A].
    photometry : xr.Dataset
        From :func:`band_photometry`.
    title : str, optional
    spectrum_points : mapping of letter to xr.Dataset, optional
        Binned spectra (:func:`binned_spectrum`) drawn as points with their
        binned model; the axes widen to show them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    pivot_um = photometry.pivot.values / 1e4
    lo, hi = pivot_um.min() / 1.6, pivot_um.max() * 1.6
    binned = [points for points in (spectrum_points or {}).values() if points.sizes.get("wavelength", 0)]
    for points in binned:
        um = points.wavelength.values / 1e4
        lo, hi = min(lo, um.min() / 1.1), max(hi, um.max() * 1.1)
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
    spectrum_values = []
    for points in binned:
        um = points.wavelength.values / 1e4
        flux, model = points.data.values, points.model.values
        shown = flux > 0
        name = f"spectrum {points.attrs['letter']}" if points.attrs.get("letter") else "spectrum"
        ax.errorbar(um[shown], flux[shown], yerr=points.error.values[shown], fmt=".", color="0.45", ms=2,
                    elinewidth=0.5, zorder=1, label=name)
        ax.plot(um[model > 0], model[model > 0], color="darkorange", lw=1.0, zorder=2, label=f"{name} model")
        spectrum_values += [flux[shown], model[model > 0]]
    for x, label in zip(pivot_um, photometry.band.values):
        ax.annotate(str(label), (x, photometry.model.values[list(pivot_um).index(x)]), fontsize=6,
                    xytext=(0, -12), textcoords="offset points", ha="center")
    ax.set_xscale("log")
    ax.set_yscale("log")
    values = np.concatenate([photometry.model.values, photometry.measured.values, *spectrum_values])
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
    spectrum_points: Mapping[str, xr.Dataset] | None = None,
) -> Path:
    """Write :func:`sed_figure` as a PNG, atomically; returns the path."""
    fig = sed_figure(spectra, photometry, title, spectrum_points)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)
