"""Model images of a scene: every component rendered into every fitted image.

This is the imaging forward model in photometry mode (``I15 = 0``): each
component has a free total flux per band, ``logNorm_<comp>_<band>`` (log10 of
the total flux in image units; for ``const`` the level per data pixel).
Images whose fluxes come from the SED model (``I15 = 1``) are refused when the
scene is built (:func:`build_imaging_scene`).

What is static and what is not
------------------------------
A scene is split the way ``jax.jit`` wants it (ARCHITECTURE.md, rule 1):

* :class:`ImageFrame` (one per image) is static and hashable: shape, pixel
  scale, PSF oversampling, padding, band label, the components with their
  kinds and the *names* of the parameters each reads, the sky model.
* :class:`ImageArrays` (one per image) holds the arrays computed once when
  the scene is built: data, ``1 / sigma`` (0 on masked pixels), the
  good-pixel mask, the PSF transform, and the sky -> pixel geometry
  (:class:`FrameGeometry`).

The geometry (where R2 falls on the image and how the image is rotated) is
an array, not part of the static frame: cut-outs of different targets, or of
one target in different surveys, differ in their fractional centre pixel but
can share one compiled program (and be ``vmap``-ed together), which would be
impossible if the centre were a static float.

:class:`ImagingScene` is a pytree whose static part (the frames) is its
treedef, so ``jax.jit(f)(values, scene)`` compiles once per frame layout and
image shapes and is reused for any data, noise and start values.

Coordinates
-----------
Component centres ``<comp>_xcen``, ``<comp>_ycen`` (P3/P4, N2/N3 or N4/N5,
F2/F3) are *sky* offsets in arcsec from R2, +x towards East and +y towards
North (CONFIG-FORMAT.md); position angles are North through East. Each image
maps them to its own pixel frame with the unit vectors ``east_xy`` and
``north_xy`` (directions of East and North in pixel (x, y), read from the
WCS) and the pixel position ``centre_pixel`` of R2::

    pixel (x, y) = centre_pixel + (xcen * east_xy + ycen * north_xy) / pixel_scale
                   + (csx_<band>, csy_<band>)

Image shifts ``csx``/``csy`` (I13/I14) are in pixels and are added in the
pixel frame. Profiles render on a :class:`~galfits_nb.models.profiles.PixelGrid`
(GALFIT's pixel frame, arcsec offsets from the grid origin), and the centre
is passed as the grid-frame offset of that pixel position.

The position angle in the grid frame is ``parity * PA_sky + rotation`` where
``rotation`` is the grid PA of North, ``atan2(-north_x, north_y)``, and
``parity`` is +1 when East is North turned counter-clockwise on the pixel
grid (any rotation of the standard orientation) and -1 for a flipped image.
For a North-up, East-left image ``east_xy = (-1, 0)``, ``north_xy = (0, 1)``,
so the grid PA equals the sky PA (profiles.py: PA = 90 points to -x = East).
The angles of ``sersic_f`` measured within the profile (``thetaout``,
``thetam``) are multiplied by ``parity`` too, so the pattern keeps its
handedness on the sky. A skewed (non-orthogonal) WCS is taken as orthogonal.

Rendering
---------
Per image with PSF oversampling ``k`` (I5), on a grid padded by half the
PSF's width (so light from just outside the cut-out is scattered in). A PSF
at the data's resolution (``k = 1``) is first interpolated ``u = 3`` times
finer with the pixel response divided out (``psf_upsampling``,
:func:`galfits_nb.models.psf.upsample_psf`); ``k`` below is then ``u``.

1. extended components (``sersic``, ``sersic_f``, ``ferrer``,
   ``edgeondisk``, ``Gaussian``, ``GauRing``; the seed layout's shaped
   nucleus as a Sersic) are rendered on ``grid.oversampled(k)``, summed with
   their fluxes and convolved with the PSF (:func:`~galfits_nb.models.psf.convolve`);
2. point sources (nuclei in the full layout, foreground stars) are the PSF
   moved to their position (:func:`~galfits_nb.models.psf.point_source_image`);
3. the padding is cut off, then ``const`` components (a uniform level per
   data pixel, not convolved: a convolved plane is the same plane) and the
   sky (uniform ``sky_<band>`` or polynomial ``sky_<band>_<k>``,
   :mod:`galfits_nb.models.sky`) are added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from galfits_nb.config.spec import Config
from galfits_nb.errors import ConfigError
from galfits_nb.models.profiles import (
    DEFAULT_SAMPLING,
    PROFILE_PARAMETERS,
    PixelGrid,
    Sampling,
    canonical_kind,
    fine_grid_sampling,
    render_profile,
)
from galfits_nb.models.psf import convolve, point_source_image, psf_transform, upsample_psf
from galfits_nb.models.sky import polynomial_degree, polynomial_sky_image

if TYPE_CHECKING:  # the inference package imports this module
    from galfits_nb.inference.parameters import ParameterTable

__all__ = [
    "ComponentSpec",
    "ImageFrame",
    "FrameGeometry",
    "ImageArrays",
    "ImagingScene",
    "build_imaging_scene",
    "imaging_components",
    "image_nodes",
    "frame_geometry",
    "render_band",
    "component_grid_parameters",
    "component_unit_image",
    "render_scene",
    "scene_parameter_names",
]

# Angles inside a profile that change sign on a flipped image.
_HANDED_ANGLES = ("thetaout", "thetam")


DEFAULT_PSF_UPSAMPLING = 3
"""Fine-grid factor for images whose PSF is at the data's resolution (I5 = 1)."""

class ComponentSpec(NamedTuple):
    """One component as an image sees it; static.

    Attributes
    ----------
    name : str
        Component name (P1, N1, F1).
    kind : str
        Canonical profile kind (``sersic``, ``sersic_f``, ``ferrer``,
        ``edgeondisk``, ``gaussian``, ``gauring``, ``const``) or ``point``.
    params : tuple of (str, str)
        ``(profile key, parameter name)``, e.g. ``("Re", "bulge_Re")``;
        ``xcen``/``ycen`` are the sky offsets of the centre.
    flux : str
        Name of the flux parameter, ``logNorm_<comp>_<band>``.
    mode : int
        Fourier mode ``m`` of ``sersic_f`` (P21; 1 when not given), else 0.
    """

    name: str
    kind: str
    params: tuple[tuple[str, str], ...]
    flux: str = ""
    mode: int = 0


class ImageFrame(NamedTuple):
    """Everything static about one fitted image; hashable (a jit static).

    Attributes
    ----------
    letter : str
        Image letter (``a`` for ``Ia``).
    band : str
        Band name (I2).
    label : str
        Parameter-name suffix of the band (``band_labels``).
    path : str
        Node of the observation tree that holds the image.
    shape : tuple of 2 int
        ``(ny, nx)`` of the data.
    pixel_scale : float
        arcsec per data pixel.
    oversampling : int
        PSF sub-pixels per data pixel (I5).
    padding : int
        Data pixels added on each side before convolution (half the PSF).
    components : tuple of ComponentSpec
    sky_model : str
        ``uniform`` or ``polynomial``.
    sky : tuple of str
        Sky parameter names (one for a uniform sky).
    shift : tuple of 2 str, or ()
        ``(csx_<band>, csy_<band>)`` when the image may shift (I13 = 1).
    sampling : Sampling
        Pixel integration of the profiles at the data's resolution; on the
        fine grid :func:`~galfits_nb.models.profiles.fine_grid_sampling`
        of it is used.
    total_flux : bool
        A single-pixel image holding the whole flux of every component
        (photometry as an image, ``total_flux_pixel`` in the dataset): the
        model is the sum of the fluxes plus the sky, no profile is drawn.
    """

    letter: str
    band: str
    label: str
    path: str
    shape: tuple[int, int]
    pixel_scale: float
    oversampling: int
    padding: int
    components: tuple[ComponentSpec, ...]
    sky_model: str
    sky: tuple[str, ...]
    shift: tuple[str, ...] = ()
    sampling: Sampling = DEFAULT_SAMPLING
    total_flux: bool = False

    @property
    def grid(self) -> PixelGrid:
        """The padded data grid, origin at the centre of the data image."""
        ny, nx = self.shape
        p = self.padding
        return PixelGrid(ny + 2 * p, nx + 2 * p, self.pixel_scale, (ny - 1) / 2.0 + p, (nx - 1) / 2.0 + p)


class FrameGeometry(NamedTuple):
    """How sky offsets map onto an image's grid; arrays (not static).

    Attributes
    ----------
    offset : array of shape (2,)
        Grid-frame position ``(x, y)`` [arcsec] of R2 relative to the grid
        origin (the centre of the data image).
    sky_to_grid : array of shape (2, 2)
        Columns ``east_xy`` and ``north_xy``: grid offset
        ``= offset + sky_to_grid @ (xcen, ycen)``.
    rotation : scalar array
        Grid PA of North, degrees.
    parity : scalar array
        +1 for a rotated image, -1 for a flipped one.
    """

    offset: jax.Array
    sky_to_grid: jax.Array
    rotation: jax.Array
    parity: jax.Array


class ImageArrays(NamedTuple):
    """The arrays of one image, computed once when the scene is built.

    Attributes
    ----------
    data : array of shape (ny, nx)
        Image, image units.
    inv_sigma : array of shape (ny, nx)
        ``1 / sigma`` on good pixels, 0 on masked ones (the residual weight).
    good : bool array of shape (ny, nx)
        True where a pixel enters chi^2.
    psf_ft : complex array
        :func:`~galfits_nb.models.psf.psf_transform` of the PSF for the
        padded grid and the oversampling.
    geometry : FrameGeometry
    """

    data: jax.Array
    inv_sigma: jax.Array
    good: jax.Array
    psf_ft: jax.Array
    geometry: FrameGeometry


@dataclass(frozen=True)
class ImagingScene:
    """All fitted images: static frames and their arrays; a JAX pytree.

    Attributes
    ----------
    frames : tuple of ImageFrame
        Static (the pytree's treedef).
    images : tuple of ImageArrays
        Leaves, one per frame.
    """

    frames: tuple[ImageFrame, ...]
    images: tuple[ImageArrays, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Band labels of the images, in order."""
        return tuple(frame.label for frame in self.frames)

    @property
    def n_pixels(self) -> int:
        """Total number of pixels (good or not) in all images."""
        return sum(frame.shape[0] * frame.shape[1] for frame in self.frames)


jax.tree_util.register_dataclass(ImagingScene, data_fields=["images"], meta_fields=["frames"])


# ---------------------------------------------------------------------------
# Rendering (pure, jit-friendly)
# ---------------------------------------------------------------------------


def render_band(
    values: dict[str, jax.Array],
    frame: ImageFrame,
    psf_ft: jax.Array,
    geometry: FrameGeometry,
) -> jax.Array:
    """Model image of one band.

    Parameters
    ----------
    values : dict of str to scalar arrays
        Parameter values by name (``ParameterTable.unpack``); the names the
        frame lists must be present, others are ignored.
    frame : ImageFrame
        Static.
    psf_ft : complex array
        The frame's PSF transform (``ImageArrays.psf_ft``).
    geometry : FrameGeometry
        The frame's sky -> grid mapping (``ImageArrays.geometry``).

    Returns
    -------
    array of shape frame.shape
        Model in image units per pixel, sky included.
    """
    ny, nx = frame.shape
    if frame.total_flux:
        total = sum(10.0 ** values[comp.flux] for comp in frame.components)
        return jnp.zeros(frame.shape, dtype=jnp.result_type(float)) + total + _sky_image(values, frame)
    p = frame.padding
    dtype = jnp.result_type(float)
    extended = None
    points = None
    flat = 0.0
    for comp in frame.components:
        flux = 10.0 ** values[comp.flux]
        if comp.kind == "const":
            flat = flat + flux
            continue
        params = component_grid_parameters(values, comp, frame, geometry)
        image = flux * component_unit_image(params, comp, frame, psf_ft)
        if comp.kind == "point":
            points = image if points is None else points + image
        else:
            extended = image if extended is None else extended + image

    model = jnp.zeros(frame.grid.shape, dtype=dtype)
    if extended is not None:
        model = model + convolve(extended, psf_ft, frame.oversampling)
    if points is not None:
        model = model + points
    model = model[p : p + ny, p : p + nx] + flat
    return model + _sky_image(values, frame)


def component_grid_parameters(
    values: dict[str, jax.Array], comp: ComponentSpec, frame: ImageFrame, geometry: FrameGeometry
) -> dict[str, jax.Array]:
    """A shaped component's parameters in the frame's grid coordinates.

    The centre's sky offsets (arcsec) become offsets on the padded grid,
    with the image's relative shift (pixels) added; position angles and
    handed angles are turned into the grid's orientation and parity.

    Parameters
    ----------
    values : dict of str to scalar arrays
        Parameter values by name.
    comp : ComponentSpec
        Not ``const``; static.
    frame : ImageFrame
        Static.
    geometry : FrameGeometry

    Returns
    -------
    dict of str to scalar arrays
        ``xcen``, ``ycen`` (arcsec on ``frame.grid``) and, for profiles,
        the other keys of ``PROFILE_PARAMETERS[comp.kind]`` except ``m``.
    """
    if frame.shift:
        shift_x = values[frame.shift[0]] * frame.pixel_scale
        shift_y = values[frame.shift[1]] * frame.pixel_scale
    else:
        shift_x = shift_y = 0.0
    matrix = geometry.sky_to_grid
    params = {key: values[name] for key, name in comp.params}
    xs, ys = params["xcen"], params["ycen"]
    params["xcen"] = geometry.offset[0] + matrix[0, 0] * xs + matrix[0, 1] * ys + shift_x
    params["ycen"] = geometry.offset[1] + matrix[1, 0] * xs + matrix[1, 1] * ys + shift_y
    if comp.kind == "point":
        return {"xcen": params["xcen"], "ycen": params["ycen"]}
    if "ang" in params:
        params["ang"] = geometry.parity * params["ang"] + geometry.rotation
    for key in _HANDED_ANGLES:
        if key in params:
            params[key] = geometry.parity * params[key]
    return params


def component_unit_image(
    params: dict[str, jax.Array], comp: ComponentSpec, frame: ImageFrame, psf_ft: jax.Array
) -> jax.Array:
    """One shaped component at unit flux, before the padding is cut off.

    Parameters
    ----------
    params : dict of str to scalar arrays
        From :func:`component_grid_parameters`.
    comp : ComponentSpec
        Not ``const``; static.
    frame : ImageFrame
        Static.
    psf_ft : complex array

    Returns
    -------
    array
        A profile: flux per pixel on ``frame.grid.oversampled(k)``, not yet
        convolved. A point source: the PSF moved to its place on
        ``frame.grid`` (already at the data's resolution).
    """
    k = frame.oversampling
    if comp.kind == "point":
        return point_source_image(params["xcen"], params["ycen"], psf_ft, frame.grid, k)
    if comp.kind == "sersic_f":
        params = dict(params, m=comp.mode)
    return render_profile(comp.kind, params, frame.grid.oversampled(k), fine_grid_sampling(frame.sampling, k))


def _sky_image(values: dict[str, jax.Array], frame: ImageFrame) -> jax.Array:
    if frame.sky_model == "uniform":
        return values[frame.sky[0]]
    coefficients = jnp.stack([jnp.asarray(values[name], dtype=jnp.result_type(float)) for name in frame.sky])
    return polynomial_sky_image(coefficients, frame.shape)


def render_scene(values: dict[str, jax.Array], scene: ImagingScene) -> list[jax.Array]:
    """Model images of every frame of a scene.

    Parameters
    ----------
    values : dict of str to scalar arrays
        Parameter values by name.
    scene : ImagingScene

    Returns
    -------
    list of arrays
        One ``(ny, nx)`` model per frame, in ``scene.frames`` order.

    Notes
    -----
    Each frame is rendered by its own call. Rendering frames that differ only
    in their band with one ``jax.vmap`` was tried on the 10-band j0056
    example: it cut XLA's compile time by only ~20 % and doubled the run time
    on CPU (batched pixel-block updates become scatters), so it is not done.
    """
    return [
        render_band(values, frame, arrays.psf_ft, arrays.geometry)
        for frame, arrays in zip(scene.frames, scene.images)
    ]


# ---------------------------------------------------------------------------
# Building a scene from a config, an observation tree and a parameter table
# ---------------------------------------------------------------------------


def imaging_components(config: Config) -> tuple[ComponentSpec, ...]:
    """The components of a config as images see them (without flux names).

    Profiles render with their own type; nuclei in the full layout and
    foreground stars are point sources; a nucleus in the seed's shaped layout
    is a Sersic (N4 size as ``Re``, N5 ``n``, N6 PA, N7 q).

    Returns
    -------
    tuple of ComponentSpec
        In parameter-table order: profiles, nuclei, stars.
    """
    components = []
    for profile in config.profiles:
        kind = canonical_kind(profile.kind)
        keys = PROFILE_PARAMETERS[kind]
        params = tuple((key, f"{profile.name}_{key}") for key in keys if key != "m")
        mode = (profile.fourier_mode if profile.fourier_mode is not None else 1) if kind == "sersic_f" else 0
        components.append(ComponentSpec(profile.name, kind, params, mode=mode))
    for nucleus in config.nuclei:
        if nucleus.layout == "shaped":
            keys = PROFILE_PARAMETERS["sersic"]
            components.append(ComponentSpec(nucleus.name, "sersic", tuple((k, f"{nucleus.name}_{k}") for k in keys)))
        else:
            components.append(_point(nucleus.name))
    for star in config.stars:
        components.append(_point(star.name))
    return tuple(components)


def _point(name: str) -> ComponentSpec:
    return ComponentSpec(name, "point", (("xcen", f"{name}_xcen"), ("ycen", f"{name}_ycen")))


def image_nodes(config: Config, tree: xr.DataTree) -> list[tuple[str, str, xr.Dataset]]:
    """The images to fit: ``(letter, tree path, dataset)`` in atlas order.

    An image listed by several atlases is fitted once (its first atlas).

    Raises
    ------
    ConfigError
        No atlas lists an image, or the tree lacks an image the config lists.
    """
    found: dict[str, tuple[str, str, xr.Dataset]] = {}
    atlases = tree.children.get("atlas")
    for atlas in config.atlases:
        if not atlas.images:
            continue
        node_name = atlas.name.replace("/", "_")
        if atlases is None or node_name not in atlases.children:
            raise ConfigError(
                f"atlas {atlas.name!r} is not in the observation tree; read it with read_observation(config)"
            )
        by_letter = {}
        for child in atlases.children[node_name].children.values():
            ds = child.to_dataset(inherit=False)
            by_letter[ds.attrs.get("letter")] = (child.path, ds)
        for letter in atlas.images:
            if letter in found:
                continue
            if letter not in by_letter:
                raise ConfigError(
                    f"image {letter!r} of atlas {atlas.name!r} is not in the observation tree; "
                    "read it with read_observation(config)"
                )
            path, ds = by_letter[letter]
            found[letter] = (letter, path, ds)
    if not found:
        raise ConfigError("no image to fit: no atlas (A2) lists an image")
    return list(found.values())


def frame_geometry(ds: xr.Dataset) -> FrameGeometry:
    """The sky -> grid geometry of one image dataset (``read_image``'s attrs).

    Returns
    -------
    FrameGeometry
        Arrays in JAX's default float type.
    """
    ny, nx = ds.sizes["y"], ds.sizes["x"]
    scale = float(ds.attrs["pixel_scale"])
    cx, cy = (float(v) for v in np.asarray(ds.attrs["centre_pixel"], dtype=float))
    east = np.asarray(ds.attrs["east_xy"], dtype=float)
    north = np.asarray(ds.attrs["north_xy"], dtype=float)
    matrix = np.column_stack([east, north])
    rotation = math.degrees(math.atan2(-north[0], north[1]))
    # East = North turned +90 deg (counter-clockwise) <=> det[east, north] < 0.
    parity = -1.0 if np.linalg.det(matrix) > 0 else 1.0
    offset = np.array([(cx - (nx - 1) / 2.0) * scale, (cy - (ny - 1) / 2.0) * scale])
    dtype = jnp.result_type(float)
    return FrameGeometry(
        jnp.asarray(offset, dtype=dtype),
        jnp.asarray(matrix, dtype=dtype),
        jnp.asarray(rotation, dtype=dtype),
        jnp.asarray(parity, dtype=dtype),
    )


def _config_error(config: Config, key: str, message: str) -> ConfigError:
    from pathlib import Path

    file = Path(config.path).name if config.path else None
    return ConfigError(message, file=file, line=config.line_of(key), key=key)


def build_imaging_scene(
    config: Config,
    tree: xr.DataTree,
    table: ParameterTable,
    *,
    sampling: Sampling = DEFAULT_SAMPLING,
    padding: int | None = None,
    psf_upsampling: int = DEFAULT_PSF_UPSAMPLING,
    sed_fluxes: frozenset[str] | tuple[str, ...] = (),
) -> ImagingScene:
    """Build the static frames and the arrays of every fitted image.

    Parameters
    ----------
    config : Config
        The parsed ``.lyric`` file.
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`.
    table : ParameterTable
        From :func:`galfits_nb.inference.parameters.build_parameter_table`
        (possibly edited); it must define every parameter the images read.
    sampling : Sampling
        Pixel integration of the profiles (static).
    padding : int, optional
        Data pixels rendered beyond each edge before convolution, so that
        light from just outside the cut-out is scattered in. Default: half
        the PSF's width (exact for the PSF as given; a large PSF with faint
        wings on a small cut-out costs a grid several times the image, and
        a smaller value trades that light for speed).
    psf_upsampling : int
        For images whose PSF is at the data's resolution (I5 = 1): render
        this many (odd) times finer with the PSF interpolated in Fourier
        space with the pixel response divided out (:mod:`galfits_nb.models.psf`,
        "Upsampling a data-resolution PSF"). 1 convolves at the data's
        resolution (faster, a few per cent of the peak off for profiles
        smaller than the PSF). The fine grid then uses
        ``max(2, ceil(sampling.oversampling / psf_upsampling))``
        Gauss-Legendre points per fine pixel side.
    sed_fluxes : collection of str
        Flux names (``logNorm_<component>_<band>``) that an SED model
        computes (:attr:`galfits_nb.models.sed_scene.SEDScene.flux_names`);
        images with ``I15 = 1`` need theirs here, and they need not be in
        the table.

    Returns
    -------
    ImagingScene

    Raises
    ------
    ConfigError
        An image with ``I15 = 1`` whose fluxes no SED model provides, a
        parameter the table lacks, or no image to fit.
    """
    sed_fluxes = frozenset(sed_fluxes)
    from galfits_nb.inference.parameters import band_labels  # inference imports this module

    labels = band_labels(config)
    base_components = imaging_components(config)
    frames: list[ImageFrame] = []
    arrays: list[ImageArrays] = []
    dtype = jnp.result_type(float)
    pending = []
    for letter, path, ds in image_nodes(config, tree):
        spec = config.image(letter)
        label = labels[letter]
        if spec.use_sed and not all(f"logNorm_{c.name}_{label}" in sed_fluxes for c in base_components):
            raise _config_error(
                config,
                f"I{letter}15",
                f"band {spec.band} uses SED fluxes (I15 = 1), which need the stellar-population model; "
                f"set I{letter}15) 0 for an imaging-only fit",
            )
        components = tuple(comp._replace(flux=f"logNorm_{comp.name}_{label}") for comp in base_components)
        if spec.sky_model == "uniform":
            sky = (f"sky_{label}",)
        else:
            sky = tuple(f"sky_{label}_{k}" for k in range(len(spec.sky)))
            try:
                polynomial_degree(len(sky))
            except ValueError as exc:
                raise _config_error(config, f"I{letter}12", str(exc)) from None
        shift = (f"csx_{label}", f"csy_{label}") if spec.allow_shift else ()
        psf = np.asarray(ds.psf.values, dtype=float)
        k = int(ds.attrs.get("psf_oversampling", spec.psf_oversampling))
        if k == 1 and psf_upsampling > 1:
            psf = upsample_psf(psf, psf_upsampling)
            k = int(psf_upsampling)
        ny, nx = ds.sizes["y"], ds.sizes["x"]
        pad = int(math.ceil((max(psf.shape) // 2) / k)) if padding is None else int(padding)
        frame = ImageFrame(
            letter=letter,
            band=spec.band,
            label=label,
            path=path,
            shape=(int(ny), int(nx)),
            pixel_scale=float(ds.attrs["pixel_scale"]),
            oversampling=k,
            padding=pad,
            components=components,
            sky_model=spec.sky_model,
            sky=sky,
            shift=shift,
            sampling=sampling,
            total_flux=bool(ds.attrs.get("total_flux_pixel", 0)),
        )
        missing = [name for name in scene_parameter_names((frame,)) if name not in table and name not in sed_fluxes]
        if missing:
            raise ConfigError(
                f"image {letter!r} ({spec.band}): the parameter table lacks {', '.join(missing)}; "
                "build it with build_parameter_table(config) (a profile may lack a key its type needs, "
                "e.g. P17 beta of a ferrer)"
            )
        pending.append((frame, psf, ds))
    # Images of one size and sampling get the largest padding among them:
    # equal layouts share their compiled residual programs
    # (galfits_nb.inference.kernels), and more padding only scatters in a
    # little more light from beyond the edge.
    common: dict[tuple, int] = {}
    for frame, _, _ in pending:
        key = (frame.shape, frame.oversampling)
        common[key] = max(common.get(key, 0), frame.padding)
    for frame, psf, ds in pending:
        frame = frame._replace(padding=common[(frame.shape, frame.oversampling)])
        good = ~np.asarray(ds.mask.values, dtype=bool)
        sigma = np.asarray(ds.sigma.values, dtype=float)
        inv_sigma = np.where(good, 1.0 / np.where(good, sigma, 1.0), 0.0)
        grid = frame.grid
        arrays.append(
            ImageArrays(
                data=jnp.asarray(np.asarray(ds.data.values, dtype=float), dtype=dtype),
                inv_sigma=jnp.asarray(inv_sigma, dtype=dtype),
                good=jnp.asarray(good),
                psf_ft=psf_transform(jnp.asarray(psf, dtype=dtype), grid.shape, frame.oversampling, margin=frame.padding),
                geometry=frame_geometry(ds),
            )
        )
        frames.append(frame)
    return ImagingScene(tuple(frames), tuple(arrays))


def scene_parameter_names(frames: tuple[ImageFrame, ...]) -> tuple[str, ...]:
    """Every parameter name the frames read, without repeats, in first-use order."""
    names: dict[str, None] = {}
    for frame in frames:
        for comp in frame.components:
            names[comp.flux] = None
            for _, name in comp.params:
                names[name] = None
        for name in (*frame.sky, *frame.shift):
            names[name] = None
    return tuple(names)
