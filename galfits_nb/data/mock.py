"""Synthetic observations for tests, tutorials and the demo.

:func:`write_seed_files` writes the seed's joint configuration
(``seed_joint.lyric``, shipped with the package) and every file it names:
g, r and i images (data, sigma in HDU 2, PSF, mask) and an SDSS-like fibre
spectrum (3800-7200 A, 69 km/s pixels) of a bulge + disk + Seyfert 1
galaxy. They are the package's own forward model (SED-mode images, the
spectrum through the 2" fibre; :func:`model_observation`) of a known truth
(:data:`SEED_TRUTH_VALUES`) plus noise, so a fit of them can be judged.

:func:`mock_observation` renders any configuration's images and spectra
from a parameter table onto the pixels of an observation already read (its
PSFs, masks, sigma maps and spectral errors) and adds Gaussian noise: a
noisy copy of the observation whose truth is known, for recovery tests.

This module reads no files; it writes only into the folder it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SeedTruth",
    "SEED_TRUTH",
    "SEED_TRUTH_VALUES",
    "write_seed_files",
    "model_observation",
    "seed_config_path",
    "north_up_wcs_header",
    "mock_observation",
]

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
    sky_sigma: float = 2.0
    gain: float = 1.8
    sigma_scale: float = 1.8


SEED_TRUTH = SeedTruth()

SEED_TRUTH_VALUES: dict[str, float] = {
    # Bulge: old, metal-rich, little dust; disk: younger, star-forming.
    "bulge_logfrac_value": -3.0, "bulge_age_value": 9.0, "bulge_Z_value": 0.02, "bulge_Av_value": 0.2,
    "logM_bulge": 10.7, "bulge_bump": 1.0,
    "disk_logfrac_value": -1.2, "disk_age_value": 4.0, "disk_Z_value": 0.015, "disk_Av_value": 0.4,
    "logM_disk": 10.3, "disk_bump": 1.0,
    # A Seyfert 1 nucleus: power law, broad Balmer lines, NLR, FeII.
    "agn_logL5100": 42.8, "agn_alpha1": 1.5,
    "agn_Hb_b1_logL": 41.3, "agn_Hb_b1_sigma": 1500.0, "agn_Hb_b2_logL": 41.0, "agn_Hb_b2_sigma": 4000.0,
    "agn_Ha_b1_logL": 41.8, "agn_Ha_b1_sigma": 1500.0, "agn_Ha_b2_logL": 41.5, "agn_Ha_b2_sigma": 4000.0,
    "agn_OIII_5007_n1_logL": 41.2, "agn_OIII_5007_n2_logL": 40.6, "agn_Hb_n1_logL": 40.2, "agn_Hb_n2_logL": 39.6,
    "agn_Ha_n1_logL": 40.65, "agn_Ha_n2_logL": 40.1, "agn_NII_6583_n1_logL": 40.5, "agn_NII_6583_n2_logL": 39.9,
    "agn_n1_sigma": 150.0, "agn_n2_sigma": 500.0, "agn_n2_voff": -150.0,
    "agn_feii_logL": 41.0, "agn_feii_sigma": 1500.0,
    # Faint galaxy-wide emission lines (G6).
    "mygalaxy_Hb_n1_logL": 38.5, "mygalaxy_OIII_5007_n1_logL": 38.5, "mygalaxy_Ha_n1_logL": 38.8,
    "mygalaxy_NII_6583_n1_logL": 38.6, "mygalaxy_Hb_n2_logL": 38.0, "mygalaxy_OIII_5007_n2_logL": 38.0,
    "mygalaxy_Ha_n2_logL": 38.3, "mygalaxy_NII_6583_n2_logL": 38.1,
}
"""Truth of the seed mock beyond the configuration's start values (structure:
the start values; SED, AGN and line parameters: these)."""

_SPECTRUM_NOISE = (0.03, 0.01)
"""Spectrum error: 3 % of the median model plus 1 % of the local model."""


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


def write_seed_files(
    folder: str | Path,
    seed: int = 0,
    truth: SeedTruth = SEED_TRUTH,
    values: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write the seed configuration and every file it names into ``folder``.

    The images (g, r, i: data, sigma in HDU 2, PSF, mask) and the fibre
    spectrum are the package's own forward model of the seed configuration
    (SED-mode images, the spectrum through the 2" fibre) for the truth
    ``values``, plus Gaussian noise: sky and Poisson noise in the images,
    :data:`_SPECTRUM_NOISE` in the spectrum.

    Parameters
    ----------
    folder : str or Path
        Destination (created if missing).
    seed : int
        Random seed of the noise.
    truth : SeedTruth
        Pixel grid, PSFs and noise levels.
    values : dict of str to float, optional
        Truth parameter values (default :data:`SEED_TRUTH_VALUES`; parameters
        not named keep the configuration's start values).

    Returns
    -------
    dict of str -> Path
        Every file written, by role (``config``, ``g_band``, ``g_sigma``, ``spectrum``, ...).
    """
    import shutil

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.parameters import build_parameter_table

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = _write_seed_layout(folder, truth)
    config_path = folder / seed_config_path().name
    shutil.copy(seed_config_path(), config_path)
    written = {"config": config_path, **written}
    config = read_lyric(config_path)
    table = build_parameter_table(config).with_values(SEED_TRUTH_VALUES if values is None else values)
    images, spectra = model_observation(config, read_observation(config), table)
    for band, model in zip(("g", "r", "i"), images):
        sigma = np.sqrt(truth.sky_sigma**2 + np.clip(model, 0.0, None) / truth.gain)
        data = model + rng.normal(0.0, 1.0, model.shape) * sigma
        _replace_hdu(written[f"{band}_band"], 0, data)
        _replace_hdu(written[f"{band}_band_sigma"], 0, data)
        _replace_hdu(written[f"{band}_band_sigma"], 2, sigma / truth.sigma_scale)
    wavelength = np.loadtxt(written["spectrum"])[:, 0]
    model = spectra[0]
    error = _SPECTRUM_NOISE[0] * np.median(model) + _SPECTRUM_NOISE[1] * np.abs(model)
    flux = model + rng.normal(0.0, 1.0, model.shape) * error
    np.savetxt(
        written["spectrum"],
        np.column_stack([wavelength, flux, error]),
        header="observed wavelength [A, vacuum], flux, error [1e-17 erg/s/cm^2/A]",
    )
    table.write(folder / "truth.params")
    written["truth"] = folder / "truth.params"
    return written


def _replace_hdu(path: Path, index: int, array: np.ndarray) -> None:
    from astropy.io import fits

    with fits.open(path) as hdul:
        hdul[index].data = np.asarray(array, dtype=np.float32)
        hdul.writeto(path, overwrite=True)


def _write_seed_layout(folder: Path, truth: SeedTruth) -> dict[str, Path]:
    """Every file the seed names, with the right grids and headers (data replaced later)."""
    from astropy.io import fits

    header = north_up_wcs_header(truth.ra, truth.dec, truth.size, truth.pixel_scale)
    written: dict[str, Path] = {}
    for band, fwhm in truth.psf_fwhm:
        psf = _gaussian_psf(fwhm / truth.pixel_scale)
        blank = np.zeros((truth.size, truth.size), dtype=np.float32)
        mask = np.zeros(blank.shape, dtype=np.int16)
        # A masked "neighbour" in one corner, as real cut-outs have.
        mask[:6, -6:] = 1
        band_header = header.copy()
        band_header["FILTER"] = f"sdss {band}"
        band_header["GAIN"] = truth.gain
        ones = np.ones_like(blank)
        files = {
            f"{band}_band": fits.HDUList([fits.PrimaryHDU(blank, band_header)]),
            # The seed reads sigma from HDU 2: keep data and mask in HDUs 0 and 1.
            f"{band}_band_sigma": fits.HDUList(
                [fits.PrimaryHDU(blank, band_header), fits.ImageHDU(mask), fits.ImageHDU(ones, band_header)]
            ),
            f"{band}_psf": fits.HDUList([fits.PrimaryHDU(psf.astype(np.float32))]),
            f"{band}_mask": fits.HDUList([fits.PrimaryHDU(mask, band_header)]),
        }
        for stem, hdul in files.items():
            path = folder / f"{stem}.fits"
            hdul.writeto(path, overwrite=True)
            written[stem] = path
    # SDSS sampling: 1e-4 in log10(lambda), 69 km/s per pixel, 3800-7200 A observed.
    wavelength = 10 ** np.arange(np.log10(3800.0), np.log10(7200.0), 1e-4)
    path = folder / "spectrum.txt"
    np.savetxt(path, np.column_stack([wavelength, np.ones_like(wavelength), np.ones_like(wavelength)]))
    written["spectrum"] = path
    return written


def model_observation(config, tree, table, **options) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Noise-free model images and spectra of ``table`` on the pixels of ``tree``.

    Parameters
    ----------
    config : Config
        Any configuration (photometry or SED mode, with or without spectra).
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`.
    table : ParameterTable
        The truth: every parameter the scenes read.
    **options
        Keyword arguments of :func:`galfits_nb.inference.fit.build_scenes`.

    Returns
    -------
    images : list of ndarray
        One model per fitted image, in the scene's frame order.
    spectra : list of ndarray
        One model spectrum per fitted spectrum (1e-17 erg/s/cm^2/A).
    """
    import jax.numpy as jnp

    from galfits_nb.inference.fit import build_scenes
    from galfits_nb.inference.likelihood import imaging_problem, problem_models

    scene, sed, spectra = build_scenes(config, tree, table, **options)
    problem = imaging_problem(scene, table, sed, spectra)
    u = jnp.asarray(table.to_unconstrained(), dtype=jnp.result_type(float))
    models = [np.asarray(m, dtype=float) for m in problem_models(u, problem)]
    n = len(scene.frames)
    return models[:n], models[n:]


def mock_observation(config, tree, table, *, seed: int | None = 0, noise: bool = True, **options):
    """An observation whose images and spectra are the model of ``table`` plus noise.

    Parameters
    ----------
    config : Config
        Any configuration (photometry or SED mode, with or without spectra).
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`: supplies
        the pixel grids, PSFs, masks, sigma maps and spectral errors.
    table : ParameterTable
        The truth: every parameter the scenes read.
    seed : int or None
        Seed of the noise generator.
    noise : bool
        Add Gaussian noise of the tree's sigma / error (False: the model itself).
    **options
        Keyword arguments of :func:`galfits_nb.inference.fit.build_scenes`.

    Returns
    -------
    xr.DataTree
        A copy of ``tree`` with each fitted image's ``data`` and each fitted
        spectrum's ``flux`` replaced (masked pixels too) and stacked atlases
        restacked; attrs ``mock_seed``.
    """
    import xarray as xr

    from galfits_nb.data.observation import stack_images
    from galfits_nb.inference.fit import build_scenes

    images, spectra = model_observation(config, tree, table, **options)
    scene, _, spectrum_scene = build_scenes(config, tree, table, **options)
    rng = np.random.default_rng(seed)
    nodes = {node.path: _own_dataset(node) for node in tree.subtree}
    for frame, model in zip(scene.frames, images):
        ds = nodes[frame.path]
        image = np.asarray(model, dtype=float)
        if noise:
            image = image + rng.normal(0.0, 1.0, image.shape) * np.asarray(ds.sigma.values, dtype=float)
        nodes[frame.path] = ds.assign(data=(ds.data.dims, image, ds.data.attrs)).assign_attrs(mock_seed=seed)
    for frame, model in zip(spectrum_scene.frames if spectrum_scene is not None else (), spectra):
        path = f"/spectra/{frame.letter}"
        ds = nodes[path]
        flux = np.asarray(model, dtype=float)
        if noise:
            error = np.nan_to_num(np.asarray(ds.error.values, dtype=float), nan=0.0, posinf=0.0)
            flux = flux + rng.normal(0.0, 1.0, flux.shape) * error
        nodes[path] = ds.assign(flux=(ds.flux.dims, flux, ds.flux.attrs)).assign_attrs(mock_seed=seed)
    for path, ds in list(nodes.items()):
        if ds.attrs.get("stacked"):
            members = [nodes[child.path] for child in tree[path].children.values()]
            nodes[path] = stack_images(members).assign_attrs(ds.attrs)
    return xr.DataTree.from_dict(nodes)


def _own_dataset(node):
    """A node's own variables, with the pixel coordinates a stacked parent holds for it."""
    ds = node.to_dataset(inherit=False)
    inherited = {name: node.coords[name] for name in ("y", "x") if name in ds.dims and name not in ds.coords and name in node.coords}
    return ds.assign_coords(inherited) if inherited else ds
