"""Every file an imaging fit leaves in the workplace.

:func:`write_imaging_outputs` writes, each atomically (an interrupted write
keeps the previous file):

* ``<target>.params``: the whole parameter table with the best values (the
  file ``--readpar`` reads to start the next stage);
* ``<target>.gssummary``: statistics and best values (:mod:`.summary`);
* ``<target>.residual.png``: data / model / residual per band, when the fit
  has images (:mod:`.figures`);
* ``<target>.sed.png``: component SEDs with model and measured band fluxes,
  when images use SED fluxes, and the binned spectra with their models when
  spectra were fitted too (:mod:`.sed_figure`);
* ``<target>.spec.png``: data, model, components and residuals of each
  fitted spectrum (:mod:`.spectrum_figure`);
* ``<target>.model.fits``: the data / model / residual cube of the images
  and a table per spectrum (:mod:`.cube`), when the fit has images.

A spectrum-only fit (no image) writes ``.params``, ``.gssummary`` and
``.spec.png``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from galfits_nb.config.spec import Config
from galfits_nb.inference.parameters import band_labels
from galfits_nb.outputs.cube import write_model_cube
from galfits_nb.outputs.figures import write_residual_png
from galfits_nb.outputs.sed_figure import band_photometry, binned_spectrum, write_sed_png
from galfits_nb.outputs.spectrum_figure import write_spectrum_png
from galfits_nb.outputs.summary import FitSummary, image_statistics, spectrum_statistics, write_gssummary

__all__ = ["write_imaging_outputs", "imaging_summary", "fitting_mode", "fit_photometry", "write_fit_sed_png"]


def fit_photometry(result, fluxes: dict[str, np.ndarray] | None = None):
    """Model and measured photometry of a fit's SED-mode bands (:func:`.sed_figure.band_photometry`).

    Parameters
    ----------
    result : FitResult
        With ``result.sed`` set.
    fluxes : dict of str to ndarray, optional
        The components' model band fluxes at the best values, when already
        computed (:func:`galfits_nb.models.sed_scene.component_spectra`).
    """
    scene = result.sed
    if fluxes is None:
        import jax.numpy as jnp

        from galfits_nb.models.sed_scene import component_band_fluxes_compiled

        dtype = jnp.result_type(float)
        values = {name: jnp.asarray(v, dtype) for name, v in result.table.values().items()}
        fluxes = component_band_fluxes_compiled(values, scene)
    fluxes = {name: np.asarray(f, dtype=float) for name, f in fluxes.items()}
    return band_photometry(
        result.models, fluxes, scene.labels, np.asarray(scene.unit_factors, dtype=float),
        np.asarray(scene.bands.pivot, dtype=float),
    )


def write_fit_sed_png(path, result, title: str | None = None, show_spectra: bool = True) -> Path:
    """``<target>.sed.png`` of a fit with SED-mode images.

    Parameters
    ----------
    path : path-like
    result : FitResult
        With ``result.sed`` set.
    title : str, optional
    show_spectra : bool
        Also draw the fitted spectra (``result.spectra``), binned to about
        200 points, with their models (:func:`.sed_figure.binned_spectrum`).
    """
    from galfits_nb.models.sed_scene import component_spectra

    spectra, fluxes = component_spectra(result.table.values(), result.sed)
    fitted = (getattr(result, "spectra", None) or {}) if show_spectra else {}
    points = {letter: binned_spectrum(ds) for letter, ds in fitted.items()}
    return write_sed_png(path, spectra, fit_photometry(result, fluxes), title, spectrum_points=points)


def fitting_mode(config: Config, result=None) -> str:
    """GalfitS's name for what a configuration fits.

    ``images - photometry`` (every image ``I15 = 0``), ``images - SED``,
    ``images + spectra`` or ``spectra``.

    Parameters
    ----------
    config : Config
    result : FitResult, optional
        When given, what the fit actually used decides whether images and
        spectra count (an imaging-only fit of a config that lists spectra
        is ``images - ...``); else what the config lists.
    """
    if result is None:
        has_images, has_spectra = bool(config.images), bool(config.spectra)
    else:
        has_images, has_spectra = bool(result.models), bool(getattr(result, "spectra", None))
    if not has_images:
        return "spectra"
    if has_spectra:
        return "images + spectra"
    return "images - SED" if any(image.use_sed for image in config.images) else "images - photometry"


def imaging_summary(config: Config, result, extra: dict[str, str] | None = None) -> FitSummary:
    """The :class:`~galfits_nb.outputs.summary.FitSummary` of a :class:`~galfits_nb.inference.fit.FitResult`."""
    labels = band_labels(config)
    atlas_of = {labels[letter]: (atlas.name, k) for atlas in config.atlases for k, letter in enumerate(atlas.images)}
    bands = {label: ds.attrs["band"] for label, ds in result.models.items()}
    images = image_statistics(list(result.models), bands, result.chi2_per_image, result.n_good, atlas_of)
    parameters = {"best_value": {name: result.table[name].value for name in result.free_names}}
    if result.sigma:
        parameters["sigma"] = {name: result.sigma.get(name, float("nan")) for name in result.free_names}
    header = {
        "chisq definition": "sum(((data - model) / sigma)^2) over unmasked pixels",
        # GalfitS's reported values on J0056 behave as half of this sum (docs/imaging.md)
        "half chisq (GalfitS scale)": f"{result.chi2 / 2:.2f}, reduced {result.reduced_chi2 / 2:.4f}",
        "steps": str(result.n_steps),
        "converged": str(bool(result.converged)),
    }
    if getattr(result, "at_bounds", ()):
        header["at a bound"] = ", ".join(result.at_bounds)
    if result.interrupted:
        header["interrupted"] = "True (best parameters so far)"
    spectra = getattr(result, "spectra", None) or {}
    weights = {letter: float(ds.attrs.get("weight", 1.0)) for letter, ds in spectra.items()}
    if any(w != 1.0 for w in weights.values()):
        # the spectrum lines report unweighted chi^2; the fit minimised the weighted sum
        header["spectrum weight"] = ", ".join(f"{letter}: {w:g}" for letter, w in weights.items())
    header.update(extra or {})
    return FitSummary(
        target=config.region.name,
        config_file=os.path.basename(config.path) if config.path else "",
        mode=fitting_mode(config, result),
        method=result.method,
        chisq=result.chi2,
        reduced_chisq=result.reduced_chi2,
        bic=result.bic,
        fitting_time=result.wall_time,
        images=images,
        parameters=parameters,
        extra=header,
        spectra=spectrum_statistics(spectra),
    )


def write_imaging_outputs(
    workplace: str | os.PathLike,
    config: Config,
    result,
    *,
    figure: bool = True,
    cube: bool = True,
) -> dict[str, Path]:
    """Write the files of an imaging fit into ``workplace``.

    Parameters
    ----------
    workplace : path-like
        Output folder (created if missing).
    config : Config
    result : FitResult
    figure, cube : bool
        Also write the figures (residual, SED, spectrum PNGs) / the model
        FITS cube.

    Returns
    -------
    dict of str to Path
        ``params``, ``gssummary`` and, when written, ``residual_png`` (fits
        with images), ``sed_png`` (SED-mode images only), ``spec_png`` (fits
        with spectra), ``model_fits`` (fits with images; it holds the
        spectra as tables too).
    """
    folder = Path(workplace)
    folder.mkdir(parents=True, exist_ok=True)
    target = config.region.name
    spectra = getattr(result, "spectra", None) or {}
    written = {"params": result.table.write(folder / f"{target}.params")}
    written["gssummary"] = write_gssummary(folder / f"{target}.gssummary", imaging_summary(config, result))
    title = f"{target}: {fitting_mode(config, result)}, reduced chi2 = {result.reduced_chi2:.3f}"
    if figure and result.models:
        written["residual_png"] = write_residual_png(folder / f"{target}.residual.png", result.models, title)
    if figure and result.models and getattr(result, "sed", None) is not None:
        written["sed_png"] = write_fit_sed_png(folder / f"{target}.sed.png", result, f"{target}: component SEDs")
    if figure and spectra:
        written["spec_png"] = write_spectrum_png(folder / f"{target}.spec.png", spectra, title)
    if cube and result.models:
        primary = {"OBJECT": target, "METHOD": result.method, "CHISQ": result.chi2, "REDCHISQ": result.reduced_chi2}
        written["model_fits"] = write_model_cube(folder / f"{target}.model.fits", result.models, primary, spectra)
    return written
