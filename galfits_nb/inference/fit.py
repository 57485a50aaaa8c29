"""Fits of images (photometry or SED mode) and spectra: config + observation -> best parameters.

:func:`fit_images` is the plain-Python entry point the command line, the
staged workflow and the widgets call. It builds the scene
(:func:`galfits_nb.models.scene.build_imaging_scene`), picks start fluxes from
the data, runs a fitter from :mod:`galfits_nb.inference.optimize` and returns
a :class:`FitResult` with the best table, the statistics GalfitS reports, the
parameter errors and the model images as xarray Datasets.

Which parameters move
---------------------
The free parameters of the table that the images read (shapes, centres,
``logNorm_*``, sky, shifts, and whatever those are tied to). Free parameters
the images do not read (SED parameters, redshifts, spectrum normalisations)
are held at their values in an imaging-only fit and keep them in the result.

Start fluxes
------------
A free ``logNorm_<comp>_<band>`` still holding the table's default 0 starts
at ``log10(F / n_comp)``, with ``F`` the sum over unmasked pixels of data
minus the start sky and ``n_comp`` the number of components (for ``const``,
that share spread over the good pixels). When ``F <= 0`` (an empty cut-out)
the noise level ``sqrt(sum sigma^2)`` stands in for ``F``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import xarray as xr

from galfits_nb.config.companions import tie_dependencies
from galfits_nb.config.spec import Config
from galfits_nb.errors import ConfigError
from galfits_nb.inference import optimize
from galfits_nb.inference.likelihood import (
    ImagingProblem,
    bic,
    imaging_problem,
    problem_models,
    reduced_chi2,
)
from galfits_nb.inference.parameters import ParameterTable, bound_distance, build_parameter_table
from galfits_nb.models.profiles import DEFAULT_SAMPLING, Sampling
from galfits_nb.models.scene import (
    DEFAULT_PSF_UPSAMPLING,
    ImagingScene,
    build_imaging_scene,
    scene_parameter_names,
)
from galfits_nb.models.sed_scene import SEDScene, build_sed_scene, sed_parameter_names
from galfits_nb.models.spectrum_scene import (
    SpectrumScene,
    build_spectrum_scenes,
    spectrum_components_compiled,
    spectrum_parameter_names,
)
from galfits_nb.models.sky import polynomial_degree, polynomial_terms
from galfits_nb.precision import full_precision

__all__ = ["FitResult", "fit_images", "build_scenes", "imaging_table", "start_fluxes", "FIT_METHODS", "DEFAULT_NUM_STEPS"]

FIT_METHODS = ("lm", "lbfgs", "optimizer", "adam")
"""Methods of :func:`fit_images`; ``optimizer`` (GalfitS's name) and ``adam`` are the same."""

DEFAULT_NUM_STEPS = {"lm": 200, "lbfgs": 1000, "optimizer": 15000, "adam": 15000}
"""Maximum steps per method (Adam's 15000 is the ``galfits --num_steps`` default)."""


class FitResult(NamedTuple):
    """The outcome of an imaging fit.

    Attributes
    ----------
    table : ParameterTable
        The input table with the best values of the fitted parameters.
    method : str
    free_names : tuple of str
        The parameters that were fitted.
    chi2 : float
        Total chi^2 at the best point.
    chi2_per_image : dict of str to float
        By band label (``sloan_g``).
    n_good : dict of str to int
        Unmasked pixels per band label.
    n_free : int
    reduced_chi2 : float
        ``chi2 / (N_good - N_free)``.
    bic : float
        ``chi2 + N_free ln(N_good)``.
    sigma : dict of str to float
        1-sigma error per fitted parameter (empty when not computed).
    covariance : ndarray of shape (n_free, n_free) or None
    models : dict of str to xr.Dataset
        Per band label: ``data``, ``model``, ``residual`` (data - model),
        ``sigma``, ``mask`` over (y, x) with the observation's coordinates;
        attrs ``band``, ``letter``, ``label``, ``chi2``, ``n_good``,
        ``n_free`` (of the whole fit), ``reduced_chi2`` (``chi2 / n_good``:
        per image GalfitS divides by the unmasked pixels) and ``wcs_header``.
    n_steps : int
    wall_time : float
        Seconds, compilation included.
    converged, interrupted : bool
    history : ndarray
        Best chi^2 after each step.
    sed : SEDScene or None
        The SED model of the SED-mode images (for band fluxes and figures).
    spectra : dict of str to xr.Dataset
        Per spectrum letter, over ``wavelength`` (observed, A): ``data``,
        ``error``, ``model``, ``residual``, ``mask`` and one
        ``component_<name>`` per component (1e-17 erg/s/cm^2/A); attrs
        ``chi2``, ``n_good``, ``reduced_chi2`` (``chi2 / n_good``) and
        ``weight``.
    at_bounds : tuple of str
        Fitted parameters whose best value lies within 1e-3 of their range
        of a bound, or within 0.1 of their error (:func:`at_bounds`; worth a
        look: the bound, not the data, may set them).
    """

    table: ParameterTable
    method: str
    free_names: tuple[str, ...]
    chi2: float
    chi2_per_image: dict[str, float]
    n_good: dict[str, int]
    n_free: int
    reduced_chi2: float
    bic: float
    sigma: dict[str, float]
    covariance: np.ndarray | None
    models: dict[str, xr.Dataset]
    n_steps: int
    wall_time: float
    converged: bool
    interrupted: bool
    history: np.ndarray
    sed: SEDScene | None = None
    spectra: dict[str, xr.Dataset] = {}
    at_bounds: tuple[str, ...] = ()


def imaging_table(
    table: ParameterTable,
    scene: ImagingScene,
    sed: SEDScene | None = None,
    spectra: SpectrumScene | None = None,
) -> ParameterTable:
    """The table with every free parameter neither the images nor the spectra read held fixed.

    A parameter counts as read when a frame or a spectrum names it, when the
    SED model needs it for a flux a frame reads, or when a parameter read is
    tied to it (recursively).
    """
    used = set(scene_parameter_names(scene.frames))
    if spectra is not None:
        used |= set(spectrum_parameter_names(spectra))
    sed_deps = sed_parameter_names(sed) if sed is not None else {}
    pending = list(used)
    while pending:
        name = pending.pop()
        tie = table[name].tie if name in table else None
        deps = set(sed_deps.get(name, ()))
        if tie is not None:
            deps |= set(tie_dependencies(tie))
        for dep in deps:
            if dep not in used:
                used.add(dep)
                pending.append(dep)
    rows = tuple(
        replace(row, vary=False) if row.vary and row.tie is None and row.name not in used else row
        for row in table.rows
    )
    return ParameterTable(rows)


def at_bounds(
    table: ParameterTable,
    names,
    margin: float = 1e-3,
    sigma: dict[str, float] | None = None,
    within_sigma: float = 0.1,
) -> tuple[str, ...]:
    """The parameters among ``names`` on a bound: within ``margin`` of their range, or within ``within_sigma`` errors.

    Why the second test: a parameter pressing on a bound approaches it
    geometrically in the logistic space, and LM stops once its steps gain
    next to nothing (or, with the opt-in stall rule of
    :mod:`galfits_nb.inference.optimize`, once they move no parameter by a
    tenth of its error), so it may end indistinguishably close to the bound
    for the data and yet more than ``margin`` of its range away.

    Parameters
    ----------
    table : ParameterTable
    names : sequence of str
    margin : float
        Fraction of ``max - min``.
    sigma : dict of str to float, optional
        1-sigma errors by name (NaN or absent: only the margin applies).
    within_sigma : float

    Returns
    -------
    tuple of str
    """
    rows = [table[name] for name in names]
    distance = bound_distance([r.value for r in rows], [r.min for r in rows], [r.max for r in rows])
    sigma = sigma or {}
    out = []
    for row, d in zip(rows, distance):
        error = sigma.get(row.name, float("nan"))
        near = np.isfinite(error) and d * (row.max - row.min) <= within_sigma * error
        if d <= margin or near:
            out.append(row.name)
    return tuple(out)


def start_fluxes(table: ParameterTable, scene: ImagingScene) -> ParameterTable:
    """Start values of free ``logNorm_*`` parameters still at the default 0 (module docstring)."""
    values = table.values()
    updates: dict[str, float] = {}
    for frame, arrays in zip(scene.frames, scene.images):
        good = np.asarray(arrays.good, dtype=bool)
        data = np.asarray(arrays.data, dtype=float)
        if frame.sky_model == "uniform":
            sky = float(values[frame.sky[0]])
        else:
            coefficients = np.array([float(values[name]) for name in frame.sky])
            terms = polynomial_terms(frame.shape, polynomial_degree(len(coefficients)))
            sky = np.tensordot(coefficients, terms, axes=1)
        total = float(np.sum((data - sky)[good]))
        if not total > 0:
            inv = np.asarray(arrays.inv_sigma, dtype=float)[good]
            total = float(np.sqrt(np.sum(1.0 / inv**2)))
        share = total / max(len(frame.components), 1)
        for comp in frame.components:
            if comp.flux not in table:
                continue  # an SED-mode flux
            row = table[comp.flux]
            if not (row.vary and row.tie is None and row.value == 0.0):
                continue
            flux = share / max(int(good.sum()), 1) if comp.kind == "const" else share
            updates[comp.flux] = float(np.log10(flux))
    return table.with_values(updates) if updates else table


def build_scenes(
    config: Config,
    tree: xr.DataTree,
    table: ParameterTable,
    *,
    sampling: Sampling = DEFAULT_SAMPLING,
    padding: int | None = None,
    psf_upsampling: int = DEFAULT_PSF_UPSAMPLING,
    sed_options: dict | None = None,
    spectra: bool = True,
    weight_spec: float = 1.0,
    weight_images: float = 1.0,
) -> tuple[ImagingScene, SEDScene | None, SpectrumScene | None]:
    """The imaging scene, SED model and spectrum scene a fit of ``config`` needs.

    Arguments as for :func:`fit_images`.

    Raises
    ------
    ConfigError
        Nothing to fit, or what the scene builders raise.
    """
    options = dict(sed_options or {})
    sed = build_sed_scene(config, **options)
    if any(atlas.images for atlas in config.atlases):
        scene = build_imaging_scene(
            config,
            tree,
            table,
            sampling=sampling,
            padding=padding,
            psf_upsampling=psf_upsampling,
            sed_fluxes=sed.flux_names if sed is not None else (),
        )
        if weight_images != 1.0:
            factor = float(np.sqrt(weight_images))
            scene = ImagingScene(scene.frames, tuple(a._replace(inv_sigma=a.inv_sigma * factor) for a in scene.images))
    else:
        scene = ImagingScene((), ())
    spectrum_scene = None
    if spectra:
        spectrum_options = {k: v for k, v in options.items() if k in ("templates", "cosmology", "energy_balance")}
        spectrum_scene = build_spectrum_scenes(config, tree, scene, weight=weight_spec, **spectrum_options)
    if not scene.frames and spectrum_scene is None:
        raise ConfigError("nothing to fit: no atlas (A2/A5) lists an image or a spectrum")
    return scene, sed, spectrum_scene


class BuiltProblem(NamedTuple):
    """What :func:`build_problem` returns.

    Attributes
    ----------
    problem : ImagingProblem
        Scene, parameter space, SED model, spectra and priors: what fitters
        and samplers evaluate.
    table : ParameterTable
        The table whose free parameters are ``problem``'s, with start fluxes
        (and line luminosities when asked) filled in.
    scene : ImagingScene
    sed : SEDScene or None
    spectra : SpectrumScene or None
    """

    problem: ImagingProblem
    table: ParameterTable
    scene: ImagingScene
    sed: SEDScene | None
    spectra: SpectrumScene | None


def build_problem(
    config: Config,
    tree: xr.DataTree,
    table: ParameterTable | None = None,
    *,
    sampling: Sampling = DEFAULT_SAMPLING,
    padding: int | None = None,
    psf_upsampling: int = DEFAULT_PSF_UPSAMPLING,
    sed_options: dict | None = None,
    spectra: bool = True,
    weight_spec: float = 1.0,
    weight_images: float = 1.0,
    line_starts: bool = False,
    priors=None,
) -> BuiltProblem:
    """The likelihood problem of a config: scenes, free-parameter table and priors.

    Arguments as for :func:`fit_images`; the optimizers and the samplers
    (:mod:`galfits_nb.inference.sample`) start from the same problem.

    Returns
    -------
    BuiltProblem
    """
    table = build_parameter_table(config) if table is None else table
    scene, sed, spectrum_scene = build_scenes(
        config,
        tree,
        table,
        sampling=sampling,
        padding=padding,
        psf_upsampling=psf_upsampling,
        sed_options=sed_options,
        spectra=spectra,
        weight_spec=weight_spec,
        weight_images=weight_images,
    )
    fit_table = start_fluxes(imaging_table(table, scene, sed, spectrum_scene), scene)
    if spectrum_scene is not None and line_starts:
        from galfits_nb.inference.spectrum_start import start_line_luminosities

        fit_table = start_line_luminosities(fit_table, build_parameter_table(config), spectrum_scene, tree)
    prior_terms = None
    if priors is not None:
        from galfits_nb.inference.priors import build_priors

        prior_terms = build_priors(priors, config, fit_table)
    problem = imaging_problem(scene, fit_table, sed, spectrum_scene, prior_terms)
    return BuiltProblem(problem, fit_table, scene, sed, spectrum_scene)


def _fitter(method: str, problem: ImagingProblem, learning_rate: float, tolerance: float, optimizer):
    if optimizer is not None:
        return optimize.optax_fitter(problem, optimizer, tolerance=None, name=method)
    if method == "lm":
        return optimize.levenberg_marquardt(problem, optimize.LMSettings(tolerance=tolerance))
    if method == "lbfgs":
        return optimize.lbfgs(problem, tolerance=tolerance)
    return optimize.adam(problem, learning_rate)


@full_precision
def fit_images(
    config: Config,
    tree: xr.DataTree,
    table: ParameterTable | None = None,
    method: str = "lm",
    *,
    num_steps: int | None = None,
    learning_rate: float = 0.01,
    tolerance: float = 1e-6,
    cal_sigma: bool = True,
    progress: bool = True,
    callback: Callable | None = None,
    optimizer=None,
    sampling: Sampling = DEFAULT_SAMPLING,
    padding: int | None = None,
    psf_upsampling: int = DEFAULT_PSF_UPSAMPLING,
    sed_options: dict | None = None,
    spectra: bool = True,
    weight_spec: float = 1.0,
    weight_images: float = 1.0,
    line_starts: bool = False,
    priors=None,
) -> FitResult:
    """Fit the images and spectra of a config: photometry mode (``I15 = 0``), SED mode (``I15 = 1``), spectra (A5).

    Parameters
    ----------
    config : Config
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`.
    table : ParameterTable, optional
        Start values, bounds and ties (default ``build_parameter_table(config)``).
    method : str
        ``lm`` (Levenberg-Marquardt, the fast default), ``lbfgs``, or
        ``optimizer`` / ``adam`` (GalfitS's default Adam).
    num_steps : int, optional
        Maximum steps (:data:`DEFAULT_NUM_STEPS`); Adam runs all of them.
    learning_rate : float
        Adam's step size in the unconstrained space.
    tolerance : float
        Relative chi^2 change that stops LM and L-BFGS.
    cal_sigma : bool
        Compute parameter errors from the Gauss-Newton Hessian.
    progress : bool
        Show a progress bar.
    callback : callable, optional
        ``callback(step, state, info)`` after each step; raising
        ``KeyboardInterrupt`` stops the fit cleanly (as Ctrl-C does).
    optimizer : optax.GradientTransformation, optional
        Use this instead of ``method``'s optimizer (runs ``num_steps`` steps).
    sampling : Sampling
        Pixel integration of the profiles.
    padding : int, optional
        Pixels rendered beyond each image edge before convolution (default
        half the PSF width; see :func:`~galfits_nb.models.scene.build_imaging_scene`).
    psf_upsampling : int
        Fine-grid factor for images with a data-resolution PSF (odd; 1 to
        convolve at the data's resolution, faster and less accurate for
        profiles smaller than the PSF; same function).
    sed_options : dict, optional
        Keyword arguments of :func:`galfits_nb.models.sed_scene.build_sed_scene`
        (``templates``, ``cosmology``, ``energy_balance``, ``fixed_redshift``).
    spectra : bool
        Fit the spectra the atlases list (A5) jointly with the images;
        False for an imaging-only fit of the same config.
    weight_spec : float
        Factor on the spectra's chi^2 (``--weight_spec``).
    weight_images : float
        Factor on the images' chi^2 (0: the images only place the apertures,
        a spectrum-only fit with a known structure). The reported per-image
        chi^2 stays unweighted.
    priors : PriorSpec, optional
        A prior file's content (:func:`galfits_nb.config.companions.read_priors`);
        its relations become extra residuals (:mod:`galfits_nb.inference.priors`).
    line_starts : bool
        Start emission-line luminosities still at their defaults from a
        measurement on the spectrum (:mod:`galfits_nb.inference.spectrum_start`).
        Off by default: on the real J0249-0815 spectrum these starts led
        Levenberg-Marquardt into a worse minimum than the defaults
        (docs/spectra.md).

    Returns
    -------
    FitResult

    Raises
    ------
    ConfigError
        An unknown method, a parameter the table lacks, SED keys an SED-mode
        image cannot use.
    """
    start = time.perf_counter()
    if method not in FIT_METHODS:
        raise ConfigError(f"unknown fit method {method!r}; expected one of {', '.join(FIT_METHODS)}")
    table = build_parameter_table(config) if table is None else table
    built = build_problem(
        config,
        tree,
        table,
        sampling=sampling,
        padding=padding,
        psf_upsampling=psf_upsampling,
        sed_options=sed_options,
        spectra=spectra,
        weight_spec=weight_spec,
        weight_images=weight_images,
        line_starts=line_starts,
        priors=priors,
    )
    problem, fit_table, scene, sed, spectrum_scene = built
    free = fit_table.free_names
    steps = DEFAULT_NUM_STEPS[method] if num_steps is None else int(num_steps)

    sigma: dict[str, float] = {}
    bound_sigma: dict[str, float] = {}
    covariance = None
    rendered = None
    if free:
        fitter = _fitter(method, problem, learning_rate, tolerance, optimizer)
        outcome = optimize.run(fitter, fitter.init(fit_table), steps, progress=progress, callback=callback)
        n_steps, converged, interrupted, history = (
            outcome.n_steps,
            outcome.converged,
            outcome.interrupted,
            outcome.history,
        )
        finished = n_steps > 0 and np.isfinite(float(outcome.state.best_chi2))
        best_u = outcome.state.best_position if finished else fitter.init(fit_table).position
        lm_state = outcome.state.extra if finished and isinstance(outcome.state.extra, optimize.LMState) else None
        if lm_state is not None:
            rendered = lm_state.models  # LM keeps the models at its best point: no extra compilation
        # LM holds J^T J at its best point, so its errors cost one small
        # inversion: at_bounds uses them even without cal_sigma.
        if cal_sigma or lm_state is not None:
            jtj = lm_state.jtj if lm_state is not None else None
            errors, covariance = optimize.parameter_errors(problem, best_u, jtj)
            bound_sigma = {name: float(e) for name, e in zip(free, errors)}
            sigma, covariance = (bound_sigma, covariance) if cal_sigma else ({}, None)
        best_x = np.asarray(problem.space.from_unconstrained(best_u), dtype=float)
        best_table = table.with_values(dict(zip(free, best_x.tolist())))
    else:
        best_u = jnp.zeros((0,), dtype=jnp.result_type(float))
        best_table = fit_table
        n_steps, converged, interrupted, history = 0, True, False, np.zeros(0)
    if rendered is None:
        rendered = problem_models(best_u, problem)
    models = [np.asarray(m, dtype=float) for m in rendered]
    n_images = len(scene.frames)
    spectrum_models, models = models[n_images:], models[:n_images]
    n_free = len(free)
    datasets: dict[str, xr.Dataset] = {}
    chi2_images: dict[str, float] = {}
    n_good: dict[str, int] = {}
    for frame, arrays, model in zip(scene.frames, scene.images, models):
        source = tree[frame.path].to_dataset()  # with the coordinates a stacked atlas holds
        good = np.asarray(arrays.good, dtype=bool)
        data = np.asarray(source.data.values, dtype=float)
        sig = np.asarray(source.sigma.values, dtype=float)
        chi = np.where(good, (data - model) / np.where(good, sig, 1.0), 0.0)
        chi2_i = float(np.sum(chi**2))
        n_i = int(good.sum())
        chi2_images[frame.label] = chi2_i
        n_good[frame.label] = n_i
        datasets[frame.label] = xr.Dataset(
            {
                "data": (("y", "x"), data, source.data.attrs),
                "model": (("y", "x"), model, source.data.attrs),
                "residual": (("y", "x"), data - model, source.data.attrs),
                "sigma": (("y", "x"), sig, source.sigma.attrs),
                "mask": (("y", "x"), ~good, source.mask.attrs),
            },
            coords={"y": source.y, "x": source.x},
            attrs={
                "band": frame.band,
                "letter": frame.letter,
                "label": frame.label,
                "chi2": chi2_i,
                "n_good": n_i,
                "n_free": n_free,
                "reduced_chi2": chi2_i / n_i if n_i > 0 else float("nan"),
                "wcs_header": source.attrs.get("wcs_header", ""),
            },
        )
    spectrum_sets = (
        _spectrum_datasets(tree, spectrum_scene, spectrum_models, best_table, n_free)
        if spectrum_scene is not None
        else {}
    )
    total = float(sum(chi2_images.values())) + sum(ds.attrs["chi2"] for ds in spectrum_sets.values())
    n_total = int(sum(n_good.values())) + sum(int(ds.attrs["n_good"]) for ds in spectrum_sets.values())
    return FitResult(
        table=best_table,
        method=method,
        free_names=tuple(free),
        chi2=total,
        chi2_per_image=chi2_images,
        n_good=n_good,
        n_free=n_free,
        reduced_chi2=reduced_chi2(total, n_total, n_free),
        bic=bic(total, n_total, n_free),
        sigma=sigma,
        covariance=covariance,
        models=datasets,
        n_steps=n_steps,
        wall_time=time.perf_counter() - start,
        converged=converged,
        interrupted=interrupted,
        at_bounds=at_bounds(best_table, free, sigma=bound_sigma),
        history=history,
        sed=sed,
        spectra=spectrum_sets,
    )


def _spectrum_datasets(
    tree: xr.DataTree, scene: SpectrumScene, models: list[np.ndarray], table: ParameterTable, n_free: int
) -> dict[str, xr.Dataset]:
    """Data, model, residual and components of each fitted spectrum (FitResult.spectra)."""
    dtype = jnp.result_type(float)
    values = {name: jnp.asarray(v, dtype) for name, v in table.values().items()}
    out = {}
    for frame, arrays, model in zip(scene.frames, scene.spectra, models):
        source = tree[f"spectra/{frame.letter}"].to_dataset()
        parts = spectrum_components_compiled(values, frame, arrays)
        good = np.asarray(arrays.inv_sigma) > 0
        data = np.asarray(source.flux.values, dtype=float)
        error = np.asarray(source.error.values, dtype=float)
        chi = np.where(good, (data - model) / np.where(good, error, 1.0), 0.0)
        chi2 = float(np.sum(chi**2))
        n_good = int(good.sum())
        unit = {"units": "1e-17 erg/s/cm^2/A"}
        variables = {
            "data": ("wavelength", data, unit),
            "error": ("wavelength", error, unit),
            "model": ("wavelength", model, unit),
            "residual": ("wavelength", data - model, unit),
            "mask": ("wavelength", ~good),
        }
        for name, part in parts.items():
            variables[f"component_{name}"] = ("wavelength", np.asarray(part, dtype=float), unit)
        out[frame.letter] = xr.Dataset(
            variables,
            coords={"wavelength": source.wavelength},
            attrs={
                "letter": frame.letter,
                "chi2": chi2,
                "n_good": n_good,
                "n_free": n_free,
                "reduced_chi2": chi2 / n_good if n_good else float("nan"),
                "weight": frame.weight,
                "redshift": float(source.attrs.get("redshift", 0.0)),
            },
        )
    return out
