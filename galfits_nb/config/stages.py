"""Derived configurations for the stages of a fit.

Users stage the work: an imaging-only fit in photometry mode (a free flux per
component and band) to settle the structure, then the joint fit started from
it. :func:`photometry_stage` derives the first stage's configuration from the
joint one, so both read the same file and share parameter names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from galfits_nb.config.spec import AtlasSpec, Config
from galfits_nb.errors import ConfigError

__all__ = ["photometry_stage", "imaging_stage", "spatial_names", "carry_values"]


def photometry_stage(config: Config, atlases: Iterable[str] | None = None) -> Config:
    """The imaging-only, photometry-mode (``I15 = 0``) version of a configuration.

    Parameters
    ----------
    config : Config
        Any configuration.
    atlases : iterable of str, optional
        Names (A1) of the image atlases to keep; default all. Images outside
        the kept atlases are dropped.

    Returns
    -------
    Config
        Same region, profiles, nuclei, stars and galaxies; the kept images with
        ``use_sed = False``; atlases without spectra (A5, A6, A7 emptied); no
        spectra.

    Raises
    ------
    ConfigError
        An atlas name the configuration does not define.
    """
    kept: tuple[AtlasSpec, ...] = config.atlases
    if atlases is not None:
        wanted = list(atlases)
        names = [atlas.name for atlas in config.atlases]
        for name in wanted:
            if name not in names:
                raise ConfigError(
                    f"no image atlas named {name!r}; the configuration defines {', '.join(names) or 'none'}",
                    file=config.path or None,
                    key="A1",
                )
        kept = tuple(atlas for atlas in config.atlases if atlas.name in wanted)
        letters = {letter for atlas in kept for letter in atlas.images}
        images = tuple(image for image in config.images if image.letter in letters)
    else:
        images = config.images
    return replace(
        config,
        images=tuple(replace(image, use_sed=False) for image in images),
        spectra=(),
        atlases=tuple(replace(atlas, spectra=(), apertures=(), reference=()) for atlas in kept),
    )


def imaging_stage(config: Config) -> Config:
    """The imaging-only version of a joint configuration: its spectra switched off.

    The seed's first step ("set ``Aa5) []`` to exclude the spectrum"): images
    keep their mode (SED or photometry), atlases lose A5-A7 and the S blocks
    are dropped.
    """
    return replace(
        config,
        spectra=(),
        atlases=tuple(replace(atlas, spectra=(), apertures=(), reference=()) for atlas in config.atlases),
    )


def spatial_names(config: Config) -> tuple[str, ...]:
    """Names of the spatial parameters of a configuration (what the seed carries from stage 1).

    Centres and shapes of the profiles (P3-P8 and the other shape keys), of
    the nuclei (N4/N5, or the seed layout's N2-N7) and of the stars (F2/F3),
    plus the images' sky and shift parameters.
    """
    from galfits_nb.inference.parameters import band_labels
    from galfits_nb.models.scene import imaging_components

    names: dict[str, None] = {}
    for component in imaging_components(config):
        names.update(dict.fromkeys(name for _, name in component.params))
    labels = band_labels(config)
    for image in config.images:
        band = labels[image.letter]
        if image.sky_model == "uniform":
            names[f"sky_{band}"] = None
        else:
            names.update(dict.fromkeys(f"sky_{band}_{k}" for k in range(len(image.sky))))
        if image.allow_shift:
            names.update(dict.fromkeys((f"csx_{band}", f"csy_{band}")))
    return tuple(names)


def carry_values(target, source, names=None):
    """``target`` (a ParameterTable) with the values of the parameters it shares with ``source``.

    Parameters
    ----------
    target : ParameterTable
        The next stage's table (e.g. ``build_parameter_table(stage_config)``).
    source : ParameterTable
        The previous stage's best table, or any table with start values.
    names : collection of str, optional
        Carry only these (e.g. :func:`spatial_names`); default every shared one.

    Returns
    -------
    ParameterTable
        Bounds, vary flags and ties of ``target``; values of every untied
        parameter both tables name taken from ``source``. Parameters only one
        stage has (``logNorm_*`` of photometry mode, ``logM_*`` and SED
        parameters of SED mode) keep ``target``'s values.
    """
    shared = {
        name: source[name].value
        for name in target.names
        if name in source and target[name].tie is None and (names is None or name in names)
    }
    return target.with_values(shared) if shared else target
