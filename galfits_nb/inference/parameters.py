"""One parameter table for the whole fit, and its bounded <-> free transform.

Every parameter has a GalfitS-style name, a value, bounds, a step, a vary flag
and an optional tie expression. The ``.params`` file, the optimizers, the
samplers and the notebook editor all read and write this one table.

Names (what :func:`build_parameter_table` produces from a config):

==========================  =================================================
``<comp>_xcen``/``_ycen``   P3/P4 (profiles, nuclei, stars), arcsec
``<comp>_Re``, ``_n``, ...  spatial keys of the profile type (spec.PROFILE_SHAPE_KEYS)
``logM_<comp>``             P14 log stellar mass [Msun]
``<comp>_<sed>_value``      single-entry SED lists (``bulge_age_value``,
                            ``bulge_Z_value``, ``bulge_Av_value``, ``bulge_logfrac_value``)
``<comp>_<sed>_bin<k>``     SED lists with several entries (``bins`` SFH)
``<comp>_sigma``, ...       other SED parameters (velocity dispersion, logU, bump, dust)
``z_<galaxy>``              G3 redshift (``z_<nucleus>`` for N2 in the full layout)
``specnorm_<galaxy>``       G5 spectrum normalisation
``sky_<band>``              uniform sky (``sky_<band>_<k>`` for polynomial coefficients)
``csx_<band>``/``csy_<band>``  relative shift in pixels (only when I13 = 1)
``logNorm_<comp>_<band>``   log10 of the component's total flux in image units,
                            photometry mode (I15 = 0)
==========================  =================================================

When two images share a band name the suffix becomes ``<band>_<letter>``.
With A4 = 1 (linked shifts) every shift of an atlas is tied to the shifts of
its first image that allows shifting.

The free transform maps a bounded value ``x`` in ``(lo, hi)`` to
``u = logit((x - lo) / (hi - lo))``; samplers add the log-Jacobian
``log(hi - lo) + log s(u) + log(1 - s(u))`` (``s`` the logistic function).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from galfits_nb.config.companions import (
    ParamRow,
    check_ties,
    evaluate_tie,
    read_params,
    write_params,
)
from galfits_nb.config.spec import Config, Param
from galfits_nb.errors import ConfigError

__all__ = ["ParameterTable", "build_parameter_table", "band_labels", "bound_distance", "logistic_log_abs_det_jacobian"]


@dataclass(frozen=True)
class ParameterTable:
    """An immutable, ordered table of :class:`ParamRow`.

    Attributes
    ----------
    rows : tuple of ParamRow
        One row per parameter, in a stable order.
    """

    rows: tuple[ParamRow, ...]
    _tie_order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for row in self.rows:
            if row.name in seen:
                raise ConfigError(f"parameter name {row.name!r} appears twice; give components distinct names")
            seen.add(row.name)
        # Tied parameters in an order where each follows the ties it uses.
        object.__setattr__(self, "_tie_order", check_ties(self.rows))

    # ---- look-up -----------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """All parameter names."""
        return tuple(row.name for row in self.rows)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the parameters a fit moves (vary and not tied)."""
        return tuple(row.name for row in self.rows if row.vary and row.tie is None)

    def __getitem__(self, name: str) -> ParamRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(row.name == name for row in self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def values(self) -> dict[str, float]:
        """All values by name, ties evaluated."""
        return self.resolve({})

    # ---- editing (each returns a new table) --------------------------
    def with_values(self, values: Mapping[str, float]) -> ParameterTable:
        """Return a table with new values (clipped to bounds, ties kept).

        Raises
        ------
        KeyError
            For a name the table does not have.
        """
        unknown = set(values) - set(self.names)
        if unknown:
            raise KeyError(f"unknown parameter(s): {sorted(unknown)}")
        rows = tuple(
            replace(row, value=float(min(max(values[row.name], row.min), row.max))) if row.name in values else row
            for row in self.rows
        )
        return ParameterTable(rows)

    def with_rows(self, updates: Sequence[ParamRow], source: str = "<rows>") -> ParameterTable:
        """Replace rows by name (``--readpar``): value, bounds, step, vary, tie.

        Parameters
        ----------
        updates : sequence of ParamRow
            Rows read from a ``.params`` file.
        source : str
            The file they came from, for messages.

        Raises
        ------
        ConfigError
            A row names a parameter the configuration does not define.
        """
        by_name = {row.name: row for row in updates}
        unknown = sorted(set(by_name) - set(self.names))
        if unknown:
            raise ConfigError(
                "parameters not defined by the configuration",
                file=source,
                expected=f"names such as {', '.join(self.names[:4])}",
                found=", ".join(unknown),
            )
        return ParameterTable(tuple(by_name.get(row.name, row) for row in self.rows))

    def read(self, path: str | os.PathLike) -> ParameterTable:
        """Return this table updated from a ``.params`` file."""
        return self.with_rows(read_params(path), source=str(path))

    def write(self, path: str | os.PathLike) -> Path:
        """Write the table as a ``.params`` file (atomically)."""
        write_params(self.rows, path)
        return Path(path)

    # ---- free vector <-> values --------------------------------------
    def resolve(self, free: Mapping[str, object]) -> dict[str, object]:
        """Values of every parameter given the free ones; ties evaluated.

        Parameters
        ----------
        free : mapping of str to float or jax array
            Values of (some of) the free parameters; the others keep the
            table's value.

        Returns
        -------
        dict of str to float or array
            Every parameter, in table order. Works inside ``jax.jit``: tie
            expressions use only arithmetic on the values.
        """
        values: dict[str, object] = {
            row.name: free.get(row.name, row.value) if row.tie is None else None for row in self.rows
        }
        for name in self._tie_order:
            values[name] = evaluate_tie(self[name].tie, values)
        return values

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the free parameters, arrays of shape (n_free,)."""
        free = [self[name] for name in self.free_names]
        return np.array([r.min for r in free]), np.array([r.max for r in free])

    def free_vector(self) -> np.ndarray:
        """Current values of the free parameters, shape (n_free,)."""
        return np.array([self[name].value for name in self.free_names], dtype=float)

    def to_unconstrained(self, x=None):
        """Map free values inside their bounds to the real line.

        Parameters
        ----------
        x : array of shape (n_free,), optional
            Free values; default the table's.

        Returns
        -------
        array of shape (n_free,)
            ``logit((x - lo) / (hi - lo))``; values on a bound are moved
            1e-9 of the range inside it.
        """
        xp = _array_module(x)
        lo, hi = self.bounds()
        x = self.free_vector() if x is None else x
        frac = xp.clip((x - lo) / (hi - lo), 1e-9, 1 - 1e-9)
        return xp.log(frac) - xp.log1p(-frac)

    def from_unconstrained(self, u):
        """Inverse of :meth:`to_unconstrained`: free values of shape (n_free,)."""
        xp = _array_module(u)
        lo, hi = self.bounds()
        return lo + (hi - lo) / (1 + xp.exp(-u))

    def log_abs_det_jacobian(self, u):
        """``log |dx/du|`` summed over free parameters (for samplers)."""
        lo, hi = self.bounds()
        return logistic_log_abs_det_jacobian(u, lo, hi)

    def unpack(self, x) -> dict[str, object]:
        """All parameter values from a free vector ``x`` of shape (n_free,)."""
        return self.resolve({name: x[i] for i, name in enumerate(self.free_names)})

    def with_free_vector(self, x) -> ParameterTable:
        """A new table whose free values are ``x`` (shape (n_free,))."""
        x = np.asarray(x, dtype=float)
        return self.with_values(dict(zip(self.free_names, x.tolist())))


def logistic_log_abs_det_jacobian(u, lower, upper):
    """``sum log |dx/du|`` of ``x = lower + (upper - lower) sigmoid(u)``; numpy or JAX.

    Written with ``log s = -log(1 + e^-u)`` and ``log(1 - s) = -log(1 + e^u)``
    so that it stays finite far in the logistic tails.

    Parameters
    ----------
    u : array of shape (n_free,)
        Unconstrained vector.
    lower, upper : arrays of shape (n_free,)
        Bounds.

    Returns
    -------
    scalar
    """
    xp = _array_module(u)
    return xp.sum(xp.log(upper - lower) - xp.logaddexp(0.0, -u) - xp.logaddexp(0.0, u))


def bound_distance(x, lower, upper) -> np.ndarray:
    """Distance of each value to its nearer bound, as a fraction of its range.

    What the fitters compare with a margin: a start closer than the margin
    is moved inside (``optimize.start_inside_bounds``), a best value as
    close is reported as at a bound (``fit.at_bounds``).

    Parameters
    ----------
    x, lower, upper : array-likes of one shape
        Values and their bounds (``upper > lower``).

    Returns
    -------
    ndarray
        ``min(x - lower, upper - x) / (upper - lower)``; 0 on a bound,
        0.5 in the middle, negative outside.
    """
    x, lower, upper = (np.asarray(a, dtype=float) for a in (x, lower, upper))
    return np.minimum(x - lower, upper - x) / (upper - lower)


def _array_module(x):
    if x is not None and type(x).__module__.startswith("jax"):
        import jax.numpy as jnp

        return jnp
    return np


def band_labels(config: Config) -> dict[str, str]:
    """Parameter-name suffix of every image: its band, or ``<band>_<letter>``.

    Returns
    -------
    dict of str to str
        Image letter -> suffix.
    """
    counts: dict[str, int] = {}
    for image in config.images:
        counts[image.band] = counts.get(image.band, 0) + 1
    return {im.letter: im.band if counts[im.band] == 1 else f"{im.band}_{im.letter}" for im in config.images}


def _row(name: str, p: Param, tie: str | None = None) -> ParamRow:
    return ParamRow(name, p.value, p.min, p.max, p.step, p.vary, tie)


def _list_rows(prefix: str, suffix: str, params: tuple[Param, ...]) -> list[ParamRow]:
    if len(params) == 1:
        return [_row(f"{prefix}_{suffix}_value", params[0])]
    return [_row(f"{prefix}_{suffix}_bin{k}", p) for k, p in enumerate(params)]


def build_parameter_table(config: Config) -> ParameterTable:
    """Build the parameter table that a configuration defines.

    Parameters
    ----------
    config : Config

    Returns
    -------
    ParameterTable
        Rows in the order: galaxies, profiles, nuclei, stars, images.

    Raises
    ------
    ConfigError
        Two components with the same name.
    """
    from galfits_nb.models.agn import agn_parameter_rows  # models import this module
    from galfits_nb.models.spectrum_scene import galaxy_line_rows

    rows: list[ParamRow] = []
    for galaxy in config.galaxies:
        rows.append(_row(f"z_{galaxy.name}", galaxy.redshift))
        rows.append(_row(f"specnorm_{galaxy.name}", galaxy.spec_norm))
        try:
            rows += galaxy_line_rows(galaxy)
        except ConfigError as err:
            raise _located(config, err, f"G{galaxy.letter}6") from None
    components: list[str] = []
    for profile in config.profiles:
        name = profile.name
        components.append(name)
        rows += [_row(f"{name}_xcen", profile.xcen), _row(f"{name}_ycen", profile.ycen)]
        rows += [_row(f"{name}_{key}", p) for key, p in profile.shape]
        if profile.sed is not None:
            for key, value in profile.sed.params:
                if key == "logM":
                    rows.append(_row(f"logM_{name}", value))
                elif key == "age" and profile.sed.sfh == "bins":
                    continue  # bin edges, not parameters
                elif isinstance(value, tuple):
                    rows += _list_rows(name, key, value)
                else:
                    rows.append(_row(f"{name}_{key}", value))
    for nucleus in config.nuclei:
        name = nucleus.name
        components.append(name)
        for key, value in nucleus.params:
            if key == "z":
                rows.append(_row(f"z_{name}", value))
            elif key == "alpha":
                rows += [_row(f"{name}_alpha{k + 1}", p) for k, p in enumerate(value)]
            elif key == "logLhotdust":
                rows.append(_row(f"{name}_logLhotdust", value[0]))
                if len(value) > 1:
                    rows.append(_row(f"{name}_Thotdust", value[1]))
            else:
                rows.append(_row(f"{name}_{key}", value))
        try:
            rows += agn_parameter_rows(nucleus)
        except ConfigError as err:
            if err.found != "nothing":
                raise _located(config, err, f"N{nucleus.letter}1") from None
            # A nucleus without its AGN keys (a missing key: found "nothing")
            # can still be a point source with free fluxes; a spectrum or an
            # SED-mode image that needs its model raises when it is built.
    for star in config.stars:
        components.append(star.name)
        rows += [_row(f"{star.name}_{key}", p) for key, p in star.params]
    rows += _image_rows(config, components)
    return ParameterTable(tuple(rows))


def _located(config: Config, err: ConfigError, default_key: str) -> ConfigError:
    """``err`` with the config file and the line of its key (or ``default_key``)."""
    key = err.key or default_key
    file = Path(config.path).name if config.path else None
    return ConfigError(err.detail, file=file, line=config.line_of(key), key=key, expected=err.expected, found=err.found)


def _image_rows(config: Config, components: list[str]) -> list[ParamRow]:
    labels = band_labels(config)
    link_to: dict[str, str] = {}
    for atlas in config.atlases:
        if not atlas.link_shifts:
            continue
        shifting = [letter for letter in atlas.images if config.image(letter).allow_shift]
        for letter in shifting[1:]:
            link_to[letter] = labels[shifting[0]]
    rows: list[ParamRow] = []
    for image in config.images:
        band = labels[image.letter]
        if image.sky_model == "uniform":
            rows.append(_row(f"sky_{band}", image.sky[0]))
        else:
            rows += [_row(f"sky_{band}_{k}", p) for k, p in enumerate(image.sky)]
        if image.allow_shift:
            leader = link_to.get(image.letter)
            rows.append(_row(f"csx_{band}", image.shift[0], f"1*csx_{leader}" if leader else None))
            rows.append(_row(f"csy_{band}", image.shift[1], f"1*csy_{leader}" if leader else None))
        if not image.use_sed:
            for component in components:
                # Start value: refined from the data by the fit builder.
                rows.append(ParamRow(f"logNorm_{component}_{band}", 0.0, -10.0, 10.0, 0.1, True, None))
    return rows
