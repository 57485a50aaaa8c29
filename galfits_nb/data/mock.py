"""Synthetic observations for tests, tutorials and the demo.

:func:`write_seed_files` writes every file that the seed's joint configuration
(``seed_joint.lyric``, shipped with the package) names: g, r and i images
(data, sigma in HDU 2, PSF, mask) of a bulge + disk + nucleus galaxy, and a
fibre spectrum. Images are rendered with the package's own profile and PSF
functions (:mod:`galfits_nb.models`), then noise is added.

The spectrum is a stand-in until the stellar-population and AGN models exist:
a smooth continuum (a 4000 A break and a power law) with broad and narrow
Gaussian lines at the seed's redshift. It has the wavelength sampling and
noise of an SDSS fibre spectrum, which is what the readers and the aperture
code need.

:func:`mock_observation` renders any configuration's scene from a parameter
table onto the pixels of an observation already read (its PSFs, masks and
sigma maps) and adds Gaussian noise: a noisy copy of the observation whose
truth is known, for recovery tests and tutorials.

This module reads no files; it writes only into the folder it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SeedTruth",
    "SEED_TRUTH",
    "write_seed_files",
    "seed_config_path",
    "north_up_wcs_header",
    "mock_observation",
]

# Rest-frame wavelengths in air [A] of the lines the seed fits (SDSS line list
# values; galfits_nb.models.lines will hold the project's cited list).
_LINES_AIR = {"Hb": 4861.33, "OIII_4959": 4958.91, "OIII_5007": 5006.84, "Ha": 6562.80, "NII_6549": 6548.05, "NII_6583": 6583.45}


@dataclass(frozen=True)
class SeedTruth:
    """Truth of the seed mock (structure as in seed_joint.lyric's start values).

    Attributes
    ----------
    ra, dec : float
        Image centre [deg] (the seed's R2).
    redshift : float
        The seed's R3.
    pixel_scale : float
        arcsec per pixel (SDSS).
    size : int
        Image side in pixels.
    psf_fwhm : dict of band -> float
        Gaussian PSF FWHM [arcsec].
    bulge, disk : dict
        Sersic parameters (``Re`` arcsec, ``n``, ``ang`` deg, ``axrat``).
    flux : dict of component -> dict of band -> float
        Total fluxes in image units (counts).
    sky_sigma : float
        Background noise per pixel [counts].
    gain : float
        e-/count, for the Poisson part of the noise.
    sigma_scale : float
        The seed's I3 third value (1.8): the sigma map written to HDU 2 is the
        true noise divided by it, so that the reader's scaled map is the true
        noise (docs/data.md).
    """

    ra: float = 188.45
    dec: float = 56.78
    redshift: float = 0.05
    pixel_scale: float = 0.396
    size: int = 76
    psf_fwhm: tuple[tuple[str, float], ...] = (("g", 1.5), ("r", 1.3), ("i", 1.2))
    bulge: tuple[tuple[str, float], ...] = (("Re", 1.5), ("n", 3.0), ("ang", 20.0), ("axrat", 0.7))
    disk: tuple[tuple[str, float], ...] = (("Re", 3.0), ("n", 1.0), ("ang", 25.0), ("axrat", 0.4))
    flux: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
        ("bulge", (("g", 6000.0), ("r", 11000.0), ("i", 15000.0))),
        ("disk", (("g", 9000.0), ("r", 12000.0), ("i", 13000.0))),
        ("agn", (("g", 3000.0), ("r", 2800.0), ("i", 2600.0))),
    )
    sky_sigma: float = 2.0
    gain: float = 1.8
    sigma_scale: float = 1.8


SEED_TRUTH = SeedTruth()


def seed_config_path() -> Path:
    """Path of the seed's joint configuration shipped with the package."""
    return Path(__file__).with_name("seed_joint.lyric")


def north_up_wcs_header(ra: float, dec: float, size: int, pixel_scale: float):
    """A TAN WCS header, North up and East left, centred on (ra, dec).

    Parameters
    ----------
    ra, dec : float
        Reference sky position [deg], placed at the image centre.
    size : int
        Image side [pixels].
    pixel_scale : float
        arcsec per pixel.

    Returns
    -------
    astropy.io.fits.Header
    """
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    # FITS pixels are 1-based: the centre of a size x size image.
    wcs.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel_scale / 3600.0, pixel_scale / 3600.0]
    return wcs.to_header()


def _gaussian_psf(fwhm_pixels: float, size: int = 25) -> np.ndarray:
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    sigma = fwhm_pixels / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    psf = np.exp(-0.5 * (x**2 + y**2) / sigma**2)
    return psf / psf.sum()


def render_seed_images(truth: SeedTruth = SEED_TRUTH) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Noise-free model images and PSFs of the seed mock.

    Returns
    -------
    dict of band -> (image, psf)
        ``image`` of shape (size, size) in counts per pixel; ``psf`` of shape
        (25, 25), unit sum.
    """
    import jax
    import jax.numpy as jnp

    from galfits_nb.models.profiles import PixelGrid, render_profile
    from galfits_nb.models.psf import convolve, point_source_image, psf_transform

    # The image centre pixel (size - 1) / 2 is the WCS reference, i.e. R2.
    centre = (truth.size - 1) / 2.0
    grid = PixelGrid(truth.size, truth.size, truth.pixel_scale, centre, centre)
    fluxes = {name: dict(values) for name, values in truth.flux}
    # One compilation serves both components in every band (same grid and kind).
    render = jax.jit(render_profile, static_argnames=("kind", "grid"))
    out = {}
    for band, fwhm in truth.psf_fwhm:
        psf = _gaussian_psf(fwhm / truth.pixel_scale)
        psf_ft = psf_transform(jnp.asarray(psf), grid.shape)
        model = jnp.zeros(grid.shape)
        for name, shape in (("bulge", truth.bulge), ("disk", truth.disk)):
            params = {key: jnp.asarray(value) for key, value in {"xcen": 0.0, "ycen": 0.0, **dict(shape)}.items()}
            model = model + fluxes[name][band] * render(kind="sersic", params=params, grid=grid)
        image = convolve(model, psf_ft) + fluxes["agn"][band] * point_source_image(0.0, 0.0, psf_ft, grid)
        out[band] = (np.asarray(image, dtype=float), psf)
    return out


def stand_in_spectrum(truth: SeedTruth = SEED_TRUTH, rng: np.random.Generator | None = None) -> np.ndarray:
    """The seed mock's fibre spectrum: continuum + lines, SDSS sampling and noise.

    Returns
    -------
    array, shape (n_pix, 3)
        Observed wavelength [A], flux and error [1e-17 erg/s/cm^2/A].
    """
    rng = np.random.default_rng(0) if rng is None else rng
    # SDSS sampling: 1e-4 in log10(lambda), 69 km/s per pixel.
    wavelength = 10 ** np.arange(np.log10(3800.0), np.log10(7200.0), 1e-4)
    rest = wavelength / (1 + truth.redshift)
    stars = 20.0 * (1.0 + 0.6 * np.tanh((rest - 4000.0) / 60.0)) * (rest / 5000.0) ** 0.3
    agn = 15.0 * (rest / 5100.0) ** -1.5
    lines = np.zeros_like(wavelength)
    for name, centre in _LINES_AIR.items():
        narrow_sigma = centre * 150.0 / 299792.458
        strength = {"OIII_5007": 600.0, "OIII_4959": 200.0, "Ha": 400.0, "Hb": 120.0}.get(name, 150.0)
        lines += strength / (np.sqrt(2 * np.pi) * narrow_sigma) * np.exp(-0.5 * ((rest - centre) / narrow_sigma) ** 2)
        if name in ("Ha", "Hb"):
            broad_sigma = centre * 1500.0 / 299792.458
            broad = 3000.0 if name == "Ha" else 1000.0
            lines += broad / (np.sqrt(2 * np.pi) * broad_sigma) * np.exp(-0.5 * ((rest - centre) / broad_sigma) ** 2)
    flux = (stars + agn + lines) / (1 + truth.redshift)
    error = 0.05 * np.median(flux) + 0.02 * flux
    return np.column_stack([wavelength, flux + rng.normal(0.0, error), error])


def write_seed_files(folder: str | Path, seed: int = 0, truth: SeedTruth = SEED_TRUTH) -> dict[str, Path]:
    """Write the files the seed configuration names into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Destination (created if missing).
    seed : int
        Random seed of the noise.
    truth : SeedTruth

    Returns
    -------
    dict of str -> Path
        Every file written, by role (``g_band``, ``g_sigma``, ``spectrum``, ...).
    """
    from astropy.io import fits

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    header = north_up_wcs_header(truth.ra, truth.dec, truth.size, truth.pixel_scale)
    written: dict[str, Path] = {}
    for band, (model, psf) in render_seed_images(truth).items():
        variance = truth.sky_sigma**2 + np.clip(model, 0.0, None) / truth.gain
        sigma = np.sqrt(variance).astype(np.float32)
        data = (model + rng.normal(0.0, 1.0, model.shape) * sigma).astype(np.float32)
        mask = np.zeros(model.shape, dtype=np.int16)
        # A masked "neighbour" in one corner, as real cut-outs have.
        mask[:6, -6:] = 1
        band_header = header.copy()
        band_header["FILTER"] = f"sdss {band}"
        band_header["GAIN"] = truth.gain
        files = {
            f"{band}_band": fits.HDUList([fits.PrimaryHDU(data, band_header)]),
            # The seed reads sigma from HDU 2: keep data and mask in HDUs 0 and 1.
            f"{band}_band_sigma": fits.HDUList(
                [
                    fits.PrimaryHDU(data, band_header),
                    fits.ImageHDU(mask),
                    fits.ImageHDU(sigma / np.float32(truth.sigma_scale), band_header),
                ]
            ),
            f"{band}_psf": fits.HDUList([fits.PrimaryHDU(psf.astype(np.float32))]),
            f"{band}_mask": fits.HDUList([fits.PrimaryHDU(mask, band_header)]),
        }
        for stem, hdul in files.items():
            path = folder / f"{stem}.fits"
            hdul.writeto(path, overwrite=True)
            written[stem] = path
    spectrum = stand_in_spectrum(truth, rng)
    path = folder / "spectrum.txt"
    np.savetxt(path, spectrum, header="observed wavelength [A], flux, error [1e-17 erg/s/cm^2/A]")
    written["spectrum"] = path
    return written


def mock_observation(config, tree, table, *, seed: int | None = 0, noise: bool = True):
    """An observation whose images are the model of ``table`` plus noise.

    Parameters
    ----------
    config : Config
        Photometry-mode configuration (every fitted image ``I15 = 0``).
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`: supplies
        the pixel grids, PSFs, masks and sigma maps.
    table : ParameterTable
        The truth: every parameter the scene reads.
    seed : int or None
        Seed of the noise generator.
    noise : bool
        Add Gaussian noise of the tree's sigma (False: the model itself).

    Returns
    -------
    xr.DataTree
        A copy of ``tree`` with each fitted image's ``data`` replaced (masked
        pixels too) and stacked atlases restacked; attrs ``mock_seed``.
    """
    import jax

    from galfits_nb.data.observation import stack_images
    from galfits_nb.models.scene import build_imaging_scene, render_scene

    scene = build_imaging_scene(config, tree, table)
    values = table.resolve({})
    models = jax.jit(render_scene)({k: np.asarray(v, dtype=float) for k, v in values.items()}, scene)
    rng = np.random.default_rng(seed)
    nodes = {node.path: _own_dataset(node) for node in tree.subtree}
    for frame, model in zip(scene.frames, models):
        ds = nodes[frame.path]
        image = np.asarray(model, dtype=float)
        if noise:
            image = image + rng.normal(0.0, 1.0, image.shape) * np.asarray(ds.sigma.values, dtype=float)
        nodes[frame.path] = ds.assign(data=(ds.data.dims, image, ds.data.attrs)).assign_attrs(mock_seed=seed)
    for path, ds in list(nodes.items()):
        if ds.attrs.get("stacked"):
            members = [nodes[child.path] for child in tree[path].children.values()]
            nodes[path] = stack_images(members).assign_attrs(ds.attrs)
    import xarray as xr

    return xr.DataTree.from_dict(nodes)


def _own_dataset(node):
    """A node's own variables, with the pixel coordinates a stacked parent holds for it."""
    ds = node.to_dataset(inherit=False)
    inherited = {name: node.coords[name] for name in ("y", "x") if name in ds.dims and name not in ds.coords and name in node.coords}
    return ds.assign_coords(inherited) if inherited else ds
