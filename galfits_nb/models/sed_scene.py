"""Band fluxes of every component in every SED-mode image (``I15 = 1``).

In an SED-mode image a component's flux is not a free parameter: it is the
band-mean flux density of the component's SED
(:func:`galfits_nb.models.sed.component_sed`) at the galaxy's redshift,
converted to image units. :func:`sed_log_fluxes` computes, for parameter
values, the ``logNorm_<component>_<band>`` entries that
:func:`galfits_nb.models.scene.render_band` reads, so the imaging code is
the same in both modes.

Observed frame
--------------
``f_lambda(lambda (1 + z)) = L_lambda(lambda) / (4 pi D_L^2 (1 + z))`` for
the continuum and ``F = L / (4 pi D_L^2)`` for a line (Hogg 1999,
astro-ph/9905116), times the IGM transmission of Inoue et al. (2014)
and the Galactic extinction G4 (Fitzpatrick 1999, R_V = 3.1) at the observed
wavelength. ``D_L`` and the age of the universe (for ``conti``) come from
the cosmology (Planck 2018 by default).

Precomputation
--------------
With the redshift fixed, everything between the rest-frame template pixels
and the image value of a band is one matrix per galaxy: band weights
(:func:`galfits_nb.models.bands.pixel_weights`) times distance, IGM,
Galactic extinction and unit factors, ``(n_band, n_wave)`` for the
continuum and ``(n_band, n_line)`` for the lines. A step then costs the
component spectra plus two small matrix products. With the redshift free
the same matrices are computed inside the step from the tabulated filter
curves, distances and extinction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.config.spec import Config, ProfileSpec
from galfits_nb.data.filters import load_filter
from galfits_nb.errors import ConfigError
from galfits_nb.models import cosmology as cosmo
from galfits_nb.models import dust as dust_model
from galfits_nb.models import igm as igm_model
from galfits_nb.models.agn import agn_parameter_names, agn_spec, agn_spectrum, load_feii_template
from galfits_nb.models.bands import BandResponses, band_responses, image_unit_factor, line_weights, pixel_weights
from galfits_nb.models.sed import SEDInputs, SEDParts, component_sed_program, ionising_pixels, sed_parts
from galfits_nb.models.sfh import binned_sfh, burst_sfh, conti_sfh
from galfits_nb.models.ssp import L_SUN_ERG_S, Templates, load_templates
from galfits_nb.models.stars import star_flux_density

__all__ = [
    "SEDComponent",
    "SEDGalaxy",
    "SEDStar",
    "SEDNucleus",
    "GalaxyArrays",
    "SEDScene",
    "build_sed_scene",
    "sed_log_fluxes",
    "component_band_fluxes",
    "component_band_fluxes_compiled",
    "band_matrices",
    "sed_parameter_names",
    "component_spectra",
]

_CM_PER_MPC = 3.0856775814913673e24
_FLUX_FLOOR = 1e-30


class SEDComponent(NamedTuple):
    """Static description of one component with an SED.

    Attributes
    ----------
    name : str
        P1.
    sfh : str
        P15.
    bin_edges_gyr : tuple of float
        P10 for ``bins`` (empty otherwise).
    parts : SEDParts
    galaxy : int
        Index into :attr:`SEDScene.galaxies`.
    logfrac : tuple of str
        Parameter names of P9 (one, or one per bin).
    age : str
        Parameter name of P10 (``''`` for ``bins``).
    inputs : tuple of str
        Parameter names in :class:`~galfits_nb.models.sed.SEDInputs` order
        (log_mass, Z, Av, bump, logU, logMdust, Umin, qPAH, gamma); ``''``
        where the config gives none (then :data:`DEFAULTS` applies).
    """

    name: str
    sfh: str
    bin_edges_gyr: tuple[float, ...]
    parts: SEDParts
    galaxy: int
    logfrac: tuple[str, ...]
    age: str
    inputs: tuple[str, ...]


DEFAULTS = {"bump": 0.0, "logU": -2.0, "logMdust": 7.0, "Umin": 1.0, "qPAH": 2.5, "dl_gamma": 0.1}
"""Values of optional SED keys a profile leaves out."""

_INPUT_KEYS = ("logM", "Z", "Av", "bump", "logU", "logMdust", "Umin", "qPAH", "dl_gamma")


class SEDStar(NamedTuple):
    """Static description of a foreground star (F block) with a black-body SED.

    Attributes
    ----------
    name : str
        F1.
    teff, log_l : str
        Parameter names of F4 (Teff [K]) and F5 (log L [L_sun] at 1 kpc).
    """

    name: str
    teff: str
    log_l: str


class SEDGalaxy(NamedTuple):
    """Static description of one redshift group.

    Attributes
    ----------
    name : str
        G1 (``''`` for components outside every galaxy: R3's redshift).
    redshift : str
        Parameter name of the redshift (``''`` when fixed at R3).
    fixed : bool
        True when the redshift does not vary (matrices precomputed).
    """

    name: str
    redshift: str
    fixed: bool


class SEDNucleus(NamedTuple):
    """A nucleus in SED-mode images; static.

    Attributes
    ----------
    name : str
    spec : AGNSpec
        Static AGN model (:func:`galfits_nb.models.agn.agn_spec`).
    galaxy : int
        Index into :attr:`SEDScene.galaxies` whose redshift, distance and
        band matrices it uses (its own entry in the full layout, the first
        galaxy in the seed's).
    imgnorm : str
        N26, a factor on its image fluxes ('' for 1).
    """

    name: str
    spec: object
    galaxy: int
    imgnorm: str = ""


class GalaxyArrays(NamedTuple):
    """Arrays of one galaxy (pytree leaves).

    Attributes
    ----------
    continuum : array of shape (n_band, n_wave)
        Image units per L_sun/A of rest-frame pixel mean (fixed redshift;
        zeros when the redshift is free).
    lines : array of shape (n_band, n_line)
        Image units per L_sun of line luminosity.
    universe_age : scalar [Gyr]
        At the fixed redshift (unused when free).
    """

    continuum: jax.Array
    lines: jax.Array
    universe_age: jax.Array


@dataclass(frozen=True)
class SEDScene:
    """Everything the SED-mode band fluxes need; a JAX pytree.

    Attributes
    ----------
    components : tuple of SEDComponent
        Static.
    galaxies : tuple of SEDGalaxy
        Static.
    labels : tuple of str
        Band labels of the SED-mode images, the rows of the matrices (static).
    templates : Templates
    galaxy_arrays : tuple of GalaxyArrays
    bands : BandResponses
        Filter curves (for free redshifts).
    unit_factors : array of shape (n_band,)
        Image units per erg/s/cm^2/A.
    distances : cosmology table
        For free redshifts.
    igm : IGM coefficients
    galactic : array of shape (n_galaxy, n_wave)
        Galactic A_lambda [mag] tabulated on the template grid read as
        observed wavelengths (for free redshifts).
    redshifts : tuple of float
        Each galaxy's redshift when the scene was built (static; the value
        used when it is fixed).
    n_ionising : int
        Template pixels below 912 A (static).
    stars : tuple of SEDStar
        Foreground stars (static).
    nuclei : tuple of SEDNucleus
        AGN (static).
    feii : FeIITemplate or None
        The nuclei's FeII template.
    star_matrix : array of shape (n_band, n_wave)
        Image units per erg/s/cm^2/A of a star's f_lambda pixel means on the
        template grid read as observed wavelengths (no redshift).
    """

    components: tuple[SEDComponent, ...]
    galaxies: tuple[SEDGalaxy, ...]
    labels: tuple[str, ...]
    templates: Templates
    galaxy_arrays: tuple[GalaxyArrays, ...]
    bands: BandResponses
    unit_factors: jax.Array
    distances: object
    igm: object
    galactic: jax.Array
    redshifts: tuple[float, ...] = ()
    n_ionising: int = 0
    stars: tuple[SEDStar, ...] = ()
    star_matrix: jax.Array | None = None
    nuclei: tuple[SEDNucleus, ...] = ()
    feii: object = None

    def flux_name(self, component: str, label: str) -> str:
        """The ``logNorm_<component>_<label>`` a frame reads."""
        return f"logNorm_{component}_{label}"

    @property
    def flux_names(self) -> tuple[str, ...]:
        """Every flux name this scene produces."""
        names = [c.name for c in self.components] + [n.name for n in self.nuclei] + [star.name for star in self.stars]
        return tuple(self.flux_name(name, label) for name in names for label in self.labels)


jax.tree_util.register_dataclass(
    SEDScene,
    data_fields=[
        "templates", "galaxy_arrays", "bands", "unit_factors", "distances", "igm", "galactic", "star_matrix", "feii",
    ],
    meta_fields=["components", "galaxies", "labels", "redshifts", "n_ionising", "stars", "nuclei"],
)


# ---------------------------------------------------------------------------
# Rest frame -> image units
# ---------------------------------------------------------------------------


@jax.jit
def band_matrices(
    redshift: jax.Array,
    templates: Templates,
    bands: BandResponses,
    unit_factors: jax.Array,
    distances,
    igm_coefficients,
    galactic_mag: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Image values per unit rest-frame luminosity, for every band.

    Parameters
    ----------
    redshift : scalar
    templates : Templates
    bands : BandResponses
    unit_factors : array of shape (n_band,)
        Image units per erg/s/cm^2/A.
    distances : cosmology table (:func:`galfits_nb.models.cosmology.distance_table`)
    igm_coefficients : :func:`galfits_nb.models.igm.load_igm_coefficients`
    galactic_mag : array of shape (n_wave,)
        Galactic A_lambda [mag] at the template wavelengths read as observed.

    Returns
    -------
    continuum : array of shape (n_band, n_wave)
        Image units per L_sun/A (rest-frame pixel mean).
    lines : array of shape (n_band, n_line)
        Image units per L_sun.
    """
    z = jnp.asarray(redshift)
    wave_rest = jnp.asarray(templates.stellar.wavelength)
    grid = jnp.asarray(templates.stellar.wavelength)
    dilution = _dilution(z, distances)

    def observed_transmission(wave_obs):
        a_gal = jnp.interp(jnp.log(wave_obs), jnp.log(grid), jnp.asarray(galactic_mag))
        return igm_model.igm_transmission(wave_obs, z, igm_coefficients) * 10.0 ** (-0.4 * a_gal)

    line_wave = jnp.asarray(templates.nebular.line_wavelength)
    t_cont = observed_transmission(wave_rest * (1.0 + z))
    t_line = observed_transmission(line_wave * (1.0 + z))
    units = jnp.asarray(unit_factors)[:, None]
    cont = pixel_weights(templates.stellar.wavelength_edges, z, bands) * (t_cont * dilution / (1.0 + z))
    lines = line_weights(line_wave, z, bands) * (t_line * dilution)
    return units * cont, units * lines


_LSUN_PER_MPC2 = L_SUN_ERG_S / _CM_PER_MPC**2
"""L_sun / (1 Mpc)^2 [erg/s/cm^2], formed in float64: D_L^2 in cm^2 overflows float32."""


def _dilution(z: jax.Array, distances) -> jax.Array:
    """``L_sun / (4 pi D_L^2)`` [erg/s/cm^2 per L_sun], with D_L in Mpc (float32-safe)."""
    d_mpc = cosmo.luminosity_distance_mpc(z, distances)
    return _LSUN_PER_MPC2 / (4.0 * jnp.pi * d_mpc**2)


def _sfh_pieces(component: SEDComponent, values: dict[str, jax.Array], universe_age: jax.Array):
    if component.sfh == "bins":
        log_masses = jnp.stack([jnp.asarray(values[name]) for name in component.logfrac])
        return binned_sfh(log_masses, component.bin_edges_gyr)
    log_f = values[component.logfrac[0]]
    age = values[component.age]
    if component.sfh == "burst":
        return burst_sfh(log_f, age)
    return conti_sfh(log_f, age, universe_age)


def _inputs(component: SEDComponent, values: dict[str, jax.Array]) -> SEDInputs:
    args = []
    for key, name in zip(_INPUT_KEYS, component.inputs):
        value = jnp.asarray(values[name] if name else DEFAULTS[key], dtype=jnp.result_type(float))
        args.append(jnp.log10(value) if key == "Z" else value)
    return SEDInputs(*args)


def _galaxy_state(index: int, values: dict[str, jax.Array], scene: SEDScene):
    galaxy = scene.galaxies[index]
    arrays = scene.galaxy_arrays[index]
    if galaxy.fixed:
        return arrays.continuum, arrays.lines, arrays.universe_age
    z = values[galaxy.redshift]
    cont, lines = band_matrices(
        z, scene.templates, scene.bands, scene.unit_factors, scene.distances, scene.igm, scene.galactic[index]
    )
    return cont, lines, cosmo.age_of_universe_gyr(z, scene.distances)


def component_band_fluxes(values: dict[str, jax.Array], scene: SEDScene) -> dict[str, jax.Array]:
    """Band fluxes in image units of every SED component.

    Parameters
    ----------
    values : dict of str to scalar arrays
        Parameter values by name.
    scene : SEDScene

    Returns
    -------
    dict of str to array of shape (n_band,)
        By component name, in :attr:`SEDScene.labels` order.
    """
    return _component_outputs(values, scene, with_spectra=False)[0]


def _component_outputs(
    values: dict[str, jax.Array], scene: SEDScene, with_spectra: bool
) -> tuple[dict[str, jax.Array], dict[str, tuple[jax.Array, jax.Array]]]:
    """Band fluxes of every SED component and, optionally, the continua of the stellar ones.

    Each stellar SED is built once for both (a figure needs the two, and
    tracing the SED model is the costly part of compiling its program).

    Returns
    -------
    fluxes : dict of str to array of shape (n_band,)
        :func:`component_band_fluxes`.
    spectra : dict of str to (array, array)
        Empty unless ``with_spectra``: :func:`component_spectra` before the
        conversion to numpy.
    """
    states = {}
    out = {}
    spectra = {}
    for component in scene.components:
        if component.galaxy not in states:
            states[component.galaxy] = _galaxy_state(component.galaxy, values, scene)
        cont_m, line_m, universe_age = states[component.galaxy]
        pieces = _sfh_pieces(component, values, universe_age)
        sed = component_sed_program(
            scene.templates, pieces, _inputs(component, values), component.parts, scene.n_ionising
        )
        out[component.name] = cont_m @ sed.continuum + line_m @ sed.lines
        if with_spectra:
            spectra[component.name] = _observed_continuum(sed.continuum, component.galaxy, values, scene)
    for nucleus in scene.nuclei:
        if nucleus.galaxy not in states:
            states[nucleus.galaxy] = _galaxy_state(nucleus.galaxy, values, scene)
        cont_m = states[nucleus.galaxy][0]
        edges = jnp.asarray(scene.templates.stellar.wavelength_edges)
        # L_sun/A (a quasar's 1e44 erg/s would overflow float32 in erg/s).
        agn = agn_spectrum(edges, values, nucleus.spec, scene.feii, unit_erg_s=L_SUN_ERG_S).total
        norm = values[nucleus.imgnorm] if nucleus.imgnorm else 1.0
        out[nucleus.name] = norm * (cont_m @ agn)
    wavelength = jnp.asarray(scene.templates.stellar.wavelength)
    for star in scene.stars:
        spectrum = star_flux_density(wavelength, values[star.teff], values[star.log_l])
        out[star.name] = scene.star_matrix @ spectrum
    return out, spectra


def _observed_continuum(
    continuum: jax.Array, index: int, values: dict[str, jax.Array], scene: SEDScene
) -> tuple[jax.Array, jax.Array]:
    """Observed wavelength [A] and f_lambda [erg/s/cm^2/A] of a rest-frame continuum [L_sun/A].

    The IGM and the Galactic extinction of galaxy ``index`` are applied.
    """
    dtype = jnp.result_type(float)
    galaxy = scene.galaxies[index]
    rest = jnp.asarray(scene.templates.stellar.wavelength)
    z = jnp.asarray(values[galaxy.redshift] if not galaxy.fixed else scene.redshifts[index], dtype)
    wave_obs = rest * (1.0 + z)
    a_gal = jnp.interp(jnp.log(wave_obs), jnp.log(rest), scene.galactic[index])
    transmission = igm_model.igm_transmission(wave_obs, z, scene.igm) * 10.0 ** (-0.4 * a_gal)
    return wave_obs, continuum * transmission * (_dilution(z, scene.distances) / (1.0 + z))


component_band_fluxes_compiled = jax.jit(component_band_fluxes)
""":func:`component_band_fluxes` as one compiled program (for outputs: op by op
the SED model costs hundreds of small compilations)."""


def sed_log_fluxes(values: dict[str, jax.Array], scene: SEDScene) -> dict[str, jax.Array]:
    """The ``logNorm_<component>_<band>`` values the SED-mode frames read.

    Fluxes are floored at 1e-30 image units before the log, so a band the
    IGM blanks out stays finite.
    """
    out = {}
    for name, fluxes in component_band_fluxes(values, scene).items():
        logs = jnp.log10(jnp.maximum(fluxes, _FLUX_FLOOR))
        for label, value in zip(scene.labels, logs):
            out[scene.flux_name(name, label)] = value
    return out


def sed_parameter_names(scene: SEDScene) -> dict[str, tuple[str, ...]]:
    """For each produced flux name, the parameters it depends on (static)."""
    deps = {}
    for component in scene.components:
        galaxy = scene.galaxies[component.galaxy]
        names = [*component.logfrac, *([component.age] if component.age else []), *component.inputs]
        if galaxy.redshift and not galaxy.fixed:
            names.append(galaxy.redshift)
        names = tuple(dict.fromkeys(n for n in names if n))
        for label in scene.labels:
            deps[scene.flux_name(component.name, label)] = names
    for nucleus in scene.nuclei:
        galaxy = scene.galaxies[nucleus.galaxy]
        names = list(agn_parameter_names(nucleus.spec))
        if galaxy.redshift and not galaxy.fixed:
            names.append(galaxy.redshift)
        if nucleus.imgnorm:
            names.append(nucleus.imgnorm)
        for label in scene.labels:
            deps[scene.flux_name(nucleus.name, label)] = tuple(dict.fromkeys(names))
    for star in scene.stars:
        for label in scene.labels:
            deps[scene.flux_name(star.name, label)] = (star.teff, star.log_l)
    return deps


# ---------------------------------------------------------------------------
# Building from a config
# ---------------------------------------------------------------------------


def _error(config: Config, key: str, message: str) -> ConfigError:
    file = Path(config.path).name if config.path else None
    return ConfigError(message, file=file, line=config.line_of(key), key=key)


def _single(config: Config, profile: ProfileSpec, key: str, number: int) -> str:
    value = profile.sed.get(key)
    if value is None:
        return ""
    if isinstance(value, tuple):
        if len(value) != 1:
            raise _error(
                config,
                f"P{profile.letter}{number}",
                f"profile {profile.name!r}: P{number} holds {len(value)} entries; "
                f"one value is supported for SFH type {profile.sed.sfh!r}",
            )
        return f"{profile.name}_{key}_value"
    return f"{profile.name}_{key}" if key != "logM" else f"logM_{profile.name}"


def _component(config: Config, profile: ProfileSpec, galaxy: int, energy_balance: bool) -> SEDComponent:
    sed = profile.sed
    if sed.sfh not in ("burst", "conti", "bins"):
        raise _error(config, f"P{profile.letter}15", f"profile {profile.name!r}: unknown SFH type {sed.sfh!r}")
    logfrac = sed.get("logfrac")
    n_frac = len(logfrac) if isinstance(logfrac, tuple) else 1
    if sed.sfh == "bins":
        edges = tuple(float(v) for v in sed.get("age", ()))
        if len(edges) != n_frac + 1:
            raise _error(
                config,
                f"P{profile.letter}10",
                f"profile {profile.name!r}: bins needs one more edge (P10) than P9 entries; "
                f"found {len(edges)} edges for {n_frac} bins",
            )
        names = tuple(f"{profile.name}_logfrac_bin{k}" for k in range(n_frac)) if n_frac > 1 else (
            f"{profile.name}_logfrac_value",
        )
        age = ""
    else:
        edges = ()
        names = (_single(config, profile, "logfrac", 9),)
        age = _single(config, profile, "age", 10)
    inputs = tuple(_single(config, profile, key, number) for key, number in zip(
        _INPUT_KEYS, (14, 11, 12, 26, 16, 28, 29, 30, 32)
    ))
    for key, name, number in zip(("logM", "Z", "Av"), inputs[:3], (14, 11, 12)):
        if not name:
            raise _error(config, f"P{profile.letter}{number}", f"profile {profile.name!r} needs P{number} for its SED")
    return SEDComponent(
        name=profile.name,
        sfh=sed.sfh,
        bin_edges_gyr=edges,
        parts=sed_parts(sed.parts, energy_balance),
        galaxy=galaxy,
        logfrac=names,
        age=age,
        inputs=inputs,
    )


def build_sed_scene(
    config: Config,
    labels: tuple[str, ...] | None = None,
    *,
    templates: Templates | None = None,
    cosmology: cosmo.Cosmology | None = None,
    energy_balance: tuple[str, ...] = (),
    fixed_redshift: bool | None = None,
) -> SEDScene | None:
    """The SED scene of a config's SED-mode images (None when there is none).

    Parameters
    ----------
    config : Config
    labels : tuple of str, optional
        Band labels to produce fluxes for (default: every image with I15 = 1).
    templates : Templates, optional
        Default :func:`~galfits_nb.models.ssp.load_templates`.
    cosmology : Cosmology, optional
        Default Planck 2018.
    energy_balance : tuple of str
        Profile names whose dust emission follows the absorbed light (``EB``).
    fixed_redshift : bool, optional
        Force fixed (True) or free (False) redshift handling; default: from
        each galaxy's G3 vary flag.

    Returns
    -------
    SEDScene or None

    Raises
    ------
    ConfigError
        A nucleus or SED-less profile in an SED-mode image, malformed SED keys.
    """
    from galfits_nb.inference.parameters import band_labels  # inference imports this module

    all_labels = band_labels(config)
    if labels is None:
        labels = tuple(all_labels[im.letter] for im in config.images if im.use_sed)
    labels = tuple(labels)
    if not labels:
        return None
    by_label = {all_labels[im.letter]: im for im in config.images}
    templates = load_templates() if templates is None else templates
    cosmology = cosmo.default_cosmology() if cosmology is None else cosmology
    distances = cosmo.distance_table(cosmology)
    coefficients = igm_model.load_igm_coefficients()
    curves = [load_filter(by_label[label].band) for label in labels]
    bands = band_responses(curves)
    unit_factors = np.array(
        [
            image_unit_factor(
                by_label[label].flux_conversion, by_label[label].zeropoint, curve.wave_pivot, by_label[label].band
            )
            for label, curve in zip(labels, curves)
        ]
    )
    dtype = jnp.result_type(float)

    galaxies: list[SEDGalaxy] = []
    galaxy_of: dict[str, int] = {}
    ebvs: list[float] = []
    redshifts: list[float] = []
    for galaxy in config.galaxies:
        fixed = (not galaxy.redshift.vary) if fixed_redshift is None else bool(fixed_redshift)
        galaxies.append(SEDGalaxy(galaxy.name, f"z_{galaxy.name}", fixed))
        ebvs.append(float(galaxy.ebv_galactic or 0.0))
        redshifts.append(float(galaxy.redshift.value))
        for letter in galaxy.profiles:
            galaxy_of[letter] = len(galaxies) - 1
    nuclei = []
    for nucleus in config.nuclei:
        try:
            spec = agn_spec(nucleus)
        except ConfigError as err:
            raise _error(
                config, err.key or f"N{nucleus.letter}1",
                f"nucleus {nucleus.name!r} in SED-mode images (I15 = 1) needs its AGN model: {err.detail}",
            ) from None
        if nucleus.layout == "full":
            z_param = nucleus.get("z")
            if z_param is None:  # no N2: the target's redshift, fixed
                z_name, fixed, z_value = "", True, float(config.region.redshift)
            else:
                z_name, z_value = f"z_{nucleus.name}", float(z_param.value)
                fixed = (not z_param.vary) if fixed_redshift is None else bool(fixed_redshift)
            galaxies.append(SEDGalaxy(nucleus.name, z_name, fixed))
            ebvs.append(float(nucleus.ebv_galactic or 0.0))
            redshifts.append(z_value)
            index = len(galaxies) - 1
            imgnorm = f"{nucleus.name}_imgnorm" if nucleus.get("imgnorm") is not None else ""
        else:
            if not galaxies:
                galaxies.append(SEDGalaxy("", "", True))
                ebvs.append(0.0)
                redshifts.append(float(config.region.redshift))
            index, imgnorm = 0, ""
        nuclei.append(SEDNucleus(nucleus.name, spec, index, imgnorm))
    components = []
    for profile in config.profiles:
        if profile.sed is None:
            first = next(im for im in config.images if all_labels[im.letter] in labels)
            raise _error(
                config,
                f"I{first.letter}15",
                f"band {first.band} uses SED fluxes (I15 = 1) but profile {profile.name!r} "
                f"(P{profile.letter}) has no SED keys (P9-P16); add them or set I{first.letter}15) 0",
            )
        if profile.letter not in galaxy_of:
            galaxies.append(SEDGalaxy("", "", True))
            ebvs.append(0.0)
            redshifts.append(float(config.region.redshift))
            galaxy_of[profile.letter] = len(galaxies) - 1
        components.append(_component(config, profile, galaxy_of[profile.letter], profile.name in energy_balance))

    stars = []
    for star in config.stars:
        if not star.use_sed:
            raise _error(
                config,
                f"F{star.letter}8",
                f"star {star.name!r} has a free flux per band (F8 = 0), which images with I15 = 1 do not have; "
                "set F8) 1 (black-body SED) or I15) 0 for the images",
            )
        stars.append(SEDStar(star.name, f"{star.name}_Teff", f"{star.name}_logL"))
    star_matrix = np.asarray(
        pixel_weights(np.asarray(templates.stellar.wavelength_edges, dtype=float), 0.0, bands), dtype=float
    ) * unit_factors[:, None]

    observed = np.asarray(templates.stellar.wavelength, dtype=float)
    galactic = np.stack(
        [dust_model.galactic_extinction(observed, ebv) if ebv > 0 else np.zeros_like(observed) for ebv in ebvs]
        or [np.zeros_like(observed)]
    )
    arrays = []
    for index, galaxy in enumerate(galaxies):
        z = jnp.asarray(redshifts[index], dtype=dtype)
        age = cosmo.age_of_universe_gyr(redshifts[index], distances)  # numpy: nothing to compile
        if galaxy.fixed:
            cont, lines = band_matrices(
                z, templates, bands, jnp.asarray(unit_factors, dtype=dtype), distances, coefficients,
                jnp.asarray(galactic[index], dtype=dtype),
            )
        else:  # computed inside each step
            cont = jnp.zeros((len(labels), templates.stellar.wavelength.shape[0]), dtype)
            lines = jnp.zeros((len(labels), templates.nebular.line_wavelength.shape[0]), dtype)
        arrays.append(GalaxyArrays(jnp.asarray(cont, dtype), jnp.asarray(lines, dtype), jnp.asarray(age, dtype)))
    return SEDScene(
        components=tuple(components),
        galaxies=tuple(galaxies),
        labels=labels,
        templates=templates,
        galaxy_arrays=tuple(arrays),
        bands=BandResponses(*(jnp.asarray(a, dtype) for a in bands)),
        unit_factors=jnp.asarray(unit_factors, dtype),
        distances=distances,
        igm=coefficients,
        galactic=jnp.asarray(galactic, dtype),
        redshifts=tuple(redshifts),
        n_ionising=ionising_pixels(templates.stellar.wavelength),
        stars=tuple(stars),
        star_matrix=jnp.asarray(star_matrix, dtype),
        nuclei=tuple(nuclei),
        feii=load_feii_template() if any(n.spec.feii for n in nuclei) else None,
    )


def component_spectra(
    values: dict[str, float], scene: SEDScene
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
    """Observed-frame spectra and band fluxes of every SED component, for figures.

    Spectra: continuum only (lines are in the band fluxes but would be single
    pixels here), with the IGM and Galactic extinction applied. Both come
    from one compiled program that builds each SED once.

    Parameters
    ----------
    values : dict of str to float
        Parameter values by name (e.g. ``FitResult.table.values()``).
    scene : SEDScene

    Returns
    -------
    spectra : dict of str to (ndarray, ndarray)
        By stellar component: observed wavelength [A] and f_lambda
        [erg/s/cm^2/A], on the template grid.
    fluxes : dict of str to ndarray of shape (n_band,)
        :func:`component_band_fluxes` (every component, nuclei and stars
        included), in image units.
    """
    dtype = jnp.result_type(float)
    values = {name: jnp.asarray(v, dtype) for name, v in values.items()}
    # One compiled program: evaluated op by op, the SED costs hundreds of
    # small compilations (seconds) for a single figure.
    fluxes, spectra = _figure_outputs(values, scene)
    return (
        {name: (np.asarray(w, dtype=float), np.asarray(f, dtype=float)) for name, (w, f) in spectra.items()},
        {name: np.asarray(f, dtype=float) for name, f in fluxes.items()},
    )


_figure_outputs = jax.jit(functools.partial(_component_outputs, with_spectra=True))
