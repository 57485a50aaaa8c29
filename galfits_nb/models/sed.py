"""The rest-frame SED of one galaxy component: stars, nebular gas, dust.

:func:`component_sed` composes the templates of :mod:`galfits_nb.models.ssp`
for one star-formation history (:mod:`galfits_nb.models.sfh`), metallicity,
attenuation and dust emission, normalised to the component's stellar mass.

Physics and conventions
-----------------------
* **Mass.** P14 is log10 of the mass in *living* stars (remnants excluded),
  the quantity Bagpipes reports as ``stellar_mass`` (Carnall et al. 2018,
  MNRAS 480, 4379). The formed mass is P14 divided by the SFH's living
  fraction at the component's metallicity.
* **Birth clouds.** Stars younger than :data:`BIRTH_CLOUD_AGE_YR` (10 Myr)
  ionise their surroundings: with the nebular part on, their stellar light
  below 912 A is removed (no ionising photons escape) and the Cloudy
  nebular continuum and lines of that population are added (both lit by
  the same populations, so energy is conserved). Only this young part
  feeds the nebular grids, the split Charlot & Fall (2000, ApJ 539, 718)
  introduced and Bagpipes uses by default.
* **Attenuation.** One curve for every part (stars, nebular continuum and
  lines): Calzetti et al. (2000) with a Drude bump of amplitude P26
  (:func:`galfits_nb.models.dust.dust_transmission`), ``A_V`` = P12.
* **Dust emission** (Draine & Li 2007, ApJ 657, 810): either the dust mass
  P28 sets its luminosity (GalfitS's parameterisation) or, with energy
  balance, the luminosity the attenuation removed (da Cunha et al. 2008,
  MNRAS 388, 1595). Its shape comes from Umin (P29), q_PAH (P30) and the
  illuminated fraction gamma (P32). The shipped grids have the power-law
  slope of U fixed at 2, so P31 is not used.
* **P27 parts**: 0 everything, 1 stars only, 2 nebular only, 3 dust
  emission only; any other value is treated as 0 (docs/config.md).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from galfits_nb.models import dust as dust_model
from galfits_nb.models.sfh import SFHPieces, clip_pieces
from galfits_nb.models.ssp import (
    Templates,
    binned_weights,
    bracket,
    living_mass,
    metallicity_pair,
    single_age_weights,
    ssp_weights,
)

__all__ = [
    "BIRTH_CLOUD_AGE_YR",
    "LYMAN_LIMIT_A",
    "SEDParts",
    "sed_parts",
    "SEDInputs",
    "ComponentSED",
    "ionising_pixels",
    "sfh_weights",
    "nebular_bin_masses",
    "component_sed",
    "component_sed_program",
]

BIRTH_CLOUD_AGE_YR = 1e7
"""Age below which stars ionise their birth clouds [yr]."""

LYMAN_LIMIT_A = 911.8
"""Hydrogen ionisation edge [A]."""


class SEDParts(NamedTuple):
    """Which parts of an SED are on (static).

    Attributes
    ----------
    stellar, nebular, dust_emission : bool
    energy_balance : bool
        Dust-emission luminosity from the absorbed light instead of P28.
    """

    stellar: bool = True
    nebular: bool = True
    dust_emission: bool = True
    energy_balance: bool = False


def sed_parts(p27: int, energy_balance: bool = False) -> SEDParts:
    """The parts P27 switches on (0 full, 1 stellar, 2 nebular, 3 dust; else full)."""
    table = {1: (True, False, False), 2: (False, True, False), 3: (False, False, True)}
    stellar, nebular, dust = table.get(int(p27), (True, True, True))
    return SEDParts(stellar, nebular, dust, bool(energy_balance))


class SEDInputs(NamedTuple):
    """The SED parameters of one component (scalar arrays).

    Attributes
    ----------
    log_mass : P14, log10 living stellar mass [M_sun]
    log_z : log10 of P11, the metallicity Z (0.02 = solar)
    av : P12, V-band attenuation [mag]
    bump : P26, 2175 A bump amplitude
    log_u : P16, log10 ionisation parameter
    log_dust_mass : P28, log10 dust mass [M_sun]
    umin : P29
    qpah : P30 [%]
    gamma : P32
    """

    log_mass: jax.Array
    log_z: jax.Array
    av: jax.Array
    bump: jax.Array
    log_u: jax.Array
    log_dust_mass: jax.Array
    umin: jax.Array
    qpah: jax.Array
    gamma: jax.Array


class ComponentSED(NamedTuple):
    """A component's rest-frame emission.

    Attributes
    ----------
    continuum : array of shape (n_wave,)
        Luminosity density [L_sun/A] on the template grid, attenuated, dust
        emission included.
    lines : array of shape (n_line,)
        Attenuated nebular line luminosities [L_sun] (Cloudy's line list).
    formed_mass, living_mass : scalar arrays [M_sun]
    absorbed : scalar array
        Luminosity removed by attenuation [L_sun].
    """

    continuum: jax.Array
    lines: jax.Array
    formed_mass: jax.Array
    living_mass: jax.Array
    absorbed: jax.Array


def ionising_pixels(wavelength) -> int:
    """Number of template pixels below the Lyman limit (a concrete grid)."""
    import numpy as np

    return int(np.count_nonzero(np.asarray(wavelength) < LYMAN_LIMIT_A))


def sfh_weights(pieces: SFHPieces, grid_age_yr: jax.Array) -> jax.Array:
    """Formed mass per native SSP age of an SFH, shape (n_age,), summing to the SFH's mass."""
    return ssp_weights(pieces.edges_yr, pieces.sfr, grid_age_yr) + single_age_weights(
        pieces.single_age_yr, pieces.single_mass, grid_age_yr
    )


def nebular_bin_masses(young: SFHPieces, age_edges_yr: jax.Array) -> jax.Array:
    """Mass formed inside each nebular age bin by the young part of an SFH.

    Parameters
    ----------
    young : SFHPieces
        The SFH already clipped to the birth-cloud age (:func:`clip_pieces`).
    age_edges_yr : array of shape (n_bin + 1,)
        ``templates.nebular.age_edges``.

    Returns
    -------
    array of shape (n_bin,) [fraction of the formed mass]
    """
    edges = jnp.asarray(age_edges_yr)
    stretches = binned_weights(young.edges_yr, young.sfr, edges)
    index = jnp.clip(jnp.searchsorted(edges, young.single_age_yr, side="right") - 1, 0, edges.size - 2)
    single = young.single_mass * jax.nn.one_hot(index, edges.size - 1, dtype=stretches.dtype)
    return stretches + single


def component_sed(
    templates: Templates,
    pieces: SFHPieces,
    inputs: SEDInputs,
    parts: SEDParts = SEDParts(),
    n_ionising: int | None = None,
) -> ComponentSED:
    """Rest-frame SED of one component (module docstring).

    Parameters
    ----------
    templates : Templates
        From :func:`galfits_nb.models.ssp.load_templates` (pass as a jit
        argument).
    pieces : SFHPieces
        Per unit formed mass (:mod:`galfits_nb.models.sfh`).
    inputs : SEDInputs
    parts : SEDParts
        Static.
    n_ionising : int, optional
        Number of template pixels below 912 A (static); computed from the
        wavelengths when they are concrete (outside ``jit``).

    Returns
    -------
    ComponentSED
    """
    stellar_t = templates.stellar
    wavelength = jnp.asarray(stellar_t.wavelength)
    ages = jnp.asarray(stellar_t.age)
    weights = sfh_weights(pieces, ages)
    living_per_formed = living_mass(stellar_t, weights, inputs.log_z)
    formed = 10.0 ** inputs.log_mass / living_per_formed
    ssp, z_weights = metallicity_pair(stellar_t, inputs.log_z)  # (2, n_age, n_wave)
    stars = jnp.tensordot(z_weights[:, None] * weights[None, :], ssp, axes=2)

    zero_wave = jnp.zeros_like(wavelength)
    nebular_continuum = zero_wave
    lines = jnp.zeros(templates.nebular.line_wavelength.shape, dtype=wavelength.dtype)
    if parts.nebular:
        young = clip_pieces(pieces, BIRTH_CLOUD_AGE_YR)
        n_ion = ionising_pixels(stellar_t.wavelength) if n_ionising is None else int(n_ionising)
        young_weights = sfh_weights(young, ages)
        ionising = jnp.tensordot(z_weights[:, None] * young_weights[None, :], ssp[:, :, :n_ion], axes=2)
        stars = stars.at[:n_ion].add(-ionising)
        neb = templates.nebular
        masses = nebular_bin_masses(young, neb.age_edges)
        # The two metallicities and two log U values that bracket the
        # component's (see ssp.metallicity_pair: only they are read).
        jz, nz = bracket(inputs.log_z, jnp.log10(jnp.asarray(neb.metallicity)))
        ju, nu = bracket(jnp.asarray(inputs.log_u, dtype=wavelength.dtype), jnp.asarray(neb.log_u))
        mix = nz[:, None, None] * nu[None, :, None] * masses[None, None, :]

        def corner(table):
            table = jnp.asarray(table)
            return jax.lax.dynamic_slice(table, (jz, ju, 0, 0), (2, 2, *table.shape[2:]))

        nebular_continuum = jnp.tensordot(mix, corner(neb.continuum), axes=3)
        lines = jnp.tensordot(mix, corner(neb.lines), axes=3)
    if not parts.stellar:
        stars = zero_wave

    transmission = dust_model.dust_transmission(wavelength, inputs.av, inputs.bump)
    line_transmission = dust_model.dust_transmission(
        jnp.asarray(templates.nebular.line_wavelength), inputs.av, inputs.bump
    )
    intrinsic = stars + nebular_continuum
    attenuated = intrinsic * transmission
    lines_out = lines * line_transmission
    absorbed = dust_model.absorbed_luminosity(stellar_t.wavelength_edges, intrinsic, transmission) + jnp.sum(
        lines * (1.0 - line_transmission)
    )
    if not parts.nebular:
        lines_out = jnp.zeros_like(lines_out)

    continuum = attenuated if (parts.stellar or parts.nebular) else zero_wave
    if parts.dust_emission:
        if parts.energy_balance:
            shape = dust_model.dust_emission_shape(templates.dust, inputs.qpah, inputs.umin, inputs.gamma)
            continuum = continuum + absorbed * shape
        else:
            # per unit formed mass, like the rest: divide the dust luminosity by the formed mass
            emission = dust_model.dust_emission_luminosity(
                templates.dust, inputs.log_dust_mass, inputs.qpah, inputs.umin, inputs.gamma
            )
            continuum = continuum + emission / formed
    return ComponentSED(
        continuum=formed * continuum,
        lines=formed * lines_out,
        formed_mass=formed,
        living_mass=formed * living_per_formed,
        absorbed=formed * absorbed,
    )


component_sed_program = jax.jit(component_sed, static_argnames=("parts", "n_ionising"))
""":func:`component_sed` as a program of its own (``parts`` and ``n_ionising`` static).

Called inside a larger traced function, components with the same parts and
SFH layout share one trace: the bulge and disk of the J0056 quickstart
trace the SED model once instead of twice.
"""
