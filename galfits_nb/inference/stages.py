"""The staged workflow: imaging-only first, then images and spectra together.

GalfitS users fit a joint configuration in steps (the seed's "Workflow
Recommendation"): stage 1 fits the images alone (the atlas spectra switched
off, :func:`galfits_nb.config.stages.imaging_stage`) to settle the
structure; stage 2 fits images and spectra together, started from stage 1's
spatial parameters (:func:`galfits_nb.config.stages.spatial_names`). One
call, :func:`staged_fit`, runs both and returns both results.
"""

from __future__ import annotations

from typing import NamedTuple

import xarray as xr

from galfits_nb.config.spec import Config
from galfits_nb.config.stages import carry_values, imaging_stage, spatial_names
from galfits_nb.inference.fit import FitResult, fit_images
from galfits_nb.inference.parameters import ParameterTable, build_parameter_table

__all__ = ["StagedResult", "staged_fit", "CARRY_CHOICES"]

CARRY_CHOICES = ("all", "spatial")
"""What stage 2 takes from stage 1: every parameter both stages share, or
the spatial parameters only (the seed's manual recipe)."""


class StagedResult(NamedTuple):
    """Both stages of a staged fit.

    Attributes
    ----------
    imaging : FitResult
        Stage 1, images only.
    joint : FitResult
        Stage 2, images and spectra (None when stage 1 was interrupted).
    """

    imaging: FitResult
    joint: FitResult | None


def staged_fit(
    config: Config,
    tree: xr.DataTree,
    table: ParameterTable | None = None,
    *,
    carry: str = "all",
    stage1_options: dict | None = None,
    **options,
) -> StagedResult:
    """Fit the images alone, then images and spectra from there.

    Parameters
    ----------
    config : Config
        A joint configuration (atlases with images and spectra).
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`.
    table : ParameterTable, optional
        Start values (default ``build_parameter_table(config)``).
    carry : str
        ``all`` (default) or ``spatial`` (:data:`CARRY_CHOICES`).
    stage1_options : dict, optional
        Keyword arguments of :func:`~galfits_nb.inference.fit.fit_images` for
        stage 1 only (e.g. fewer steps); ``options`` apply to both stages.
    **options
        Keyword arguments of :func:`~galfits_nb.inference.fit.fit_images`.

    Returns
    -------
    StagedResult
        Stage 2 is skipped (None) when stage 1 was interrupted.

    Raises
    ------
    ValueError
        An unknown ``carry``.
    """
    if carry not in CARRY_CHOICES:
        raise ValueError(f"carry: expected one of {CARRY_CHOICES}, found {carry!r}")
    table = build_parameter_table(config) if table is None else table
    first = imaging_stage(config)
    first_options = {**options, **(stage1_options or {})}
    first_options.pop("weight_spec", None)
    stage1 = fit_images(first, tree, carry_values(build_parameter_table(first), table), spectra=False, **first_options)
    if stage1.interrupted:
        return StagedResult(stage1, None)
    names = spatial_names(config) if carry == "spatial" else None
    start = carry_values(table, stage1.table, names)
    stage2 = fit_images(config, tree, start, **options)
    return StagedResult(stage1, stage2)
