"""Model spectra: what a fibre or slit sees of every component.

A spectrum (``S`` block) is observed through an atlas (``A5``) with an
aperture (``A6``: ``[r]`` fibre radius or ``[PA, a, b]`` slit, arcsec) placed
at R2 on the atlas's reference image (``A7``). Its model, in
1e-17 erg/s/cm^2/A at the observed (vacuum) wavelengths, is

``F(lambda) = sum_c  norm_c * fraction_c * f_c(lambda)  +  galaxy lines``

* ``f_c``: the component's observed-frame SED. For a galaxy component (a
  profile with SED keys) the stellar population, nebular continuum and
  attenuation of :func:`galfits_nb.models.sed.component_sed` evaluated on the
  spectral templates (:mod:`galfits_nb.models.spectral_templates`: MILES
  resolution on a uniform log-lambda grid), broadened by the velocity
  dispersion P13 (:func:`galfits_nb.models.kinematics.broaden`), redshifted
  and diluted as in :mod:`galfits_nb.models.sed_scene`, plus its Cloudy
  emission lines as Gaussians of the same dispersion. For a nucleus the AGN
  model of :mod:`galfits_nb.models.agn` (continuum, Balmer continuum, FeII,
  broad and narrow lines, hot dust).
* ``fraction_c``: the share of the component's light inside the aperture,
  from its PSF-convolved image on the reference image (unit total flux,
  summed over the aperture's pixel weights, :func:`aperture_weights`). It
  depends on the shape parameters, so the images and the spectrum pull on
  the same structure. Without a reference image (``A7 = -1``, a spectrum-only
  fit) the fraction is 1: the spectrum sees every component whole.
* ``norm_c``: the spectrum normalisation of the component's galaxy (G5,
  ``specnorm_<galaxy>``) or nucleus (N19, ``<nucleus>_specnorm``; the seed's
  nucleus layout has none and uses 1). It absorbs flux-calibration and
  aperture-loss differences between spectrum and images.
* galaxy lines: the narrow lines G6 of each galaxy with G7 Gaussian
  components each, free luminosities, kinematics shared by all lines of a
  component (:func:`galaxy_line_rows`). When a galaxy lists G6 lines, its
  components' Cloudy lines are left out of the spectrum (they would count
  the same emission twice); the band fluxes keep them.

Resolution
----------
Without S5 the data are taken to have the templates' resolution
(:func:`~galfits_nb.models.spectral_templates.template_fwhm`), so the stellar
continuum is broadened by P13 alone and lines by P13 (or their own widths)
added in quadrature to the templates' line-spread function. With S5 the
stellar templates are first degraded to the instrument's resolution at the
start redshift (:func:`~galfits_nb.models.kinematics.match_resolution`,
where the instrument is coarser than the templates) and the instrument's
width is added in quadrature to every line.

S4 (high-resolution templates) is accepted and changes nothing: spectra are
always modelled with the MILES-resolution templates, which cost little.

Spectrum weight
---------------
``--weight_spec w`` multiplies the spectrum's chi^2 by ``w`` (its residuals
by ``sqrt(w)``), GalfitS's way to balance thousands of image pixels
against a few thousand spectral pixels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from galfits_nb.config.spec import Config, GalaxySpec, Param
from galfits_nb.errors import ConfigError
from galfits_nb.models import cosmology as cosmo
from galfits_nb.models import dust as dust_model
from galfits_nb.models.agn import AGNSpec, agn_spec, agn_spectrum, gaussian_lines, load_feii_template
from galfits_nb.models.kinematics import C_KMS, broaden, match_resolution
from galfits_nb.models.lines import DOUBLET_RATIOS, air_to_vacuum, line_wavelength
from galfits_nb.models.scene import FrameGeometry, ImageFrame, ImagingScene, render_band
from galfits_nb.models.sed import component_sed
from galfits_nb.models.sed_scene import (
    SEDComponent,
    SEDGalaxy,
    _component,
    _dilution,
    _inputs,
    _sfh_pieces,
)
from galfits_nb.models.spectral_templates import spectral_templates, template_fwhm
from galfits_nb.models.ssp import L_SUN_ERG_S, Templates, load_templates

__all__ = [
    "SpectrumNucleus",
    "GalaxyLines",
    "SpectrumFrame",
    "SpectrumArrays",
    "SpectrumScene",
    "aperture_weights",
    "aperture_fractions",
    "spectrum_components",
    "spectrum_components_compiled",
    "spectrum_blocks",
    "block_parameter_names",
    "block_flux",
    "model_spectrum",
    "spectrum_residuals",
    "spectrum_parameter_names",
    "aperture_parameter_names",
    "galaxy_line_rows",
    "build_spectrum_scenes",
]

_UNIT_FLUX = "(unit flux)"
_ZERO_SKY = "(zero sky)"
_FLUX_UNIT_CGS = 1e-17
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_LOG_FLOOR = -30.0


class SpectrumNucleus(NamedTuple):
    """A nucleus as a spectrum sees it; static.

    Attributes
    ----------
    name : str
    spec : AGNSpec
        The static AGN model (:func:`galfits_nb.models.agn.agn_spec`).
    redshift : str
        Parameter name of its redshift (``z_<name>`` in the full layout, the
        galaxy's in the seed's).
    fixed : bool
        Redshift held fixed (band and spectral matrices precomputed).
    galactic : int
        Row of :attr:`SpectrumArrays.galactic` (Galactic extinction).
    norm : str
        Spectrum normalisation parameter (N19), '' for 1.
    """

    name: str
    spec: AGNSpec
    redshift: str
    fixed: bool
    galactic: int
    norm: str = ""


class GalaxyLines(NamedTuple):
    """The narrow lines G6 of one galaxy fitted in the spectrum; static.

    Attributes
    ----------
    galaxy : int
        Index into :attr:`SpectrumFrame.galaxies`.
    names : tuple of str
        Line names (:mod:`galfits_nb.models.lines`).
    log_l : tuple of tuple of str
        ``log_l[k][i]``: parameter name of line ``i``'s component ``k``.
    sigma, voff : tuple of str
        Per component, the shared width and velocity offset [km/s].
    """

    galaxy: int
    names: tuple[str, ...]
    log_l: tuple[tuple[str, ...], ...]
    sigma: tuple[str, ...]
    voff: tuple[str, ...]


class SpectrumFrame(NamedTuple):
    """Everything static about one spectrum; hashable.

    Attributes
    ----------
    letter : str
        Spectrum letter (``a`` for ``Sa``).
    components : tuple of SEDComponent
        Galaxy components seen by the spectrum.
    galaxies : tuple of SEDGalaxy
    nuclei : tuple of SpectrumNucleus
    norms : tuple of str
        Normalisation parameter per galaxy component ('' for 1).
    apertures : tuple of (ImageFrame or None)
        Per component (galaxy components, then nuclei): a single-component,
        unit-flux frame on the reference image; None when the spectrum has
        no reference image.
    lines : tuple of GalaxyLines
    cloudy_lines : tuple of bool
        Per galaxy: add its components' Cloudy lines to the spectrum.
    redshifts, nucleus_redshifts : tuple of float
        Start redshifts of the galaxies and nuclei (the values used when fixed).
    weight : float
        Factor on the spectrum's chi^2 (``--weight_spec``).
    """

    letter: str
    components: tuple[SEDComponent, ...]
    galaxies: tuple[SEDGalaxy, ...]
    nuclei: tuple[SpectrumNucleus, ...]
    norms: tuple[str, ...]
    apertures: tuple[ImageFrame | None, ...]
    lines: tuple[GalaxyLines, ...]
    cloudy_lines: tuple[bool, ...]
    redshifts: tuple[float, ...] = ()
    nucleus_redshifts: tuple[float, ...] = ()
    weight: float = 1.0

    @property
    def names(self) -> tuple[str, ...]:
        """Component names: galaxy components, then nuclei."""
        return tuple(c.name for c in self.components) + tuple(n.name for n in self.nuclei)


class SpectrumArrays(NamedTuple):
    """The arrays of one spectrum, computed when the scene is built.

    Attributes
    ----------
    wavelength : array of shape (n,)
        Observed (vacuum) wavelength of the pixel centres [A].
    edges : array of shape (n + 1,)
        Pixel edges [A].
    data : array of shape (n,)
        Flux density, 1e-17 erg/s/cm^2/A.
    inv_sigma : array of shape (n,)
        ``1 / error`` on fitted pixels, 0 elsewhere.
    templates : Templates
        On the spectral log-lambda grid (rest frame, vacuum), stellar part
        matched to the instrument when S5 is given.
    velocity_step : scalar
        km/s per template pixel.
    sigma_lsf : array of shape (n,)
        Line-spread function of the data, Gaussian sigma [km/s] per pixel.
    line_wavelength : array of shape (n_line,)
        Cloudy line wavelengths, rest frame, vacuum [A].
    galactic : array of shape (n_galaxy + n_nuclei, n)
        Galactic extinction A_lambda [mag] at the observed wavelengths.
    universe_age : array of shape (n_galaxy,)
        Age of the universe at each galaxy's start redshift [Gyr].
    distances : cosmology table
    psf_ft : complex array or None
        Reference image's PSF transform.
    geometry : FrameGeometry or None
    weights : array of shape (ny, nx) or None
        Aperture pixel weights on the reference image.
    feii : object or None
        FeII template for the nuclei.
    """

    wavelength: jax.Array
    edges: jax.Array
    data: jax.Array
    inv_sigma: jax.Array
    templates: Templates
    velocity_step: jax.Array
    sigma_lsf: jax.Array
    line_wavelength: jax.Array
    galactic: jax.Array
    universe_age: jax.Array
    distances: object
    psf_ft: jax.Array | None
    geometry: FrameGeometry | None
    weights: jax.Array | None
    feii: object = None


@dataclass(frozen=True)
class SpectrumScene:
    """All fitted spectra: static frames and their arrays; a JAX pytree."""

    frames: tuple[SpectrumFrame, ...]
    spectra: tuple[SpectrumArrays, ...]

    @property
    def n_pixels(self) -> int:
        """Total number of spectral pixels."""
        return sum(int(a.data.shape[0]) for a in self.spectra)


jax.tree_util.register_dataclass(SpectrumScene, data_fields=["spectra"], meta_fields=["frames"])


# ---------------------------------------------------------------------------
# Apertures
# ---------------------------------------------------------------------------


def aperture_weights(
    shape: tuple[int, int],
    centre_pixel: tuple[float, float],
    east_xy: np.ndarray,
    north_xy: np.ndarray,
    pixel_scale: float,
    aperture: tuple[float, ...],
    subsamples: int = 9,
) -> np.ndarray:
    """Fraction of each pixel inside a fibre or slit centred on R2.

    Parameters
    ----------
    shape : (ny, nx)
    centre_pixel : (x, y)
        Pixel position of R2 (0-based pixel centres).
    east_xy, north_xy : arrays of shape (2,)
        Pixel-frame directions of East and North.
    pixel_scale : float
        arcsec per pixel.
    aperture : tuple of float
        ``(r,)`` fibre radius or ``(PA, a, b)`` slit [deg, arcsec, arcsec]:
        a rectangle of length ``a`` and width ``b`` whose long axis points
        ``PA`` degrees from +RA (East) towards North.
    subsamples : int
        Sub-pixels per pixel side used to integrate the boundary.

    Returns
    -------
    ndarray of shape (ny, nx)
        Values in [0, 1].
    """
    ny, nx = shape
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    x = (np.arange(nx)[:, None] + offsets[None, :]).reshape(-1)
    y = (np.arange(ny)[:, None] + offsets[None, :]).reshape(-1)
    dx = (x - centre_pixel[0])[None, :]
    dy = (y - centre_pixel[1])[:, None]
    matrix = np.column_stack([np.asarray(east_xy, float), np.asarray(north_xy, float)])
    inverse = np.linalg.inv(matrix) * pixel_scale
    east = inverse[0, 0] * dx + inverse[0, 1] * dy
    north = inverse[1, 0] * dx + inverse[1, 1] * dy
    if len(aperture) == 1:
        inside = east**2 + north**2 <= float(aperture[0]) ** 2
    elif len(aperture) == 3:
        pa, length, width = (float(v) for v in aperture)
        c, s = math.cos(math.radians(pa)), math.sin(math.radians(pa))
        along = c * east + s * north
        across = -s * east + c * north
        inside = (np.abs(along) <= length / 2.0) & (np.abs(across) <= width / 2.0)
    else:
        raise ValueError(f"aperture: expected [r] or [PA, a, b], found {list(aperture)}")
    return inside.reshape(ny, subsamples, nx, subsamples).mean(axis=(1, 3))


def aperture_fractions(values: dict[str, jax.Array], frame: SpectrumFrame, arrays: SpectrumArrays) -> jax.Array:
    """Share of each component's light inside the aperture, shape (n_components,)."""
    n = len(frame.apertures)
    if arrays.weights is None:
        return jnp.ones((n,), dtype=arrays.data.dtype)
    local = dict(values)
    local[_UNIT_FLUX] = jnp.zeros((), arrays.data.dtype)
    local[_ZERO_SKY] = jnp.zeros((), arrays.data.dtype)
    out = []
    for aperture in frame.apertures:
        image = render_band(local, aperture, arrays.psf_ft, arrays.geometry)
        out.append(jnp.sum(image * arrays.weights))
    return jnp.stack(out)


# ---------------------------------------------------------------------------
# The model spectrum (pure, jit-friendly)
# ---------------------------------------------------------------------------


def _observed(rest_continuum: jax.Array, z: jax.Array, arrays: SpectrumArrays) -> jax.Array:
    """Rest-frame grid spectrum -> its value at the observed pixel centres (linear in ln lambda)."""
    rest = jnp.asarray(arrays.templates.stellar.wavelength)
    return jnp.interp(jnp.log(arrays.wavelength) - jnp.log1p(z), jnp.log(rest), rest_continuum, left=0.0, right=0.0)


def _to_flux_units(z: jax.Array, arrays: SpectrumArrays) -> jax.Array:
    """1e-17 erg/s/cm^2/A of observed f_lambda per L_sun/A of rest-frame L_lambda."""
    return _dilution(z, arrays.distances) / (1.0 + z) / _FLUX_UNIT_CGS


def _lines_observed(
    arrays: SpectrumArrays,
    centres_rest: jax.Array,
    log_l: jax.Array,
    sigma_kms: jax.Array,
    voff_kms: jax.Array,
    z: jax.Array,
) -> jax.Array:
    """Gaussian lines (log L in erg/s) -> observed f_lambda in 1e-17 units.

    The data's line-spread function at each line is added in quadrature.
    """
    observed_centres = centres_rest * (1.0 + z)
    lsf = jnp.interp(observed_centres, arrays.wavelength, arrays.sigma_lsf)
    width = jnp.sqrt(sigma_kms**2 + lsf**2)
    # Lines are drawn in the rest frame (pixel edges / (1 + z)), so the
    # luminosity density comes out per rest-frame A, as the continuum does.
    rest_edges = arrays.edges / (1.0 + z)
    # In L_sun/A: 1e40 erg/s would overflow float32.
    density = gaussian_lines(rest_edges, centres_rest, log_l, width, voff_kms, unit_erg_s=L_SUN_ERG_S)
    return density * _to_flux_units(z, arrays)


def _redshift(name: str, fixed_value: float, fixed: bool, values: dict[str, jax.Array], dtype) -> jax.Array:
    if fixed or not name:
        return jnp.asarray(fixed_value, dtype)
    return jnp.asarray(values[name], dtype)


def spectrum_components(
    values: dict[str, jax.Array],
    frame: SpectrumFrame,
    arrays: SpectrumArrays,
    fractions: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Each component's contribution to the model spectrum, 1e-17 erg/s/cm^2/A.

    Parameters
    ----------
    values : dict of str to scalar arrays
        Parameter values by name.
    frame, arrays : SpectrumFrame, SpectrumArrays
    fractions : array of shape (n_components,), optional
        The aperture fractions when already known (:func:`aperture_fractions`).

    Returns
    -------
    dict of str to array of shape (n,)
        By component name, and ``lines_<galaxy>`` for fitted galaxy lines.
        Fractions and normalisations are applied.
    """
    if fractions is None:
        fractions = aperture_fractions(values, frame, arrays)
    return dict(block_flux(values, frame, arrays, fractions, block) for block in spectrum_blocks(frame))


def spectrum_blocks(frame: SpectrumFrame) -> tuple[tuple[str, int], ...]:
    """The additive pieces of a model spectrum: ``("component", i)``, ``("nucleus", j)``, ``("lines", k)``."""
    return (
        tuple(("component", i) for i in range(len(frame.components)))
        + tuple(("nucleus", j) for j in range(len(frame.nuclei)))
        + tuple(("lines", k) for k in range(len(frame.lines)))
    )


def block_parameter_names(frame: SpectrumFrame, block: tuple[str, int]) -> tuple[str, ...]:
    """The parameters one block reads besides the aperture fractions (static)."""
    from galfits_nb.models.agn import agn_parameter_names

    kind, index = block
    if kind == "component":
        component = frame.components[index]
        galaxy = frame.galaxies[component.galaxy]
        names = [*component.logfrac, component.age, *component.inputs, _sigma_name(component), frame.norms[index]]
        if galaxy.redshift and not galaxy.fixed:
            names.append(galaxy.redshift)
    elif kind == "nucleus":
        nucleus = frame.nuclei[index]
        names = [*agn_parameter_names(nucleus.spec), nucleus.norm]
        if nucleus.redshift and not nucleus.fixed:
            names.append(nucleus.redshift)
    else:
        lines = frame.lines[index]
        galaxy = frame.galaxies[lines.galaxy]
        names = [n for row in lines.log_l for n in row] + [*lines.sigma, *lines.voff]
        if galaxy.redshift and not galaxy.fixed:
            names.append(galaxy.redshift)
    return tuple(dict.fromkeys(n for n in names if n))


def block_flux(
    values: dict[str, jax.Array],
    frame: SpectrumFrame,
    arrays: SpectrumArrays,
    fractions: jax.Array,
    block: tuple[str, int],
) -> tuple[str, jax.Array]:
    """One block's contribution to the model spectrum: ``(name, flux of shape (n,))``."""
    dtype = arrays.data.dtype
    kind, index = block
    if kind == "component":
        component = frame.components[index]
        galaxy = frame.galaxies[component.galaxy]
        z = _redshift(galaxy.redshift, frame.redshifts[component.galaxy], galaxy.fixed, values, dtype)
        universe_age = (
            arrays.universe_age[component.galaxy] if galaxy.fixed else cosmo.age_of_universe_gyr(z, arrays.distances)
        )
        pieces = _sfh_pieces(component, values, universe_age)
        inputs = _inputs(component, values)
        sed = component_sed(arrays.templates, pieces, inputs, component.parts, 0)
        sigma = jnp.asarray(values[_sigma_name(component)], dtype) if _sigma_name(component) in values else 0.0
        broadened = broaden(sed.continuum, sigma / arrays.velocity_step)
        flux = _observed(broadened, z, arrays) * _to_flux_units(z, arrays)
        if frame.cloudy_lines[component.galaxy]:
            log_l = jnp.log10(jnp.maximum(sed.lines, 10.0**_LOG_FLOOR)) + math.log10(L_SUN_ERG_S)
            n_line = arrays.line_wavelength.shape[0]
            flux = flux + _lines_observed(
                arrays,
                arrays.line_wavelength,
                log_l,
                jnp.full((n_line,), sigma, dtype),
                jnp.zeros((n_line,), dtype),
                z,
            )
        flux = flux * 10.0 ** (-0.4 * arrays.galactic[component.galaxy])
        norm = jnp.asarray(values[frame.norms[index]], dtype) if frame.norms[index] else 1.0
        return component.name, norm * fractions[index] * flux
    if kind == "nucleus":
        nucleus = frame.nuclei[index]
        z = _redshift(nucleus.redshift, frame.nucleus_redshifts[index], nucleus.fixed, values, dtype)
        rest_edges = arrays.edges / (1.0 + z)
        lsf = jnp.median(arrays.sigma_lsf)
        parts = agn_spectrum(
            rest_edges, values, nucleus.spec, arrays.feii, sigma_instrument_kms=lsf, unit_erg_s=L_SUN_ERG_S
        )
        flux = parts.total * _to_flux_units(z, arrays)
        flux = flux * 10.0 ** (-0.4 * arrays.galactic[nucleus.galactic])
        norm = jnp.asarray(values[nucleus.norm], dtype) if nucleus.norm else 1.0
        return nucleus.name, norm * fractions[len(frame.components) + index] * flux
    lines = frame.lines[index]
    galaxy = frame.galaxies[lines.galaxy]
    z = _redshift(galaxy.redshift, frame.redshifts[lines.galaxy], galaxy.fixed, values, dtype)
    centres = jnp.asarray([line_wavelength(name) for name in lines.names], dtype)
    total = jnp.zeros_like(arrays.data)
    n = len(lines.names)
    for k in range(len(lines.sigma)):
        log_l = jnp.stack([jnp.asarray(values[name], dtype) for name in lines.log_l[k]])
        total = total + _lines_observed(
            arrays,
            centres,
            log_l,
            jnp.full((n,), values[lines.sigma[k]], dtype),
            jnp.full((n,), values[lines.voff[k]], dtype),
            z,
        )
    return f"lines_{galaxy.name}", total * 10.0 ** (-0.4 * arrays.galactic[lines.galaxy])


spectrum_components_compiled = jax.jit(spectrum_components, static_argnames=("frame",))
""":func:`spectrum_components` as one compiled program (for outputs)."""


def _sigma_name(component: SEDComponent) -> str:
    return f"{component.name}_sigma"


def model_spectrum(
    values: dict[str, jax.Array],
    frame: SpectrumFrame,
    arrays: SpectrumArrays,
    fractions: jax.Array | None = None,
) -> jax.Array:
    """The model spectrum (sum of :func:`spectrum_components`), shape (n,)."""
    parts = spectrum_components(values, frame, arrays, fractions)
    return sum(parts.values(), jnp.zeros_like(arrays.data))


def spectrum_residuals(
    values: dict[str, jax.Array], scene: SpectrumScene, fractions: tuple[jax.Array, ...] | None = None
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """Weighted residuals ``sqrt(w) (model - data) / error`` of every spectrum, concatenated.

    Parameters
    ----------
    values : dict of str to scalar arrays
    scene : SpectrumScene
    fractions : tuple of arrays, optional
        Per spectrum, the aperture fractions when already known.

    Returns
    -------
    residuals : array of shape (scene.n_pixels,)
    models : tuple of arrays of shape (n,)
    """
    parts = []
    models = []
    for index, (frame, arrays) in enumerate(zip(scene.frames, scene.spectra)):
        model = model_spectrum(values, frame, arrays, None if fractions is None else fractions[index])
        parts.append((model - arrays.data) * arrays.inv_sigma * math.sqrt(frame.weight))
        models.append(model)
    return jnp.concatenate(parts), tuple(models)


def aperture_parameter_names(scene: SpectrumScene) -> tuple[str, ...]:
    """The parameters the aperture fractions read (shapes and centres), static."""
    from galfits_nb.models.scene import scene_parameter_names

    names: dict[str, None] = {}
    for frame in scene.frames:
        apertures = tuple(a for a in frame.apertures if a is not None)
        names.update(dict.fromkeys(n for n in scene_parameter_names(apertures) if n not in (_UNIT_FLUX, _ZERO_SKY)))
    return tuple(names)


def spectrum_parameter_names(scene: SpectrumScene) -> tuple[str, ...]:
    """Every parameter name the spectra read (static): the blocks' and the apertures'."""
    names: dict[str, None] = {}
    for frame in scene.frames:
        for block in spectrum_blocks(frame):
            names.update(dict.fromkeys(block_parameter_names(frame, block)))
    names.update(dict.fromkeys(aperture_parameter_names(scene)))
    return tuple(names)


# ---------------------------------------------------------------------------
# Galaxy lines (G6, G7): parameter rows
# ---------------------------------------------------------------------------


def galaxy_line_names(galaxy: GalaxySpec) -> GalaxyLines:
    """The parameter names of a galaxy's fitted narrow lines (galaxy index left 0)."""
    k_range = range(1, max(int(galaxy.n_line_components), 1) + 1)
    log_l = tuple(tuple(f"{galaxy.name}_{line}_n{k}_logL" for line in galaxy.lines) for k in k_range)
    sigma = tuple(f"{galaxy.name}_n{k}_sigma" for k in k_range)
    voff = tuple(f"{galaxy.name}_n{k}_voff" for k in k_range)
    return GalaxyLines(0, tuple(galaxy.lines), log_l, sigma, voff)


def galaxy_line_rows(galaxy: GalaxySpec) -> list:
    """Parameter rows of a galaxy's G6 lines (empty when G6 is empty).

    Per component ``k`` (G7 of them): ``<galaxy>_<line>_n<k>_logL`` [erg/s],
    start 39 in [34, 44] (component 2: 38.5); a shared width
    ``<galaxy>_n<k>_sigma`` [km/s] (100 in [20, 500]; component 2, broader:
    250 in [50, 1000]) and offset ``<galaxy>_n<k>_voff`` [km/s] (0 in
    [-500, 500]). The weak member of a doublet whose strong member is listed
    is tied to it by the atomic ratio (:data:`galfits_nb.models.lines.DOUBLET_RATIOS`).
    """
    from galfits_nb.inference.parameters import ParamRow

    if not galaxy.lines:
        return []
    for line in galaxy.lines:
        line_wavelength(line)  # unknown names fail here, naming the line
    names = galaxy_line_names(galaxy)
    rows = []
    for k, row_names in enumerate(names.log_l):
        start = 39.0 - 0.5 * k
        for line, name in zip(galaxy.lines, row_names):
            tie = None
            if line in DOUBLET_RATIOS and DOUBLET_RATIOS[line][0] in galaxy.lines:
                strong, ratio = DOUBLET_RATIOS[line]
                tie = f"{galaxy.name}_{strong}_n{k + 1}_logL + {math.log10(ratio):.6f}"
            rows.append(ParamRow(name, start, 34.0, 44.0, 0.1, tie is None, tie))
    for k in range(len(names.sigma)):
        lo, start, hi = (20.0, 100.0, 500.0) if k == 0 else (50.0, 250.0, 1000.0)
        rows.append(ParamRow(names.sigma[k], start, lo, hi, 5.0, True, None))
        rows.append(ParamRow(names.voff[k], 0.0, -500.0, 500.0, 5.0, True, None))
    return rows


# ---------------------------------------------------------------------------
# Building from a config
# ---------------------------------------------------------------------------


def _error(config: Config, key: str, message: str) -> ConfigError:
    file = Path(config.path).name if config.path else None
    return ConfigError(message, file=file, line=config.line_of(key), key=key)


def _spectrum_atlas(config: Config, letter: str):
    for atlas in config.atlases:
        if letter in atlas.spectra:
            index = atlas.spectra.index(letter)
            aperture = atlas.apertures[index] if index < len(atlas.apertures) else None
            reference = atlas.reference[index] if index < len(atlas.reference) else -1
            return atlas, aperture, reference
    return None, None, -1


def _aperture_frame(frame: ImageFrame, name: str) -> ImageFrame:
    component = next(c for c in frame.components if c.name == name)
    return frame._replace(
        components=(component._replace(flux=_UNIT_FLUX),),
        sky_model="uniform",
        sky=(_ZERO_SKY,),
        shift=(),
        label=f"{frame.label} aperture",
    )


def _lsf_sigma_kms(wavelength: np.ndarray, fwhm_aa: np.ndarray) -> np.ndarray:
    return C_KMS * np.asarray(fwhm_aa, float) / _FWHM_PER_SIGMA / np.asarray(wavelength, float)


def build_spectrum_scenes(
    config: Config,
    tree: xr.DataTree,
    imaging: ImagingScene | None = None,
    *,
    templates: Templates | None = None,
    cosmology: cosmo.Cosmology | None = None,
    energy_balance: tuple[str, ...] = (),
    weight: float = 1.0,
) -> SpectrumScene | None:
    """The spectra of a config's atlases, ready to fit (None when there is none).

    Parameters
    ----------
    config : Config
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation` (spectra
        under ``/spectra/<letter>``).
    imaging : ImagingScene, optional
        The fitted images; a spectrum's reference image (A7) must be among
        them (its frame, PSF and geometry place the aperture).
    templates : Templates, optional
        Default :func:`~galfits_nb.models.ssp.load_templates`.
    cosmology : Cosmology, optional
        Default Planck 2018.
    energy_balance : tuple of str
        As for :func:`~galfits_nb.models.sed_scene.build_sed_scene`.
    weight : float
        ``--weight_spec``.

    Raises
    ------
    ConfigError
        A spectrum in no atlas, a reference image that is not fitted, a
        profile without SED keys, an unknown line.
    """
    letters = [s.letter for s in config.spectra if _spectrum_atlas(config, s.letter)[0] is not None]
    if not letters:
        return None
    templates = load_templates() if templates is None else templates
    base = spectral_templates(templates)
    cosmology = cosmo.default_cosmology() if cosmology is None else cosmology
    distances = cosmo.distance_table(cosmology)
    dtype = jnp.result_type(float)

    galaxies: list[SEDGalaxy] = []
    galaxy_of: dict[str, int] = {}
    ebvs: list[float] = []
    redshifts: list[float] = []
    norms_of_galaxy: list[str] = []
    line_sets: list[GalaxyLines] = []
    for galaxy in config.galaxies:
        galaxies.append(SEDGalaxy(galaxy.name, f"z_{galaxy.name}", not galaxy.redshift.vary))
        ebvs.append(float(galaxy.ebv_galactic or 0.0))
        redshifts.append(float(galaxy.redshift.value))
        norms_of_galaxy.append(f"specnorm_{galaxy.name}")
        for letter in galaxy.profiles:
            galaxy_of[letter] = len(galaxies) - 1
        if galaxy.lines:
            line_sets.append(galaxy_line_names(galaxy)._replace(galaxy=len(galaxies) - 1))
    components = []
    component_norms = []
    for profile in config.profiles:
        if profile.sed is None:
            continue  # no SED: invisible to the spectrum (documented in docs/spectra.md)
        if profile.letter not in galaxy_of:
            galaxies.append(SEDGalaxy("", "", True))
            ebvs.append(0.0)
            redshifts.append(float(config.region.redshift))
            norms_of_galaxy.append("")
            galaxy_of[profile.letter] = len(galaxies) - 1
        g = galaxy_of[profile.letter]
        components.append(_component(config, profile, g, profile.name in energy_balance))
        component_norms.append(norms_of_galaxy[g])
    nuclei = []
    nucleus_redshifts = []
    nucleus_ebvs = []
    for nucleus in config.nuclei:
        if nucleus.layout == "full":
            z_param = nucleus.get("z")
            z_name, fixed = f"z_{nucleus.name}", not (isinstance(z_param, Param) and z_param.vary)
            z_value = float(z_param.value) if isinstance(z_param, Param) else float(config.region.redshift)
            ebv = float(nucleus.ebv_galactic or 0.0)
            norm = f"{nucleus.name}_specnorm" if nucleus.get("specnorm") is not None else ""
        else:
            if galaxies and galaxies[0].name:
                z_name, fixed, z_value, ebv = galaxies[0].redshift, galaxies[0].fixed, redshifts[0], ebvs[0]
            else:
                z_name, fixed, z_value, ebv = "", True, float(config.region.redshift), 0.0
            norm = ""
        nuclei.append(SpectrumNucleus(nucleus.name, agn_spec(nucleus), z_name, fixed, len(galaxies) + len(nuclei), norm))
        nucleus_redshifts.append(z_value)
        nucleus_ebvs.append(ebv)
    feii = load_feii_template() if any(n.spec.feii for n in nuclei) else None
    frames_by_letter = {frame.letter: (frame, arrays) for frame, arrays in zip(imaging.frames, imaging.images)} if imaging else {}

    frames = []
    spectra = []
    for letter in letters:
        atlas, aperture, reference = _spectrum_atlas(config, letter)
        ds = tree[f"spectra/{letter}"].to_dataset()
        wavelength = np.asarray(ds.wavelength.values, dtype=float)
        edges = np.concatenate(
            [[wavelength[0] - 0.5 * (wavelength[1] - wavelength[0])],
             0.5 * (wavelength[1:] + wavelength[:-1]),
             [wavelength[-1] + 0.5 * (wavelength[-1] - wavelength[-2])]]
        )
        good = ~np.asarray(ds.mask.values, dtype=bool)
        error = np.asarray(ds.error.values, dtype=float)
        flux = np.where(good, np.asarray(ds.flux.values, dtype=float), 0.0)
        inv_sigma = np.where(good, 1.0 / np.where(good, error, 1.0), 0.0)

        z_start = redshifts[0] if redshifts else float(config.region.redshift)
        stellar = base.stellar
        rest = np.asarray(stellar.wavelength, dtype=float)
        if "fwhm" in ds:
            # Degrade the templates to the instrument where it is coarser
            # (rest-frame widths at the start redshift).
            fwhm_rest = np.interp(rest * (1 + z_start), wavelength, np.asarray(ds.fwhm.values, float)) / (1 + z_start)
            matched = match_resolution(rest, np.asarray(stellar.ssp, float), template_fwhm(rest), fwhm_rest)
            stellar = dataclasses.replace(stellar, ssp=np.asarray(matched, dtype=np.float32))
            lsf = _lsf_sigma_kms(wavelength, np.asarray(ds.fwhm.values, float))
        else:
            lsf = _lsf_sigma_kms(wavelength / (1 + z_start), template_fwhm(wavelength / (1 + z_start)))
        spectral = base._replace(stellar=stellar)
        velocity_step = C_KMS * math.log(rest[1] / rest[0])
        line_wave = np.asarray(templates.nebular.line_wavelength, dtype=float)
        line_wave = np.where(line_wave > 2000.0, air_to_vacuum(line_wave), line_wave)
        galactic = np.stack(
            [dust_model.galactic_extinction(wavelength, e) if e > 0 else np.zeros_like(wavelength) for e in ebvs + nucleus_ebvs]
            or [np.zeros_like(wavelength)]
        )
        ages = np.array([float(cosmo.age_of_universe_gyr(jnp.asarray(z, dtype), distances)) for z in redshifts] or [0.0])

        apertures: list[ImageFrame | None] = []
        psf_ft = geometry = weights = None
        if reference >= 0 and atlas.images:
            if reference >= len(atlas.images):
                raise _error(
                    config, f"A{atlas.letter}7",
                    f"atlas {atlas.name!r}: reference image index {reference} is beyond the {len(atlas.images)} images of A2",
                )
            ref_letter = atlas.images[reference]
            if ref_letter not in frames_by_letter:
                raise _error(
                    config, f"A{atlas.letter}7",
                    f"spectrum {letter!r}: reference image {ref_letter!r} is not among the fitted images",
                )
            if aperture is None:
                raise _error(config, f"A{atlas.letter}6", f"spectrum {letter!r} has no aperture in A6")
            ref_frame, ref_arrays = frames_by_letter[ref_letter]
            if ref_frame.total_flux:
                raise _error(
                    config, f"A{atlas.letter}7",
                    f"spectrum {letter!r}: the reference image {ref_letter!r} is a single photometry pixel",
                )
            ref_ds = tree[ref_frame.path].to_dataset()
            weights = aperture_weights(
                ref_frame.shape,
                tuple(float(v) for v in np.asarray(ref_ds.attrs["centre_pixel"], float)),
                np.asarray(ref_ds.attrs["east_xy"], float),
                np.asarray(ref_ds.attrs["north_xy"], float),
                ref_frame.pixel_scale,
                tuple(float(v) for v in aperture),
            )
            for name in [c.name for c in components] + [n.name for n in nuclei]:
                apertures.append(_aperture_frame(ref_frame, name))
            psf_ft, geometry = ref_arrays.psf_ft, ref_arrays.geometry
            weights = jnp.asarray(weights, dtype)
        else:
            apertures = [None] * (len(components) + len(nuclei))

        frames.append(
            SpectrumFrame(
                letter=letter,
                components=tuple(components),
                galaxies=tuple(galaxies),
                nuclei=tuple(nuclei),
                norms=tuple(component_norms),
                apertures=tuple(apertures),
                lines=tuple(line_sets),
                cloudy_lines=tuple(not any(s.galaxy == g for s in line_sets) for g in range(len(galaxies))),
                redshifts=tuple(redshifts),
                nucleus_redshifts=tuple(nucleus_redshifts),
                weight=float(weight),
            )
        )
        spectra.append(
            SpectrumArrays(
                wavelength=jnp.asarray(wavelength, dtype),
                edges=jnp.asarray(edges, dtype),
                data=jnp.asarray(flux, dtype),
                inv_sigma=jnp.asarray(inv_sigma, dtype),
                templates=jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype) if np.issubdtype(np.asarray(a).dtype, np.floating) else a, spectral),
                velocity_step=jnp.asarray(velocity_step, dtype),
                sigma_lsf=jnp.asarray(lsf, dtype),
                line_wavelength=jnp.asarray(line_wave, dtype),
                galactic=jnp.asarray(galactic, dtype),
                universe_age=jnp.asarray(ages, dtype),
                distances=distances,
                psf_ft=psf_ft,
                geometry=geometry,
                weights=weights,
                feii=feii,
            )
        )
    return SpectrumScene(tuple(frames), tuple(spectra))
