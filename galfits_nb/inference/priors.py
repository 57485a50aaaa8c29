"""Priors of a ``--priorpath`` file as extra residuals of the fit.

Each prior is a Gaussian in some function of the parameters, so it enters
the least-squares problem as one more weighted residual
``(f(parameters) - mean) / scatter`` next to the pixels (Levenberg-Marquardt
and the optax fitters minimise ``chi^2 + sum of squared prior residuals``,
i.e. ``-2 log posterior`` up to a constant). The residuals are pixel-free,
so their Jacobian costs nothing next to the images'.

Families (file syntax: :mod:`galfits_nb.config.companions`)
----------------------------------------------------------
* ``GP``: ``(x - mean) / sigma``. A bare name takes the start value as mean;
  a missing width is a tenth of the parameter's range (decision: GalfitS
  leaves it to "the likelihood" without saying how wide).
* ``MSR`` (van der Wel et al. 2014): ``log10(Re / kpc) = logA + alpha
  (logM - pivot)``, with Re converted from arcsec at the galaxy's redshift
  (angular-diameter distance, the fit's cosmology, Planck 2018 by default).
* ``MMR`` (Kewley & Ellison 2008): ``12 + log(O/H)`` of the relation against
  the model's ``8.69 + log10(Z / 0.02)`` (solar O/H of Asplund et al. 2009,
  ARA&A 47, 481, at BC03's Z_sun = 0.02).
* ``AGN``: ``log M_BH`` vs the host's ``logM`` (AGNx3); the total broad
  H-alpha / H-beta and narrow [O III] 5007 luminosities (log erg/s, the
  model's line parametrisation) vs ``log L5100`` (AGNx4/5/8); further broad
  and narrow lines as log ratios to broad H-beta / narrow [O III] (AGNx6/7,
  AGNx9/10) and ``R_FeII`` (AGNx12) with 0.2 dex scatter (decision: the file
  gives none); AGNx11 holds the nucleus on a profile's centre within 0.01".
* A scatter of 0 ("exact") is taken as 1e-3 in the residual's unit; a
  negative scatter switches the relation off (the file's sign rule).
* ``SFH`` priors on ``bins`` are read but not applied (a warning says so).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from galfits_nb.config.companions import PriorSpec
from galfits_nb.config.spec import Config
from galfits_nb.errors import ConfigError

__all__ = ["PriorTerm", "Priors", "build_priors", "prior_residuals", "prior_parameter_names"]

_EXACT = 1e-3
_RATIO_SCATTER_DEX = 0.2
_CENTRE_SCATTER_ARCSEC = 0.01
_SOLAR_OH = 8.69
_SOLAR_Z = 0.02


class PriorTerm(NamedTuple):
    """One prior residual; static and hashable.

    Attributes
    ----------
    kind : str
        ``value`` (x), ``mass_size``, ``mass_metallicity``, ``linear``
        (y - (a + b x)), ``log_sum`` (log10 sum 10**names), ``ratio``.
    names : tuple of tuple of str
        Parameter-name groups the function reads (meaning per kind).
    constants : tuple of float
        Means, slopes, scale factors and the scatter (last).
    label : str
        For messages and summaries.
    """

    kind: str
    names: tuple[tuple[str, ...], ...]
    constants: tuple[float, ...]
    label: str


@dataclass(frozen=True)
class Priors:
    """The prior terms of a fit; a static-only JAX pytree."""

    terms: tuple[PriorTerm, ...] = ()


jax.tree_util.register_dataclass(Priors, data_fields=[], meta_fields=["terms"])


def _log_sum(values: dict[str, jax.Array], names: tuple[str, ...]) -> jax.Array:
    """``log10(sum 10**x)`` of log luminosities (a single name: the value itself)."""
    if len(names) == 1:
        return values[names[0]]
    shift = 40.0  # log L ~ 36-46: keep 10**(x - shift) inside float32
    return jnp.log10(sum(10.0 ** (values[n] - shift) for n in names)) + shift


def _term_value(values: dict[str, jax.Array], term: PriorTerm) -> jax.Array:
    c = term.constants
    if term.kind == "value":
        return (values[term.names[0][0]] - c[0]) / c[-1]
    if term.kind == "mass_size":
        (re_name,), (logm_name,) = term.names
        intercept, slope, pivot, kpc_per_arcsec, scatter = c
        log_re = jnp.log10(values[re_name] * kpc_per_arcsec)
        return (log_re - (intercept + slope * (values[logm_name] - pivot))) / scatter
    if term.kind == "mass_metallicity":
        (z_name,), (logm_name,) = term.names
        a0, a1, a2, a3, scatter = c
        x = values[logm_name]
        relation = a0 + x * (a1 + x * (a2 + x * a3))
        model = _SOLAR_OH + jnp.log10(values[z_name] / _SOLAR_Z)
        return (model - relation) / scatter
    if term.kind == "linear":
        y_names, x_names = term.names
        intercept, slope, scatter = c
        return (_log_sum(values, y_names) - (intercept + slope * _log_sum(values, x_names))) / scatter
    if term.kind == "ratio":
        top, bottom = term.names
        log_ratio, scatter = c
        return (_log_sum(values, top) - _log_sum(values, bottom) - log_ratio) / scatter
    raise ValueError(f"unknown prior kind {term.kind!r}")


def prior_residuals(values: dict[str, jax.Array], priors: Priors) -> jax.Array:
    """The prior residuals for parameter values, shape (n_terms,)."""
    if not priors.terms:
        return jnp.zeros((0,))
    return jnp.stack([jnp.asarray(_term_value(values, term)) for term in priors.terms])


def prior_parameter_names(priors: Priors) -> tuple[str, ...]:
    """Every parameter the priors read (static)."""
    return tuple(dict.fromkeys(n for term in priors.terms for group in term.names for n in group))


def _scatter(value: float) -> float | None:
    """The residual's scatter; None when the relation is switched off."""
    if value < 0:
        return None
    return value if value > 0 else _EXACT


def _profile_name(config: Config, reference: str) -> str:
    for profile in config.profiles:
        if reference in (profile.name, profile.letter):
            return profile.name
    raise ConfigError(f"prior names profile {reference!r}, which the configuration does not define")


def _galaxy_redshift(config: Config, profile: str) -> float:
    for galaxy in config.galaxies:
        for letter in galaxy.profiles:
            if config.profile(letter).name == profile:
                return float(galaxy.redshift.value)
    return float(config.region.redshift)


def _require(table, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if n not in table]
    if missing:
        raise ConfigError(f"{what}: the parameter table has no {', '.join(missing)}")


def build_priors(spec: PriorSpec, config: Config, table, cosmology=None) -> Priors:
    """The prior terms of a prior file for a configuration's parameter table.

    Parameters
    ----------
    spec : PriorSpec
        From :func:`galfits_nb.config.companions.read_priors`.
    config : Config
    table : ParameterTable
        Start values (bare GP names) and ranges (default GP widths).
    cosmology : astropy cosmology, optional
        For kpc per arcsec (default Planck 2018).

    Returns
    -------
    Priors

    Raises
    ------
    ConfigError
        A prior naming a profile or parameter the configuration lacks.
    """
    if cosmology is None:
        from astropy.cosmology import Planck18 as cosmology
    terms: list[PriorTerm] = []
    for prior in spec.gaussian:
        _require(table, (prior.name,), f"GP {prior.name}")
        row = table[prior.name]
        mean = row.value if prior.mean is None else float(prior.mean)
        sigma = (row.max - row.min) / 10.0 if prior.sigma is None else float(prior.sigma)
        terms.append(PriorTerm("value", ((prior.name,),), (mean, sigma), f"GP {prior.name}"))
    for prior in spec.mass_size:
        scatter = _scatter(prior.scatter_dex)
        if scatter is None:
            continue
        for reference in prior.profiles:
            name = _profile_name(config, reference)
            names = (f"{name}_Re", f"logM_{name}")
            _require(table, names, f"{prior.key} ({name})")
            z = _galaxy_redshift(config, name)
            kpc = float(cosmology.kpc_proper_per_arcmin(z).to_value("kpc / arcmin")) / 60.0
            constants = (prior.intercept, prior.slope, prior.pivot_logm, kpc, scatter)
            terms.append(PriorTerm("mass_size", ((names[0],), (names[1],)), constants, f"{prior.key} {name}"))
    for prior in spec.mass_metallicity:
        scatter = _scatter(prior.scatter_dex)
        if scatter is None:
            continue
        for reference in prior.profiles:
            name = _profile_name(config, reference)
            z_name = f"{name}_Z_value" if f"{name}_Z_value" in table else f"{name}_Z"
            _require(table, (z_name, f"logM_{name}"), f"{prior.key} ({name})")
            constants = (*prior.coefficients, scatter)
            terms.append(PriorTerm("mass_metallicity", ((z_name,), (f"logM_{name}",)), constants, f"{prior.key} {name}"))
    for prior in spec.agn:
        terms += _agn_terms(prior, config, table)
    if spec.sfh:
        warnings.warn(
            "SFH priors (SFHx) on bins are read but not applied in this version", UserWarning, stacklevel=2
        )
    return Priors(tuple(terms))


def _components(table, stem: str) -> tuple[str, ...]:
    """``<stem>1_logL``, ``<stem>2_logL``, ... present in the table."""
    names = []
    k = 1
    while f"{stem}{k}_logL" in table:
        names.append(f"{stem}{k}_logL")
        k += 1
    return tuple(names)


def _agn_terms(prior, config: Config, table) -> list[PriorTerm]:
    nucleus = prior.nucleus
    label = prior.key or f"AGN {nucleus}"
    terms: list[PriorTerm] = []

    def linear(y: tuple[str, ...], x: tuple[str, ...], relation, what: str) -> None:
        if relation is None or not relation.enabled or not y or not x:
            return
        _require(table, (*y, *x), f"{label} {what}")
        scatter = _scatter(relation.scatter_dex)
        terms.append(PriorTerm("linear", (y, x), (relation.intercept, relation.slope, scatter), f"{label} {what}"))

    if prior.host_profile:
        host = _profile_name(config, prior.host_profile)
        linear((f"{nucleus}_logMBH",), (f"logM_{host}",), prior.mbh_host, "M_BH - M*")
    l5100 = (f"{nucleus}_logL5100",)
    broad_hb = _components(table, f"{nucleus}_Hb_b")
    linear(_components(table, f"{nucleus}_Ha_b"), l5100, prior.broad_ha_l5100, "broad Ha - L5100")
    linear(broad_hb, l5100, prior.broad_hb_l5100, "broad Hb - L5100")
    oiii = _components(table, f"{nucleus}_OIII_5007_n")
    linear(oiii, l5100, prior.oiii_l5100, "[OIII] - L5100")
    for lines, ratios, base, kind in (
        (prior.broad_lines, prior.broad_line_ratios, broad_hb, "b"),
        (prior.narrow_lines, prior.narrow_line_ratios, oiii, "n"),
    ):
        for line, ratio in zip(lines, ratios):
            top = _components(table, f"{nucleus}_{line}_{kind}")
            if top and base and ratio > 0:
                terms.append(
                    PriorTerm("ratio", (top, base), (math.log10(ratio), _RATIO_SCATTER_DEX), f"{label} {line} ratio")
                )
    if prior.r_feii and f"{nucleus}_feii_logL" in table and broad_hb:
        terms.append(
            PriorTerm(
                "ratio", ((f"{nucleus}_feii_logL",), broad_hb), (math.log10(prior.r_feii), _RATIO_SCATTER_DEX),
                f"{label} R_FeII",
            )
        )
    if prior.centre_profile:
        host = _profile_name(config, prior.centre_profile)
        for axis in ("xcen", "ycen"):
            names = (f"{nucleus}_{axis}", f"{host}_{axis}")
            _require(table, names, f"{label} centre")
            terms.append(
                PriorTerm("linear", ((names[0],), (names[1],)), (0.0, 1.0, _CENTRE_SCATTER_ARCSEC), f"{label} {axis}")
            )
    return terms
