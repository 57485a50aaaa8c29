"""The spectrum figure of a fit (``<target>.spec.png``).

What is drawn, per spectrum (``FitResult.spectra``), on a shared observed
wavelength axis:

* upper panel: the data (thin grey steps), the total model (red), each
  model component (``component_<name>``) in its own colour, the pixels left
  out of the fit (``mask``) shaded grey, and the emission lines labelled at
  ``lambda_rest * (1 + z)``;
* lower panel: ``(data - model) / error`` of every pixel (masked ones pale),
  with the 0 and +-3 levels.

The y-ranges come from percentiles of the unmasked pixels (joined, above,
with the full range of the model and its components, so fitted lines are
never cut), so a cosmic ray, a bad sky line or a masked edge does not squash
the spectrum.
The figure uses fixed margins, not a layout engine (as
:mod:`galfits_nb.outputs.figures` does, for speed).

Line list
---------
Rest vacuum wavelengths come from ``galfits_nb.models.lines.LINE_WAVELENGTHS``
when that module provides them, else from :data:`FALLBACK_LINES`, the main
optical lines (vacuum; Mg b and Na D are the blends' approximate centres).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from galfits_nb.atomic import atomic_path

__all__ = [
    "FALLBACK_LINES",
    "emission_lines",
    "spectrum_figure",
    "spectra_figure",
    "write_spectrum_png",
    "mask_intervals",
    "robust_limits",
]

FALLBACK_LINES: dict[str, float] = {
    "[OII]3728": 3728.48,
    "CaII K": 3934.78,
    "CaII H": 3969.59,
    "Hd": 4102.89,
    "Hg": 4341.68,
    "HeII4687": 4687.02,
    "Hb": 4862.68,
    "[OIII]4960": 4960.30,
    "[OIII]5008": 5008.24,
    "Mg b": 5176.7,
    "HeI5877": 5877.25,
    "NaD": 5895.0,
    "[OI]6302": 6302.05,
    "[NII]6550": 6549.86,
    "Ha": 6564.61,
    "[NII]6585": 6585.27,
    "[SII]6718": 6718.29,
    "[SII]6733": 6732.67,
}
"""Rest vacuum wavelengths [A] of the main optical lines, by label."""

UNIT_LABEL = r"$F_\lambda$ [$10^{-17}$ erg s$^{-1}$ cm$^{-2}$ $\AA^{-1}$]"

# Component colours: matplotlib's tab10 without its red, which the total model uses.
_COMPONENT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
_MODEL_COLOUR = "#d62728"


def emission_lines() -> dict[str, float]:
    """Rest vacuum wavelengths [A] of the lines to label, by name.

    ``galfits_nb.models.lines.LINE_WAVELENGTHS`` when importable (entries
    that are not a single number are skipped), else :data:`FALLBACK_LINES`.
    """
    try:
        from galfits_nb.models.lines import LINE_WAVELENGTHS
    except ImportError:
        return dict(FALLBACK_LINES)
    lines = {}
    for name, value in dict(LINE_WAVELENGTHS).items():
        try:
            lines[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    return lines or dict(FALLBACK_LINES)


def mask_intervals(wavelength: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Wavelength intervals covered by runs of masked pixels.

    Parameters
    ----------
    wavelength : array of shape (n_wave,)
        Increasing pixel centres [A].
    mask : bool array of shape (n_wave,)
        True where the pixel is left out.

    Returns
    -------
    list of (start, width)
        One per run of consecutive masked pixels, from the lower to the upper
        pixel edge (edges halfway between centres), in A; the form
        ``Axes.broken_barh`` takes.
    """
    wave = np.asarray(wavelength, dtype=float)
    bad = np.asarray(mask, dtype=bool)
    if wave.size == 0 or not bad.any():
        return []
    mid = 0.5 * (wave[1:] + wave[:-1])
    first = wave[0] - (mid[0] - wave[0] if wave.size > 1 else 0.5)
    last = wave[-1] + (wave[-1] - mid[-1] if wave.size > 1 else 0.5)
    edges = np.concatenate([[first], mid, [last]])
    change = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    return [(float(edges[a]), float(edges[b] - edges[a])) for a, b in zip(starts, stops)]


def robust_limits(values: np.ndarray, low: float = 0.5, high: float = 99.5, pad: float = 0.08) -> tuple[float, float]:
    """Axis limits from percentiles of the finite ``values``, padded.

    Parameters
    ----------
    values : ndarray
        Any shape and unit.
    low, high : float
        Percentiles that set the range.
    pad : float
        Fraction of the range added on each side.

    Returns
    -------
    (float, float)
        ``(-1, 1)`` when no value is finite; ``pad * max(|v|, 1)`` either
        side of a constant ``v``.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return -1.0, 1.0
    lo, hi = np.percentile(finite, [low, high])
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return float(lo - pad * span), float(hi + pad * span)


def _flux_limits(
    data: np.ndarray, model: np.ndarray, low_pad: float = 0.05, high_pad: float = 0.3
) -> tuple[float, float]:
    """y-range of the upper panel: percentiles of the data joined with the whole model.

    The model's (and components') extremes count in full so that fitted
    emission lines, a few pixels tall, are never cut; the data's only
    through the 0.5 and 99.5 percentiles, so single bad pixels do not set
    the range. ``high_pad`` leaves room at the top for the line labels.
    """
    data = data[np.isfinite(data)]
    model = model[np.isfinite(model)]
    if data.size == 0 and model.size == 0:
        return -1.0, 1.0
    bounds = [np.percentile(data, [0.5, 99.5])] if data.size else []
    bounds += [(model.min(), model.max())] if model.size else []
    lo, hi = float(min(b[0] for b in bounds)), float(max(b[1] for b in bounds))
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - low_pad * span, hi + high_pad * span


def _components(ds: xr.Dataset) -> dict[str, np.ndarray]:
    prefix = "component_"
    return {
        name[len(prefix):]: np.asarray(ds[name].values, dtype=float)
        for name in ds.data_vars
        if str(name).startswith(prefix)
    }


def _label_lines(ax, lines: Mapping[str, float], redshift: float, xlim: tuple[float, float]) -> None:
    """Dotted markers and names of the lines that fall in ``xlim``, staggered in three heights."""
    shown = sorted((rest * (1.0 + redshift), name) for name, rest in lines.items())
    shown = [(w, name) for w, name in shown if xlim[0] < w < xlim[1]]
    if not shown:
        return
    transform = ax.get_xaxis_transform()
    spacing = 0.012 * (xlim[1] - xlim[0])  # closer labels share a height only if they would not overlap
    last = [-np.inf, -np.inf, -np.inf]
    for wave, name in shown:
        ax.axvline(wave, color="0.55", lw=0.5, ls=":", zorder=0)
        level = next((k for k in range(3) if wave - last[k] > spacing), None)
        if level is None:
            continue
        last[level] = wave
        ax.text(wave, 0.97 - 0.07 * level, name, transform=transform, rotation=90, fontsize=6,
                ha="right", va="top", color="0.3", clip_on=True)


def _draw_spectrum(top, bottom, ds: xr.Dataset, lines: Mapping[str, float], redshift: float) -> None:
    """Fill one spectrum's upper (data, model, components) and lower (chi) axes."""
    from matplotlib.ticker import MaxNLocator

    wave = np.asarray(ds.wavelength.values, dtype=float)
    data = np.asarray(ds.data.values, dtype=float)
    model = np.asarray(ds.model.values, dtype=float)
    error = np.asarray(ds.error.values, dtype=float)
    bad = np.asarray(ds["mask"].values, dtype=bool) if "mask" in ds else np.zeros(wave.shape, bool)
    good = ~bad & np.isfinite(data)
    residual = np.asarray(ds.residual.values, dtype=float) if "residual" in ds else data - model
    with np.errstate(divide="ignore", invalid="ignore"):
        chi = np.where(error > 0, residual / error, np.nan)

    components = _components(ds)
    top.plot(wave, data, color="0.35", lw=0.5, drawstyle="steps-mid", label="data", zorder=2)
    for k, (name, flux) in enumerate(components.items()):
        top.plot(wave, flux, color=_COMPONENT_COLOURS[k % len(_COMPONENT_COLOURS)], lw=0.9, label=name, zorder=3)
    top.plot(wave, model, color=_MODEL_COLOUR, lw=1.1, label="model", zorder=4)
    xlim = (float(wave.min()), float(wave.max())) if wave.size else (0.0, 1.0)
    lo, hi = _flux_limits(data[good], np.concatenate([model[good], *(c[good] for c in components.values())]))
    intervals = mask_intervals(wave, bad)
    for ax in (top, bottom):
        if intervals:
            ax.broken_barh(intervals, (0, 1), transform=ax.get_xaxis_transform(), color="0.88", zorder=0)
    top.set_ylim(lo, hi)
    _label_lines(top, lines, redshift, xlim)
    # Outside, right of the panel: inside it would hide line labels or data.
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0, frameon=False)
    top.set_ylabel(UNIT_LABEL, fontsize=8)

    bottom.plot(wave[good], chi[good], ".", color="k", ms=1.5, zorder=2)
    bottom.plot(wave[~good], chi[~good], ".", color="0.7", ms=1.5, zorder=1)
    for level, style in ((0.0, "-"), (3.0, "--"), (-3.0, "--")):
        bottom.axhline(level, color=_MODEL_COLOUR, lw=0.6, ls=style, zorder=3)
    limit = robust_limits(np.abs(chi[good]), 0.0, 99.5, pad=0.1)[1] if good.any() else 5.0
    limit = max(limit, 4.0)
    bottom.set_ylim(-limit, limit)
    # The panels touch: drop the tick labels that would meet at the seam.
    bottom.yaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=True, prune="upper"))
    top.yaxis.set_major_locator(MaxNLocator(nbins=6, prune="lower"))
    bottom.set_ylabel("(data - model) / error", fontsize=8)
    bottom.set_xlabel(r"observed wavelength [$\AA$]", fontsize=8)
    for ax in (top, bottom):
        ax.set_xlim(*xlim)
        ax.tick_params(labelsize=7)
    top.tick_params(labelbottom=False)

    attrs = ds.attrs
    text = f"spectrum {attrs.get('letter', '')}"
    if "chi2" in attrs:
        text += f": chi2 = {float(attrs['chi2']):.1f}, N = {int(attrs.get('n_good', good.sum()))}"
    if "reduced_chi2" in attrs:
        text += f", chi2/N = {float(attrs['reduced_chi2']):.3f}"
    text += f", z = {redshift:.4f}"
    top.set_title(text, fontsize=9)


def spectra_figure(
    spectra: Mapping[str, xr.Dataset],
    title: str | None = None,
    lines: Mapping[str, float] | None = None,
    panel_width: float = 10.0,
    panel_height: float = 4.2,
):
    """Data, model, components and chi of every spectrum, one block per spectrum.

    Parameters
    ----------
    spectra : mapping of letter to xr.Dataset
        As :attr:`galfits_nb.inference.fit.FitResult.spectra`: over
        ``wavelength`` (observed, A) ``data``, ``error``, ``model``,
        ``residual``, ``mask`` (True = excluded) and ``component_<name>``,
        in 1e-17 erg/s/cm^2/A; attrs ``letter``, ``chi2``, ``n_good``,
        ``reduced_chi2``, ``redshift``.
    title : str, optional
    lines : mapping of str to float, optional
        Rest vacuum wavelengths [A] to label, by name (default
        :func:`emission_lines`; ``{}`` labels none).
    panel_width, panel_height : float
        Inches of one spectrum's block (both panels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    n = max(len(spectra), 1)
    extra = 0.45 if title else 0.15
    height = n * panel_height + extra
    fig = Figure(figsize=(panel_width, height))
    # Fixed margins instead of a layout engine, as in figures.residual_figure.
    outer = fig.add_gridspec(
        n, 1, left=0.075, right=0.87, bottom=0.45 / height, top=1.0 - (extra + 0.3) / height, hspace=0.35
    )
    chosen = emission_lines() if lines is None else dict(lines)
    for k, ds in enumerate(spectra.values()):
        inner = outer[k].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.0)
        top = fig.add_subplot(inner[0])
        bottom = fig.add_subplot(inner[1], sharex=top)
        _draw_spectrum(top, bottom, ds, chosen, float(ds.attrs.get("redshift", 0.0)))
    if title:
        fig.suptitle(title, fontsize=11, y=1.0 - 0.12 / height, va="top")
    return fig


def spectrum_figure(
    ds: xr.Dataset,
    title: str | None = None,
    lines: Mapping[str, float] | None = None,
    redshift: float | None = None,
):
    """The figure of one spectrum: data, model, components, masked regions, lines; chi below.

    Parameters
    ----------
    ds : xr.Dataset
        One entry of :attr:`galfits_nb.inference.fit.FitResult.spectra`
        (see :func:`spectra_figure`).
    title : str, optional
    lines : mapping of str to float, optional
        Rest vacuum wavelengths [A] to label (default :func:`emission_lines`).
    redshift : float, optional
        Shifts the line labels; default ``ds.attrs['redshift']`` (0 without).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if redshift is not None:
        ds = ds.assign_attrs(redshift=float(redshift))
    return spectra_figure({str(ds.attrs.get("letter", "")): ds}, title, lines)


def write_spectrum_png(
    path: str | os.PathLike,
    spectra: Mapping[str, xr.Dataset],
    title: str | None = None,
    lines: Mapping[str, float] | None = None,
    dpi: int = 110,
) -> Path:
    """Save :func:`spectra_figure` as a PNG, atomically.

    Returns
    -------
    Path
        ``path``.
    """
    fig = spectra_figure(spectra, title, lines)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)
