"""read_image on the real j0056 cut-outs and on synthetic FITS files with a TAN WCS."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from galfits_nb.config.spec import FitsRef, ImageSpec
from galfits_nb.data.images import (
    ObservationWarning,
    galfit_sigma,
    normalise_psf,
    read_image,
    sky_statistics,
)
from galfits_nb.errors import ObservationError

J0056 = Path("/work/shared/data/j0056_quickstart")
RA0, DEC0 = 14.13899, -0.36266

# (file stem, band, expected shape, pixel scale "/px); dof from REFERENCE.md
J0056_BANDS = [
    ("sdssu", "sloan_u", 66, 0.396),
    ("sdssg", "sloan_g", 66, 0.396),
    ("sdssr", "sloan_r", 66, 0.396),
    ("sdssi", "sloan_i", 66, 0.396),
    ("sdssz", "sloan_z", 66, 0.396),
    ("tmassJ", "j", 26, 1.0),
    ("tmassH", "h", 26, 1.0),
    ("tmassK", "ks", 26, 1.0),
    ("galexfuv", "galex_fuv", 16, 1.5),
    ("galexnuv", "galex_nuv", 16, 1.5),
]
REFERENCE_DOF = {66: 4356, 26: 676, 16: 256}

needs_j0056 = pytest.mark.skipif(not J0056.is_dir(), reason="j0056 example data not present")


def j0056_spec(stem: str, band: str, sigma: FitsRef | None | str = "file", cutout=13.44) -> ImageSpec:
    cut = str(J0056 / f"{stem}_cut.fits")
    if sigma == "file":
        sigma = FitsRef(cut, 2)
    return ImageSpec(
        letter="a",
        data=FitsRef(cut, 0),
        band=band,
        sigma=sigma,
        psf=FitsRef(str(J0056 / f"{stem}_psf.fits"), 0),
        mask=FitsRef(cut, 1),
        cutout=cutout,
    )


def read_quiet(spec: ImageSpec, ra: float = RA0, dec: float = DEC0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservationWarning)
        return read_image(spec, ra, dec)


# ---------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------


@needs_j0056
@pytest.mark.parametrize("stem, band, size, scale", J0056_BANDS)
def test_j0056_cutout_keeps_whole_image(stem, band, size, scale):
    """13.44" half size is larger than every image, so 'trim' keeps it whole (GalfitS dof)."""
    ds = read_quiet(j0056_spec(stem, band))
    header = fits.getheader(J0056 / f"{stem}_cut.fits", 0)
    assert ds.data.shape == (size, size)
    assert int((~ds.mask).sum()) == REFERENCE_DOF[size]
    assert ds.attrs["pixel_scale"] == pytest.approx(scale, rel=1e-6)
    # CRVAL is the target, so the target sits at CRPIX (1-based) - 1.
    np.testing.assert_allclose(ds.attrs["centre_pixel"], [header["CRPIX1"] - 1, header["CRPIX2"] - 1], atol=1e-6)
    assert ds.psf.sum() == pytest.approx(1.0)
    assert ds.attrs["band"] == band
    assert ds.attrs["wcs_assumed"] == 1  # these headers carry no CTYPE
    # sigma is the HDU 2 map, untouched
    np.testing.assert_array_equal(ds.sigma.values, fits.getdata(J0056 / f"{stem}_cut.fits", 2).astype(float))


@needs_j0056
def test_j0056_coordinates_are_offsets_from_target():
    ds = read_quiet(j0056_spec("sdssg", "sloan_g"))
    cx, cy = ds.attrs["centre_pixel"]
    scale = ds.attrs["pixel_scale"]
    np.testing.assert_allclose(ds.x.values, (np.arange(66) - cx) * scale)
    np.testing.assert_allclose(ds.y.values, (np.arange(66) - cy) * scale)
    assert ds.x.values[0] < 0 < ds.x.values[-1]
    # assumed standard orientation: East is -x, North is +y
    np.testing.assert_allclose(ds.attrs["east_xy"], [-1, 0], atol=1e-6)
    np.testing.assert_allclose(ds.attrs["north_xy"], [0, 1], atol=1e-6)
    assert "CTYPE1  = 'RA---TAN'" in ds.attrs["wcs_header"]


@needs_j0056
def test_j0056_missing_ctype_warns_with_band():
    with pytest.warns(ObservationWarning, match="sloan_g.*no CTYPE"):
        read_image(j0056_spec("sdssg", "sloan_g"), RA0, DEC0)


@needs_j0056
def test_estimated_sigma_against_provided_sdss_g():
    """GALFIT-style sigma (header GAIN = 4.62) vs the HDU 2 map of the SDSS g cut-out.

    What the data show: the HDU 2 map follows sqrt(s0^2 + data / 53.9), i.e.
    an effective gain equal to EXPTIME (53.9 s), not GAIN; and its floor s0 =
    0.41 is below the pixel-to-pixel sky noise (0.69 in the corners). The
    GALFIT estimate has sky rms 0.90 (the galaxy fills much of the 66x66
    cut-out) and a larger Poisson term (gain 4.62). They agree within a
    factor of about 2 on the sky and 3.4 at the peak.
    """
    given = read_quiet(j0056_spec("sdssg", "sloan_g"))
    estimated = read_quiet(j0056_spec("sdssg", "sloan_g", sigma=None))
    assert "gain=4.62" in estimated.attrs["sigma_source"]
    ratio = (estimated.sigma / given.sigma).values
    assert 1.5 < np.median(ratio) < 3.0
    assert ratio.min() > 1.0 and ratio.max() < 5.0
    # the sky rms is the floor of the estimate
    sky, rms = sky_statistics(estimated.data.values, estimated.mask.values)
    assert estimated.sigma.min() == pytest.approx(rms)
    assert 0.5 < rms < 1.2


@needs_j0056
def test_estimated_sigma_placeholder_file_and_explicit_gain():
    """I3 = [none, 0, gain] estimates sigma with that gain."""
    spec = j0056_spec("sdssg", "sloan_g", sigma=FitsRef(str(J0056 / "none"), 0, 2.0))
    ds = read_quiet(spec)
    assert "gain=2" in ds.attrs["sigma_source"]


# ---------------------------------------------------------------------------
# Synthetic images
# ---------------------------------------------------------------------------

NY, NX = 31, 41
RA, DEC = 150.0, 2.0


def tan_header(cdelt1: float = -1 / 3600, crpix=(21.0, 16.0), ctype=True) -> fits.Header:
    """1"/px TAN header with the target (RA, DEC) at 0-based pixel (20, 15)."""
    w = WCS(naxis=2)
    w.wcs.crpix = crpix
    w.wcs.cdelt = [cdelt1, 1 / 3600]
    w.wcs.crval = [RA, DEC]
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"] if ctype else ["", ""]
    return w.to_header()


def index_image() -> np.ndarray:
    """Pixel value = 1000 * row + column, so a cut-out tells where it came from."""
    rows, cols = np.mgrid[0:NY, 0:NX]
    return 1000.0 * rows + cols


def write_set(folder: Path, data=None, sigma=None, mask=None, psf=None, header=None, name="img.fits") -> Path:
    """Image in HDU 0, mask in HDU 1, sigma in HDU 2, a table in HDU 3; PSF in psf.fits."""
    header = tan_header() if header is None else header
    data = index_image() if data is None else data
    sigma = np.ones((NY, NX)) if sigma is None else sigma
    mask = np.zeros((NY, NX)) if mask is None else mask
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(data, header=header),
            fits.ImageHDU(mask),
            fits.ImageHDU(sigma),
            fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.zeros(3))]),
        ]
    )
    path = folder / name
    hdus.writeto(path, overwrite=True)
    psf = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) if psf is None else psf
    fits.PrimaryHDU(psf).writeto(folder / "psf.fits", overwrite=True)
    return path


def spec_for(path: Path, cutout=-1.0, sigma="file", mask="file", band="sloan_r", **kw) -> ImageSpec:
    return ImageSpec(
        letter="a",
        data=FitsRef(str(path), kw.pop("hdu", 0)),
        band=band,
        sigma=FitsRef(str(path), 2) if sigma == "file" else sigma,
        psf=FitsRef(str(path.parent / "psf.fits"), 0),
        mask=FitsRef(str(path), 1) if mask == "file" else mask,
        cutout=cutout,
        **kw,
    )


def test_four_sided_cutout_standard_orientation(tmp_path):
    """[s1, s2, s3, s4] = -s1..+s2 in RA, -s3..+s4 in Dec; East (+RA) is -x here."""
    path = write_set(tmp_path)
    ds = read_image(spec_for(path, cutout=(3.0, 8.0, 2.0, 5.0)), RA, DEC)
    # RA: 8" East (left, lower columns) and 3" West; Dec: 2" South (lower rows), 5" North.
    assert ds.data.shape == (7, 11)
    np.testing.assert_allclose(ds.attrs["centre_pixel"], [8.0, 2.0], atol=1e-6)
    assert ds.data.values[0, 0] == 1000 * (15 - 2) + (20 - 8)
    assert ds.data.values[-1, -1] == 1000 * (15 + 4) + (20 + 2)
    np.testing.assert_allclose(ds.x.values, np.arange(-8, 3), atol=1e-6)
    np.testing.assert_allclose(ds.y.values, np.arange(-2, 5), atol=1e-6)
    np.testing.assert_allclose(ds.attrs["east_xy"], [-1, 0], atol=1e-6)
    np.testing.assert_allclose(ds.attrs["north_xy"], [0, 1], atol=1e-6)
    # the cut-out WCS still puts the target at centre_pixel
    w = WCS(fits.Header.fromstring(ds.attrs["wcs_header"]))
    np.testing.assert_allclose(w.all_world2pix([[RA, DEC]], 0)[0], ds.attrs["centre_pixel"], atol=1e-6)


def test_four_sided_cutout_flipped_image(tmp_path):
    """With CDELT1 > 0 East is +x, so the 8" East side is cut on the right."""
    path = write_set(tmp_path, header=tan_header(cdelt1=+1 / 3600))
    ds = read_image(spec_for(path, cutout=(3.0, 8.0, 2.0, 5.0)), RA, DEC)
    assert ds.data.shape == (7, 11)
    np.testing.assert_allclose(ds.attrs["centre_pixel"], [3.0, 2.0], atol=1e-6)
    assert ds.data.values[0, 0] == 1000 * 13 + (20 - 3)
    np.testing.assert_allclose(ds.attrs["east_xy"], [1, 0], atol=1e-6)


def test_square_cutout_and_trim(tmp_path):
    path = write_set(tmp_path)
    small = read_image(spec_for(path, cutout=5.0), RA, DEC)
    assert small.data.shape == (10, 10)
    np.testing.assert_allclose(small.attrs["centre_pixel"], [5.0, 5.0], atol=1e-6)
    assert small.data.values[5, 5] == 1000 * 15 + 20
    big = read_image(spec_for(path, cutout=100.0), RA, DEC)  # larger than the image: keep the overlap
    assert big.data.shape == (NY, NX)
    np.testing.assert_allclose(big.attrs["centre_pixel"], [20.0, 15.0], atol=1e-6)
    whole = read_image(spec_for(path, cutout=-1), RA, DEC)
    np.testing.assert_array_equal(whole.data.values, index_image())
    np.testing.assert_allclose(whole.attrs["centre_pixel"], [20.0, 15.0], atol=1e-6)


def test_fractional_centre(tmp_path):
    """A target between pixel centres gives a fractional centre pixel and x offsets."""
    path = write_set(tmp_path, header=tan_header(crpix=(21.3, 16.6)))
    ds = read_image(spec_for(path, cutout=-1), RA, DEC)
    np.testing.assert_allclose(ds.attrs["centre_pixel"], [20.3, 15.6], atol=1e-6)
    np.testing.assert_allclose(ds.x.values[20], -0.3, atol=1e-6)


def test_header_without_wcs_whole_image_only(tmp_path):
    """Single-pixel photometry images (I8 = -1) need no WCS; a cut-out does."""
    path = write_set(tmp_path, header=fits.Header())
    with pytest.warns(ObservationWarning, match="pixel scale set to 1"):
        ds = read_image(spec_for(path, cutout=-1), RA, DEC)
    np.testing.assert_allclose(ds.attrs["centre_pixel"], [20.0, 15.0])
    with pytest.raises(ObservationError, match="no WCS"):
        read_image(spec_for(path, cutout=5.0), RA, DEC)


def test_nan_pixels_are_masked_with_warning(tmp_path):
    data = index_image()
    data[3, 4] = np.nan
    data[5, 6] = np.inf
    path = write_set(tmp_path, data=data)
    with pytest.warns(ObservationWarning, match=r"'sloan_r'.*2 NaN/inf"):
        ds = read_image(spec_for(path), RA, DEC)
    assert ds.mask.values[3, 4] and ds.mask.values[5, 6]
    assert ds.mask.sum() == 2
    assert np.all(np.isfinite(ds.data.values))


def test_mask_file_and_no_mask(tmp_path):
    mask = np.zeros((NY, NX))
    mask[0, :] = 1
    path = write_set(tmp_path, mask=mask)
    ds = read_image(spec_for(path), RA, DEC)
    assert ds.mask.values[0].all() and ds.mask.sum() == NX
    none = read_image(spec_for(path, mask=None), RA, DEC)
    assert not none.mask.any()
    noimg = read_image(spec_for(path, mask=FitsRef(str(tmp_path / "Noimg"), 0)), RA, DEC)
    assert not noimg.mask.any()


def test_masked_bad_sigma_is_allowed_and_filled(tmp_path):
    sigma = np.ones((NY, NX))
    sigma[0, 0] = 0.0
    mask = np.zeros((NY, NX))
    mask[0, 0] = 1
    path = write_set(tmp_path, sigma=sigma, mask=mask)
    ds = read_image(spec_for(path), RA, DEC)
    assert ds.sigma.values[0, 0] == 1.0


def test_estimated_sigma_without_gain_warns(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(10.0, 2.0, (NY, NX))
    data[15, 20] += 400.0
    path = write_set(tmp_path, data=data)
    with pytest.warns(ObservationWarning, match="gain = 1"):
        ds = read_image(spec_for(path, sigma=None), RA, DEC)
    sky, rms = sky_statistics(data, np.zeros(data.shape, bool))
    assert rms == pytest.approx(2.0, rel=0.15)
    assert ds.sigma.values[15, 20] == pytest.approx(np.sqrt(data[15, 20] - sky + rms**2))


def test_gain_from_header_and_ncombine(tmp_path):
    header = tan_header()
    header["GAIN"] = 4.0
    header["NCOMBINE"] = 2
    data = np.full((NY, NX), 5.0)
    data[0, 0] = 805.0
    path = write_set(tmp_path, data=data, header=header)
    ds = read_image(spec_for(path, sigma=None), RA, DEC)
    assert "gain=8" in ds.attrs["sigma_source"]
    assert ds.sigma.values[0, 0] == pytest.approx(np.sqrt(800.0 / 8.0))


def test_galfit_sigma_formula():
    data = np.array([[0.0, 10.0], [110.0, -5.0]])
    sigma = galfit_sigma(data, sky=10.0, sky_rms=2.0, gain=5.0)
    # below-sky pixels get the sky rms; (110 - 10) / 5 + 2**2 = 24
    np.testing.assert_allclose(sigma, [[2.0, 2.0], [np.sqrt(24.0), 2.0]])


def test_psf_is_normalised_and_oversampling_kept(tmp_path):
    path = write_set(tmp_path, psf=np.full((5, 5), 3.0))
    ds = read_image(spec_for(path, psf_oversampling=2), RA, DEC)
    assert ds.psf.shape == (5, 5)
    assert ds.psf.sum() == pytest.approx(1.0)
    assert ds.attrs["psf_oversampling"] == 2
    with pytest.raises(ObservationError, match="PSF sum"):
        normalise_psf(np.zeros((3, 3)))


# ---------------------------------------------------------------------------
# Errors: each names the band, the file and the HDU
# ---------------------------------------------------------------------------


def assert_names(err: pytest.ExceptionInfo, path: Path, hdu: int, band: str = "sloan_r") -> None:
    text = str(err.value)
    assert str(path) in text and f"HDU {hdu}" in text and band in text, text


def test_error_missing_file(tmp_path):
    path = tmp_path / "absent.fits"
    with pytest.raises(ObservationError, match="not found") as err:
        read_image(spec_for(path), RA, DEC)
    assert_names(err, path, 0)


def test_error_hdu_out_of_range(tmp_path):
    path = write_set(tmp_path)
    with pytest.raises(ObservationError, match="out of range") as err:
        read_image(spec_for(path, hdu=7), RA, DEC)
    assert_names(err, path, 7)


def test_error_hdu_without_image(tmp_path):
    path = write_set(tmp_path)
    with pytest.raises(ObservationError, match="2-D image") as err:
        read_image(spec_for(path, hdu=3), RA, DEC)
    assert_names(err, path, 3)


def test_error_sigma_shape(tmp_path):
    path = write_set(tmp_path, sigma=np.ones((5, 5)))
    with pytest.raises(ObservationError, match="shape") as err:
        read_image(spec_for(path), RA, DEC)
    assert_names(err, path, 2)


def test_error_mask_shape(tmp_path):
    path = write_set(tmp_path, mask=np.zeros((5, 5)))
    with pytest.raises(ObservationError, match="shape") as err:
        read_image(spec_for(path), RA, DEC)
    assert_names(err, path, 1)


def test_error_target_outside(tmp_path):
    path = write_set(tmp_path)
    with pytest.raises(ObservationError, match="outside") as err:
        read_image(spec_for(path, cutout=5.0), RA + 0.1, DEC)
    assert_names(err, path, 0)


def test_error_nonpositive_sigma(tmp_path):
    sigma = np.ones((NY, NX))
    sigma[15, 20] = -1.0
    path = write_set(tmp_path, sigma=sigma)
    with pytest.raises(ObservationError, match="sigma <= 0") as err:
        read_image(spec_for(path), RA, DEC)
    assert_names(err, path, 2)


def test_error_is_value_error(tmp_path):
    with pytest.raises(ValueError):
        read_image(spec_for(tmp_path / "absent.fits"), RA, DEC)


def test_four_sided_cutout_rotated_image(tmp_path):
    """On an image rotated by 90 degrees the RA extent runs along y and Dec along x."""
    header = tan_header()
    header["PC1_1"], header["PC1_2"], header["PC2_1"], header["PC2_2"] = 0.0, -1.0, 1.0, 0.0
    path = write_set(tmp_path, header=header)
    ds = read_image(spec_for(path, cutout=(3.0, 8.0, 2.0, 5.0)), RA, DEC)
    assert ds.data.shape == (11, 7)
    east, north = np.asarray(ds.attrs["east_xy"]), np.asarray(ds.attrs["north_xy"])
    assert abs(east[1]) == pytest.approx(1.0) and abs(north[0]) == pytest.approx(1.0)
    # The target sits 8" from the East edge and 2" from the South edge. The box
    # edges fall on pixel centres, and n = round(extent) = 11 px keeps the
    # low-index edge and drops the high-index one (Cutout2D's ceil rule).
    cx, cy = ds.attrs["centre_pixel"]
    east_is_low = east[1] < 0
    east_edge = cy if east_is_low else ds.sizes["y"] - 1 - cy
    south_is_low = north[0] > 0
    south_edge = cx if south_is_low else ds.sizes["x"] - 1 - cx
    assert east_edge == pytest.approx(8.0 if east_is_low else 7.0)
    assert south_edge == pytest.approx(2.0 if south_is_low else 1.0)


def test_degenerate_third_axis_is_dropped(tmp_path):
    path = write_set(tmp_path)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(index_image()[None], header=tan_header()).writeto(cube)
    spec = ImageSpec(letter="a", data=FitsRef(str(cube), 0), band="sloan_r", sigma=None,
                     psf=FitsRef(str(path.parent / "psf.fits"), 0), cutout=5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservationWarning)
        ds = read_image(spec, RA, DEC)
    assert ds.data.shape == (10, 10) and ds.data.values[5, 5] == 1000 * 15 + 20


def test_error_empty_primary_and_not_fits(tmp_path):
    path = write_set(tmp_path)
    empty = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(index_image())]).writeto(empty)
    with pytest.raises(ObservationError, match="expected 2-D image data") as err:
        read_image(spec_for(empty, sigma=None, mask=None), RA, DEC)
    assert_names(err, empty, 0)
    text = tmp_path / "notfits.fits"
    text.write_text("hello")
    with pytest.raises(ObservationError, match="cannot read FITS") as err:
        read_image(spec_for(text, sigma=None, mask=None), RA, DEC)
    assert_names(err, text, 0)
