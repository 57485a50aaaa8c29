"""FITS image -> ``xr.Dataset``: cut-out around (RA, Dec), sigma map, mask, PSF.

One public entry point, :func:`read_image`, reads what an ``I`` block of a
``.lyric`` file names and returns everything a fit needs about that image as
plain arrays with named dimensions. The small functions it is built from
(:func:`sky_statistics`, :func:`galfit_sigma`, :func:`normalise_psf`, ...) are
public too, so a notebook can redo one step by hand.

Coordinate convention
---------------------
Pixel ``(row, column)`` of the cut-out has coordinates

    x = (column - centre_pixel[0]) * pixel_scale      [arcsec]
    y = (row    - centre_pixel[1]) * pixel_scale      [arcsec]

where ``centre_pixel`` is the fractional, 0-based ``(x, y)`` pixel position
of the target (RA, Dec) in the cut-out. So ``x`` increases with the column
index and ``y`` with the row index, and (0, 0) is the target. This is GALFIT's
pixel frame (Peng et al. 2002, AJ 124, 266), shifted to the target and scaled
to arcsec. On a standard North-up, East-left image, +RA (East) is **-x** and
+Dec (North) is **+y**. The true directions, read from the WCS at the target,
are stored as unit vectors ``east_xy`` and ``north_xy`` in the attrs.

Single-pixel images
-------------------
A 1x1 image is a catalogue flux (GalfitS's pure SED fits, CONFIG-FORMAT.md):
its pixel holds the *total* flux of the target in the band. Its dataset has
the same variables and attrs as any other image, with ``total_flux_pixel =
1`` (0 for every other image): a renderer puts each component's total band
flux in the pixel, whatever its shape, pixel scale or centre. The pixel
scale is then nominal (header ``PIXSCALE``, else 1"), the target sits at
``x = y = 0``, no WCS is read, the PSF is a 1x1 unit array and a sigma
image is required (:func:`single_pixel_image`, docs/data.md).

Nothing here imports jax.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.nddata.utils import NoOverlapError
from astropy.stats import sigma_clipped_stats
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from galfits_nb.config.spec import FitsRef, ImageSpec
from galfits_nb.errors import ObservationError

__all__ = [
    "ObservationWarning",
    "ImageGeometry",
    "read_image",
    "read_fits_header",
    "read_fits_array",
    "image_wcs",
    "target_geometry",
    "cutout_extent",
    "sky_statistics",
    "galfit_sigma",
    "normalise_psf",
    "is_placeholder",
    "single_pixel_image",
]

# File names that mean "no file" in GalfitS configs (I3, I6): `none`, blank,
# and the `Noimg` used by GalfitS's own examples.
_PLACEHOLDER_NAMES = {"", "none", "noimg", "null"}


class ObservationWarning(UserWarning):
    """Something in the data was repaired or assumed; the message names the band."""


class ImageGeometry(NamedTuple):
    """Where the target sits on an image and how the sky maps onto its pixels.

    Attributes
    ----------
    centre : tuple of 2 float
        0-based fractional pixel ``(x, y)`` = (column, row) of the target.
    pixel_scale : float
        Arcsec per pixel (geometric mean of the two axes).
    east_xy, north_xy : tuple of 2 float
        Unit vectors pointing East (+RA) and North (+Dec) in the pixel
        ``(x, y)`` frame at the target; ``(-1, 0)`` and ``(0, 1)`` on a
        North-up, East-left image.
    """

    centre: tuple[float, float]
    pixel_scale: float
    east_xy: tuple[float, float]
    north_xy: tuple[float, float]


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def is_placeholder(ref: FitsRef | None) -> bool:
    """True when ``ref`` is absent or names no file (``none``, ``Noimg``, blank)."""
    return ref is None or Path(str(ref.path)).name.strip().lower() in _PLACEHOLDER_NAMES


def _where(ref: FitsRef, band: str, role: str) -> str:
    return f"band {band!r}: {role} {ref.path}[HDU {ref.hdu}]"


Slices = tuple[slice, slice]


@contextmanager
def _image_hdu(ref: FitsRef, band: str, role: str) -> Iterator[tuple[fits.ImageHDU, tuple[int, int]]]:
    """Open ``ref`` and yield ``(hdu, (ny, nx))`` once it is known to be a 2-D image."""
    where = _where(ref, band, role)
    path = Path(ref.path)
    if not path.is_file():
        raise ObservationError(f"{where}: file not found")
    try:
        hdul = fits.open(path)
    except OSError as exc:  # astropy raises OSError for files that are not FITS
        raise ObservationError(f"{where}: cannot read FITS file ({exc})") from exc
    with hdul:
        if not 0 <= ref.hdu < len(hdul):
            raise ObservationError(
                f"{where}: HDU index out of range (the file has {len(hdul)} HDU(s), 0..{len(hdul) - 1})"
            )
        hdu = hdul[ref.hdu]
        shape = tuple(int(v) for v in hdu.shape) if hdu.is_image else ()
        core = tuple(v for v in shape[:-2] if v != 1) + shape[-2:]  # drop length-1 leading axes
        if len(core) != 2 or min(core) < 1:
            found = f"shape {shape}" if hdu.is_image else f"a {type(hdu).__name__}"
            raise ObservationError(f"{where}: expected 2-D image data, found {found}")
        yield hdu, (core[0], core[1])


def read_fits_header(ref: FitsRef, band: str, role: str = "image") -> tuple[fits.Header, tuple[int, int]]:
    """Header and 2-D shape ``(ny, nx)`` of one image HDU, without reading its pixels.

    Raises
    ------
    ObservationError
        Missing file, unreadable file, HDU out of range, HDU without 2-D data.
    """
    with _image_hdu(ref, band, role) as (hdu, shape):
        return hdu.header.copy(), shape


def read_fits_array(
    ref: FitsRef, band: str, role: str = "image", slices: Slices | None = None
) -> tuple[np.ndarray, fits.Header]:
    """Read one HDU (or a section of it) as a 2-D float64 array, with its header.

    Parameters
    ----------
    ref : FitsRef
        File and HDU index.
    band : str
        Band name, used in error messages.
    role : str
        ``'image'``, ``'sigma'``, ``'mask'`` or ``'psf'``, used in error messages.
    slices : tuple of 2 slice, optional
        ``(rows, columns)`` to read; only that section is read from disk
        (``hdu.section``), so cutting a small region out of a large mosaic
        stays cheap.

    Returns
    -------
    array : ndarray of shape (ny, nx), float64
        Length-1 axes of a 3-D or 4-D HDU are dropped.
    header : astropy.io.fits.Header

    Raises
    ------
    ObservationError
        Missing file, unreadable file, HDU out of range, HDU without 2-D data.
    """
    with _image_hdu(ref, band, role) as (hdu, shape):
        rows, cols = slices if slices is not None else (slice(0, shape[0]), slice(0, shape[1]))
        leading = (0,) * (len(hdu.shape) - 2)
        array = np.array(hdu.section[leading + (rows, cols)], dtype=np.float64)
        return array, hdu.header.copy()


# --------------------------------------------------------------------------
# WCS and geometry
# --------------------------------------------------------------------------

_WCS_KEYS = ("CRVAL1", "CRPIX1", "CDELT1", "CD1_1", "PC1_1", "CTYPE1")


def image_wcs(header: fits.Header, where: str = "") -> tuple[WCS | None, bool]:
    """Return the 2-D celestial WCS of ``header`` and whether it was assumed.

    Cut-outs written by GalfitS's own tools (like those in the j0056 example)
    carry CRVAL/CRPIX/CDELT but no CTYPE, which astropy reads as a linear,
    non-celestial frame. Such a header is read as a gnomonic (TAN) projection
    with the standard orientation North up, East left (CDELT1 < 0 unless a CD
    or PC matrix says otherwise; CROTA2 is kept): the orientation GalfitS
    assumes for its model images. A warning says so.

    Parameters
    ----------
    header : Header
    where : str
        Text naming the file and band, for the warning.

    Returns
    -------
    wcs : WCS or None
        None when the header has no WCS keywords at all.
    assumed : bool
        True when the projection was assumed as above.
    """
    if not any(key in header for key in _WCS_KEYS):
        return None, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, naxis=2)
    if wcs.has_celestial:
        return wcs.celestial, False
    fixed = header.copy()
    fixed["CTYPE1"], fixed["CTYPE2"] = "RA---TAN", "DEC--TAN"
    fixed["CUNIT1"], fixed["CUNIT2"] = "deg", "deg"
    has_matrix = any(k in header for k in ("CD1_1", "CD2_2", "PC1_1", "PC2_2"))
    if not has_matrix and "CDELT1" in header:
        fixed["CDELT1"] = -abs(float(header["CDELT1"]))
        fixed["CDELT2"] = abs(float(header.get("CDELT2", header["CDELT1"])))
    warnings.warn(
        f"{where}: header has no CTYPE; assuming RA---TAN/DEC--TAN with North up and "
        "East left (GalfitS's cut-out convention)",
        ObservationWarning,
        stacklevel=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(fixed, naxis=2), True


def _sky_to_pixel(wcs: WCS, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Sky (deg) -> 0-based pixel (x, y), respecting the WCS axis order."""
    world = [None, None]
    world[wcs.wcs.lng] = np.atleast_1d(ra)
    world[wcs.wcs.lat] = np.atleast_1d(dec)
    x, y = wcs.all_world2pix(world[0], world[1], 0)
    return np.stack([x, y], axis=-1)


def target_geometry(wcs: WCS, ra: float, dec: float) -> ImageGeometry:
    """Pixel position of (RA, Dec), pixel scale and sky directions on an image.

    Parameters
    ----------
    wcs : WCS
        2-D celestial WCS.
    ra, dec : float
        Target in degrees.

    Returns
    -------
    ImageGeometry
        The sky directions come from pixel positions of points 1 pixel away
        East and North of the target along great circles
        (``SkyCoord.spherical_offsets_by``), so they hold at any rotation,
        flip or declination.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    scales_deg = proj_plane_pixel_scales(wcs)
    pixel_scale = float(np.sqrt(scales_deg[0] * scales_deg[1]) * 3600.0)
    target = SkyCoord(ra * u.deg, dec * u.deg)
    step = pixel_scale * u.arcsec
    east = target.spherical_offsets_by(step, 0 * u.arcsec)
    north = target.spherical_offsets_by(0 * u.arcsec, step)
    points = _sky_to_pixel(
        wcs,
        np.array([ra, east.ra.deg, north.ra.deg]),
        np.array([dec, east.dec.deg, north.dec.deg]),
    )
    centre = points[0]

    def unit(v: np.ndarray) -> tuple[float, float]:
        v = v / np.hypot(*v)
        return (float(v[0]), float(v[1]))

    return ImageGeometry(
        centre=(float(centre[0]), float(centre[1])),
        pixel_scale=pixel_scale,
        east_xy=unit(points[1] - centre),
        north_xy=unit(points[2] - centre),
    )


def cutout_extent(
    size: float | tuple[float, float, float, float], geometry: ImageGeometry
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Centre and shape (in pixels) of the cut-out box that I8 asks for.

    Parameters
    ----------
    size : float or tuple of 4 float
        I8 in arcsec. A scalar ``s`` is a square box ``2s x 2s`` centred on
        the target and aligned with the pixel axes (as
        ``Cutout2D(size=2s arcsec)``). ``(s1, s2, s3, s4)`` spans -s1..+s2 in
        RA (towards West..East) and -s3..+s4 in Dec (South..North); the box is
        the pixel-aligned bounding box of that sky rectangle.
    geometry : ImageGeometry

    Returns
    -------
    position : tuple of 2 float
        Box centre ``(x, y)``, 0-based pixels, for ``Cutout2D(position=...)``.
    shape : tuple of 2 int
        ``(ny, nx)`` in pixels, for ``Cutout2D(size=...)``.

    Notes
    -----
    An axis gets ``n = round(extent / pixel_scale)`` pixels starting at
    ``ceil(box centre - n / 2)``, as in ``Cutout2D``. When both box edges
    fall on pixel centres (e.g. a target on a pixel centre and whole-pixel
    sizes), the low-index edge pixel is kept and the high-index one dropped:
    ``s = 5`` px keeps 5 pixels below the target and 4 above.
    """
    centre = np.asarray(geometry.centre, dtype=float)
    scale = geometry.pixel_scale
    if np.ndim(size) == 0:
        half = np.full(2, float(size) / scale)
        lo, hi = -half, half
    else:
        s1, s2, s3, s4 = (float(v) for v in size)
        east, north = np.asarray(geometry.east_xy), np.asarray(geometry.north_xy)
        corners = np.array([a * east + b * north for a in (-s1, s2) for b in (-s3, s4)]) / scale
        lo, hi = corners.min(axis=0), corners.max(axis=0)  # pixel offsets (x, y) from the target
    n = np.round(hi - lo).astype(int)
    # First pixel as Cutout2D chooses it, ceil(box centre - n/2), with the
    # edge rounded to 1e-6 px so that a box edge falling on a pixel centre is
    # not decided by floating-point noise in the WCS.
    first = np.ceil(np.round(centre + 0.5 * (lo + hi) - 0.5 * n, 6))
    position = first + 0.5 * n
    return (float(position[0]), float(position[1])), (int(n[1]), int(n[0]))


# --------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------


def sky_statistics(data: np.ndarray, bad: np.ndarray) -> tuple[float, float]:
    """Sky level and sky rms from 3-sigma clipped statistics (iterated to convergence).

    Parameters
    ----------
    data : ndarray of shape (ny, nx)
        Image, any unit.
    bad : ndarray of bool, shape (ny, nx)
        True where a pixel must be ignored.

    Returns
    -------
    sky, rms : float
        Clipped median and clipped standard deviation (image units).

    Notes
    -----
    On a small cut-out that the galaxy fills, the clipped rms is biased high
    by the galaxy's outskirts: on the 66x66 j0056 SDSS g cut-out it is 0.90,
    against 0.69 measured in the corners.
    """
    good = data[~bad]
    _, median, std = sigma_clipped_stats(good, sigma=3.0, maxiters=None)
    return float(median), float(std)


def galfit_sigma(data: np.ndarray, sky: float, sky_rms: float, gain: float) -> np.ndarray:
    """Sigma image made from the data as GALFIT makes it.

    Poisson noise of the source counts above the sky plus the sky noise
    (Peng et al. 2002, AJ 124, 266, Sect. 3.2; GALFIT user manual, "sigma
    image"):

        sigma = sqrt( max(data - sky, 0) / gain  +  sky_rms**2 )

    in image units (ADU), with ``gain`` in e-/ADU. GALFIT multiplies GAIN by
    NCOMBINE for combined frames; :func:`read_image` does the same. For images
    in count *rates* pass ``gain * exptime`` (electrons per unit of the image).

    Parameters
    ----------
    data : ndarray of shape (ny, nx)
    sky, sky_rms : float
        Sky level and rms (image units), e.g. from :func:`sky_statistics`.
    gain : float
        Effective gain, electrons per image unit; > 0.

    Returns
    -------
    ndarray of shape (ny, nx)
        Sigma in image units; pixels below the sky get ``sky_rms``.
    """
    source = np.clip(np.nan_to_num(data - sky, nan=0.0), 0.0, None)
    return np.sqrt(source / gain + sky_rms**2)


# --------------------------------------------------------------------------
# PSF
# --------------------------------------------------------------------------


def normalise_psf(psf: np.ndarray, where: str = "psf") -> np.ndarray:
    """Return the PSF scaled to unit sum.

    Parameters
    ----------
    psf : ndarray of shape (my, mx)
    where : str
        Names file and band in errors.

    Raises
    ------
    ObservationError
        Non-finite pixels or a non-positive sum.
    """
    if not np.all(np.isfinite(psf)):
        raise ObservationError(f"{where}: PSF has {np.sum(~np.isfinite(psf))} NaN/inf pixel(s)")
    total = float(psf.sum())
    if not total > 0:
        raise ObservationError(f"{where}: PSF sum is {total:g}; expected a positive sum")
    return psf / total


# --------------------------------------------------------------------------
# The whole image
# --------------------------------------------------------------------------


def _check_shape(ref: FitsRef, spec: ImageSpec, role: str, shape: tuple[int, int]) -> None:
    """Raise unless the sigma / mask HDU has the data's shape."""
    _, found = read_fits_header(ref, spec.band, role)
    if found != shape:
        raise ObservationError(
            f"{_where(ref, spec.band, role)}: shape {found} differs from the data "
            f"{spec.data.path}[HDU {spec.data.hdu}] shape {shape}"
        )


def _read_mask(spec: ImageSpec, slices: Slices, shape: tuple[int, int]) -> np.ndarray:
    """Bad-pixel mask of the cut-out, True = bad (I6: any non-zero or NaN value)."""
    if is_placeholder(spec.mask):
        return np.zeros(shape, dtype=bool)
    mask, _ = read_fits_array(spec.mask, spec.band, "mask", slices)
    return (mask != 0) | ~np.isfinite(mask)


def _gain(spec: ImageSpec, header: fits.Header, where: str) -> float:
    gain = spec.sigma.gain if spec.sigma is not None else None
    if gain is None:
        gain = header.get("GAIN")
    if gain is None or not float(gain) > 0:
        warnings.warn(
            f"{where}: no gain (I3's third value or header GAIN); estimating sigma with gain = 1",
            ObservationWarning,
            stacklevel=3,
        )
        gain = 1.0
    ncombine = float(header.get("NCOMBINE", 1) or 1)
    return float(gain) * ncombine


def _psf(spec: ImageSpec) -> tuple[np.ndarray, str]:
    if is_placeholder(spec.psf):
        warnings.warn(
            f"{_where(spec.data, spec.band, 'image')}: no PSF (I4 absent or none); the model is not "
            "convolved (a delta-function PSF)",
            ObservationWarning,
            stacklevel=3,
        )
        return np.ones((1, 1)), "none (delta function)"
    psf, _ = read_fits_array(spec.psf, spec.band, "psf")
    return normalise_psf(psf, _where(spec.psf, spec.band, "psf")), f"{spec.psf.path}[{spec.psf.hdu}]"


def _whole_image_geometry(shape: tuple[int, int], header: fits.Header, where: str) -> ImageGeometry:
    """Geometry of an image without WCS (only allowed with I8 = -1)."""
    scale = header.get("PIXSCALE", header.get("PIXSCAL"))
    if scale is None:
        warnings.warn(
            f"{where}: no WCS and no PIXSCALE in the header; pixel scale set to 1 arcsec/px",
            ObservationWarning,
            stacklevel=3,
        )
        scale = 1.0
    ny, nx = shape
    return ImageGeometry(((nx - 1) / 2.0, (ny - 1) / 2.0), float(scale), (-1.0, 0.0), (0.0, 1.0))


_COORDINATES_NOTE = (
    "x = (column - centre_pixel[0]) * pixel_scale, y = (row - centre_pixel[1]) * pixel_scale "
    "[arcsec]; on a North-up East-left image +RA (East) is -x and +Dec (North) is +y; "
    "see east_xy / north_xy"
)


def _image_dataset(
    spec: ImageSpec,
    data: np.ndarray,
    sigma: np.ndarray,
    bad: np.ndarray,
    psf: np.ndarray,
    centre: tuple[float, float],
    scale: float,
    attrs: dict[str, object],
) -> xr.Dataset:
    """Wrap the arrays of one image in the Dataset layout :func:`read_image` documents."""
    ny, nx = data.shape
    coords = {
        "y": ("y", (np.arange(ny) - centre[1]) * scale, {"units": "arcsec", "long_name": "row offset from target"}),
        "x": ("x", (np.arange(nx) - centre[0]) * scale, {"units": "arcsec", "long_name": "column offset from target"}),
    }
    return xr.Dataset(
        {
            "data": (("y", "x"), data, {"units": spec.unit}),
            "sigma": (("y", "x"), sigma, {"units": spec.unit}),
            "mask": (("y", "x"), bad, {"long_name": "bad pixel (True = excluded)"}),
            "psf": (("psf_y", "psf_x"), psf, {"long_name": "PSF, unit sum"}),
        },
        coords=coords,
        attrs=attrs,
    )


def single_pixel_image(
    spec: ImageSpec,
    flux: float,
    error: float,
    ra: float,
    dec: float,
    *,
    masked: bool = False,
    file: str | None = None,
    hdu: int | None = None,
    sigma_source: str = "",
    mask_file: str = "none",
    pixel_scale: float = 1.0,
    n_nonfinite: int = 0,
) -> xr.Dataset:
    """A one-pixel image that holds a band's total flux (pure SED fitting).

    Parameters
    ----------
    spec : ImageSpec
        The image block (band, letter, I7 unit, I9, I10).
    flux, error : float
        The pixel's value and its 1-sigma error, image units (I9 converts
        erg/s/cm^2/A to them; I9 = 1: they are f_lambda).
    ra, dec : float
        Target (R2) in degrees, for the attrs.
    masked : bool
        True when the pixel is bad (it is then not fitted). A non-finite
        flux or error, or an error <= 0, masks it too, and the arrays get
        finite placeholders (data 0, sigma 1).
    file, hdu : optional
        Where the flux came from (default: ``spec.data``).
    sigma_source, mask_file : str
        Provenance, for the attrs.
    pixel_scale : float
        Nominal pixel scale [arcsec/px]; nothing depends on it.
    n_nonfinite : int
        Non-finite values replaced (for the attrs).

    Returns
    -------
    xr.Dataset
        The layout of :func:`read_image` with 1x1 ``data``, ``sigma``,
        ``mask``, a 1x1 unit ``psf``, ``x = y = [0]``, ``centre_pixel =
        (0, 0)``, ``cutout = [-1]``, ``psf_oversampling = 1``, no WCS
        (``wcs_header = ''``), and ``total_flux_pixel = 1``: the pixel holds
        the total flux of every component, so a fixed-shape profile counts
        as integrating to 1 over it.
    """
    attrs = {
        "band": spec.band,
        "letter": spec.letter,
        "file": str(spec.data.path if file is None else file),
        "hdu": int(spec.data.hdu if hdu is None else hdu),
        "sigma_source": sigma_source,
        "mask_file": mask_file,
        "psf_file": "unit 1x1 (single-pixel image)",
        "pixel_scale": float(pixel_scale),
        "zeropoint": float(spec.zeropoint),
        "unit": spec.unit,
        "flux_conversion": float(spec.flux_conversion),
        "psf_oversampling": 1,
        "cutout": np.array([-1.0]),
        "ra": float(ra),
        "dec": float(dec),
        "centre_pixel": np.zeros(2),
        "east_xy": np.array([-1.0, 0.0]),
        "north_xy": np.array([0.0, 1.0]),
        "wcs_header": "",
        "wcs_assumed": 0,
        "n_nonfinite": int(n_nonfinite),
        "coordinates_note": _COORDINATES_NOTE,
        "total_flux_pixel": 1,
    }
    # Keep every array finite, as read_image does: a bad value masks the pixel.
    good = math.isfinite(flux) and math.isfinite(error) and error > 0
    return _image_dataset(
        spec,
        np.full((1, 1), float(flux) if math.isfinite(flux) else 0.0),
        np.full((1, 1), float(error) if good else 1.0),
        np.full((1, 1), bool(masked) or not good),
        np.ones((1, 1)),
        (0.0, 0.0),
        float(pixel_scale),
        attrs,
    )


def _read_single_pixel(spec: ImageSpec, header: fits.Header, ra: float, dec: float) -> xr.Dataset:
    """:func:`read_image` for a 1x1 data HDU: the pixel holds the band's total flux."""
    band = spec.band
    where = _where(spec.data, band, "image")
    if is_placeholder(spec.sigma):
        raise ObservationError(
            f"{where}: a single-pixel image needs its flux error as a sigma image (I3, e.g. "
            "[file, 2] as GalfitS writes it); there are no sky pixels to estimate it from"
        )
    if not (np.ndim(spec.cutout) == 0 and float(spec.cutout) == -1):
        warnings.warn(
            f"{where}: I8 = {spec.cutout} is ignored for a single-pixel image (its pixel holds the total flux)",
            ObservationWarning,
            stacklevel=3,
        )
    if int(header.get("PHOTOP", 0) or 0) == 1:
        warnings.warn(
            f"{where}: header PHOTOP = 1 marks a file made by GalfitS's photometry_to_img, which stores "
            "flux * 4 pi d^2 / 1e38 (a luminosity in 1e38 erg/s/A) rather than a flux; galfits_nb reads "
            f"the pixel in the units I9 gives (I9 = {spec.flux_conversion:g}; 1 means erg/s/cm^2/A). "
            "Rewrite the file with the flux in erg/s/cm^2/A, or use a photometry table (A8)",
            ObservationWarning,
            stacklevel=3,
        )
    value = float(read_fits_array(spec.data, band, "image")[0][0, 0])
    error = float(read_fits_array(spec.sigma, band, "sigma")[0][0, 0])
    sigma_source = f"{spec.sigma.path}[{spec.sigma.hdu}]"
    if spec.sigma.gain is not None:
        error *= float(spec.sigma.gain)
        sigma_source += f" x {float(spec.sigma.gain):g}"
    bad = bool(_read_mask(spec, (slice(0, 1), slice(0, 1)), (1, 1))[0, 0])
    mask_file = "none" if is_placeholder(spec.mask) else f"{spec.mask.path}[{spec.mask.hdu}]"
    n_nonfinite = int(not math.isfinite(value))
    if n_nonfinite or not math.isfinite(error):
        bad = True
    if bad:
        raise ObservationError(
            f"{where}: the single pixel is masked or not finite (data {value:g}, sigma {error:g}); "
            "leave the band out instead"
        )
    if not error > 0:
        raise ObservationError(
            f"{_where(spec.sigma, band, 'sigma')}: the single pixel has sigma {error:g}; expected a positive error"
        )
    scale = header.get("PIXSCALE", header.get("PIXSCAL", 1.0))
    return single_pixel_image(
        spec,
        value,
        error,
        ra,
        dec,
        sigma_source=sigma_source,
        mask_file=mask_file,
        pixel_scale=float(scale),
        n_nonfinite=n_nonfinite,
    )


def read_image(spec: ImageSpec, ra: float, dec: float) -> xr.Dataset:
    """Read one image (an ``I`` block) and cut it out around (RA, Dec).

    Parameters
    ----------
    spec : ImageSpec
        The image block: data, sigma, mask, PSF, band, cut-out size (I8).
    ra, dec : float
        Target (R2) in degrees: the centre of the cut-out and the origin of
        the ``x``/``y`` coordinates.

    Returns
    -------
    xr.Dataset
        Data variables

        * ``data`` (y, x), float64, image units (I7). Non-finite pixels are
          set to 0 and masked.
        * ``sigma`` (y, x), float64, image units: from I3, cut the same way,
          or estimated as GALFIT does (:func:`galfit_sigma`) when I3 is
          absent or names ``none``; gain from I3's third value, else the
          header GAIN (times NCOMBINE), else 1 with a warning. Masked pixels
          with a non-finite or non-positive sigma get the median good sigma,
          so every array is finite.
        * ``mask`` (y, x), bool, True = bad (I6 non-zero, or non-finite data
          or sigma).
        * ``psf`` (psf_y, psf_x), float64, unit sum, sampled at
          ``pixel_scale / psf_oversampling``.

        Coordinates ``x`` and ``y`` in arcsec from the target:
        ``x = (column - centre_pixel[0]) * pixel_scale`` and
        ``y = (row - centre_pixel[1]) * pixel_scale``. On a North-up,
        East-left image, East (+RA) is -x and North (+Dec) is +y; ``east_xy``
        and ``north_xy`` in the attrs give the directions measured from the
        WCS.

        Attributes: band, letter, file, hdu, sigma_source, mask_file,
        psf_file, pixel_scale [arcsec/px], zeropoint, unit,
        flux_conversion, psf_oversampling, cutout (I8), ra, dec,
        centre_pixel (0-based fractional (x, y) of (RA, Dec) in the
        cut-out), east_xy, north_xy, wcs_header
        (``wcs.to_header_string()`` of the cut-out), wcs_assumed (1 when
        the header had no CTYPE, see :func:`image_wcs`), n_nonfinite,
        total_flux_pixel (1 for a single-pixel image, whose pixel holds the
        band's total flux; 0 otherwise).

        A 1x1 data HDU is read by :func:`single_pixel_image`'s rules (module
        docstring); an image standing for a photometry-table row
        (``spec.table_row`` set) by
        :func:`galfits_nb.data.photometry.photometry_image`.

    Raises
    ------
    ObservationError
        Missing file, HDU out of range, HDU without 2-D data, sigma or mask
        shape differing from the data, target outside the image, no WCS
        where a cut-out needs one, non-positive sigma on unmasked pixels,
        a PSF that cannot be normalised, a single-pixel image without a
        sigma image or whose pixel is masked, non-finite or has sigma <= 0.
        Each message names band, file and HDU.
    """
    if spec.table_row is not None:
        from galfits_nb.data.photometry import photometry_image

        return photometry_image(spec, ra, dec)
    band = spec.band
    where = _where(spec.data, band, "image")
    header, shape = read_fits_header(spec.data, band, "image")
    if not is_placeholder(spec.mask):
        _check_shape(spec.mask, spec, "mask", shape)
    if not is_placeholder(spec.sigma):
        _check_shape(spec.sigma, spec, "sigma", shape)
    if shape == (1, 1):
        return _read_single_pixel(spec, header, ra, dec)

    # --- geometry and cut-out -------------------------------------------------
    whole = np.ndim(spec.cutout) == 0 and float(spec.cutout) < 0
    wcs, wcs_assumed = image_wcs(header, where)
    if wcs is None:
        if not whole:
            raise ObservationError(f"{where}: no WCS in the header, so no cut-out around RA, Dec is possible (use I8 = -1)")
        geometry = _whole_image_geometry(shape, header, where)
    else:
        geometry = target_geometry(wcs, ra, dec)
        cx, cy = geometry.centre
        ny, nx = shape
        if not (-0.5 <= cx <= nx - 0.5 and -0.5 <= cy <= ny - 0.5):
            raise ObservationError(
                f"{where}: target RA, Dec = ({ra:.6f}, {dec:.6f}) falls at pixel "
                f"(x, y) = ({cx:.1f}, {cy:.1f}), outside the {nx} x {ny} image"
            )

    if whole:
        slices = (slice(0, shape[0]), slice(0, shape[1]))
        cut_wcs = wcs
        centre = geometry.centre
    else:
        position, size = cutout_extent(spec.cutout, geometry)
        if min(size) < 1:
            raise ObservationError(f"{where}: cut-out size I8 = {spec.cutout} is smaller than one pixel")
        # Cutout2D does the box arithmetic and the cut-out WCS; it is handed a
        # zero-stride stand-in of the image's shape, and only the resulting
        # section is then read from disk.
        stand_in = np.broadcast_to(np.float32(0.0), shape)
        try:
            cutout = Cutout2D(stand_in, position, size, wcs=wcs, mode="trim", copy=False)
        except NoOverlapError as exc:
            raise ObservationError(f"{where}: the cut-out box does not overlap the image") from exc
        slices = cutout.slices_original
        cut_wcs = cutout.wcs
        centre = tuple(float(v) for v in cutout.to_cutout_position(geometry.centre))

    data, _ = read_fits_array(spec.data, band, "image", slices)
    bad = _read_mask(spec, slices, data.shape)
    mask_file = "none" if is_placeholder(spec.mask) else f"{spec.mask.path}[{spec.mask.hdu}]"
    sigma = None if is_placeholder(spec.sigma) else read_fits_array(spec.sigma, band, "sigma", slices)[0]

    # --- bad pixels, sigma -----------------------------------------------------
    nonfinite = ~np.isfinite(data)
    n_nonfinite = int(nonfinite.sum())
    if n_nonfinite:
        warnings.warn(
            f"{where}: {n_nonfinite} NaN/inf pixel(s) in the cut-out are masked",
            ObservationWarning,
            stacklevel=2,
        )
    bad = bad | nonfinite
    if bad.all():
        raise ObservationError(f"{where}: every pixel of the cut-out is masked or non-finite")

    if sigma is None:
        sky, rms = sky_statistics(data, bad)
        gain = _gain(spec, header, where)
        sigma = galfit_sigma(data, sky, rms, gain)
        sigma_source = f"estimated as GALFIT does: sky={sky:.6g}, sky_rms={rms:.6g}, gain={gain:.6g}"
    else:
        sigma_source = f"{spec.sigma.path}[{spec.sigma.hdu}]"
        if spec.sigma.gain is not None:
            # With a sigma map, I3's third value scales the map (what GalfitS
            # does; on the J0056 cut-outs the empty-sky rms is 1.66-1.87 x the
            # SDSS maps, written 1.8, and 0.042-0.057 x the 2MASS maps, written 0.05).
            sigma = sigma * float(spec.sigma.gain)
            sigma_source += f" x {float(spec.sigma.gain):g}"
        nonfinite_sigma = ~np.isfinite(sigma) & ~bad
        if nonfinite_sigma.any():
            warnings.warn(
                f"{_where(spec.sigma, band, 'sigma')}: {int(nonfinite_sigma.sum())} NaN/inf sigma "
                "pixel(s) are masked",
                ObservationWarning,
                stacklevel=2,
            )
            bad = bad | nonfinite_sigma
        nonpositive = (sigma <= 0) & ~bad
        if nonpositive.any():
            row, col = np.argwhere(nonpositive)[0]
            raise ObservationError(
                f"{_where(spec.sigma, band, 'sigma')}: {int(nonpositive.sum())} unmasked pixel(s) "
                f"have sigma <= 0 (first at cut-out row {row}, column {col}); mask them (I6) or fix the map"
            )

    fill = float(np.median(sigma[~bad]))
    sigma = np.where(bad & ~(np.isfinite(sigma) & (sigma > 0)), fill, sigma)
    data = np.where(nonfinite, 0.0, data)

    psf, psf_file = _psf(spec)
    scale = geometry.pixel_scale
    attrs = {
        "band": band,
        "letter": spec.letter,
        "file": str(spec.data.path),
        "hdu": int(spec.data.hdu),
        "sigma_source": sigma_source,
        "mask_file": mask_file,
        "psf_file": psf_file,
        "pixel_scale": scale,
        "zeropoint": float(spec.zeropoint),
        "unit": spec.unit,
        "flux_conversion": float(spec.flux_conversion),
        "psf_oversampling": int(spec.psf_oversampling),
        "cutout": np.atleast_1d(np.asarray(spec.cutout, dtype=float)),
        "ra": float(ra),
        "dec": float(dec),
        "centre_pixel": np.asarray(centre, dtype=float),
        "east_xy": np.asarray(geometry.east_xy),
        "north_xy": np.asarray(geometry.north_xy),
        "wcs_header": cut_wcs.to_header_string() if cut_wcs is not None else "",
        "wcs_assumed": int(wcs_assumed),
        "n_nonfinite": n_nonfinite,
        "coordinates_note": _COORDINATES_NOTE,
        "total_flux_pixel": 0,
    }
    return _image_dataset(spec, data, sigma, bad, psf, centre, scale, attrs)
