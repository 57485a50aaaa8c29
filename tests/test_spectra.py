"""read_spectrum on the real Greene & Ho (2004) spectrum and on small synthetic files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from galfits_nb.config.spec import SpectrumSpec
from galfits_nb.data.spectra import FLUX_UNIT, fit_mask, instrument_fwhm, read_spectrum
from galfits_nb.errors import ObservationError

GREENE_HO = Path("/work/shared/data/greeneho2004_id2/GreeneHo2004_id2.txt")
Z_GH = 0.0295

needs_greene_ho = pytest.mark.skipif(not GREENE_HO.is_file(), reason="Greene & Ho example not present")


def spec_of(path, **kw) -> SpectrumSpec:
    return SpectrumSpec(letter="a", path=str(path), **kw)


@needs_greene_ho
def test_greene_ho_spectrum():
    ds = read_spectrum(spec_of(GREENE_HO, fit_range=(3600.0, 7000.0)), Z_GH)
    raw = np.loadtxt(GREENE_HO)
    assert ds.sizes["wavelength"] == 3813 == raw.shape[0]
    w = ds.wavelength.values
    assert w[0] == pytest.approx(3802.77, abs=0.01) and w[-1] == pytest.approx(9208.7, abs=0.1)
    assert np.all(np.diff(w) > 0)
    # SDSS log-linear sampling, ~69 km/s per pixel
    assert np.median(np.diff(np.log(w))) * 299792.458 == pytest.approx(69.0, abs=0.5)
    np.testing.assert_array_equal(ds.flux.values, raw[:, 1])
    np.testing.assert_array_equal(ds.error.values, raw[:, 2])
    lo, hi = 3600.0 * (1 + Z_GH), 7000.0 * (1 + Z_GH)
    expected = (w < lo) | (w > hi) | ~(raw[:, 2] > 0)
    np.testing.assert_array_equal(ds.mask.values, expected)
    # the rest-frame range starts below the data: only the red end is cut
    assert not ds.mask.values[0] and ds.mask.values[-1]
    assert ds.attrs["n_used"] == int((~expected).sum())
    assert ds.attrs["unit"] == FLUX_UNIT
    np.testing.assert_allclose(ds.attrs["fit_range_observed"], [lo, hi])
    assert "fwhm" not in ds


@needs_greene_ho
def test_flux_conversion_scales_flux_and_error():
    ds = read_spectrum(spec_of(GREENE_HO, flux_conversion=10.0, fit_range=(3600.0, 7000.0)), Z_GH)
    raw = np.loadtxt(GREENE_HO, max_rows=5)
    np.testing.assert_allclose(ds.flux.values[:5], 10 * raw[:, 1])
    np.testing.assert_allclose(ds.error.values[:5], 10 * raw[:, 2])
    assert ds.attrs["flux_conversion"] == 10.0


@needs_greene_ho
@pytest.mark.parametrize("resolution", ["R3500", "r=3500", "R 3500"])
def test_resolving_power(resolution):
    ds = read_spectrum(spec_of(GREENE_HO, resolution=resolution), Z_GH)
    np.testing.assert_allclose(ds.fwhm.values, ds.wavelength.values / 3500.0)
    assert "fwhm_instrument" not in ds.attrs


@needs_greene_ho
@pytest.mark.parametrize("resolution", [2.8, "2.8"])
def test_constant_fwhm(resolution):
    ds = read_spectrum(spec_of(GREENE_HO, resolution=resolution), Z_GH)
    assert ds.attrs["fwhm_instrument"] == 2.8
    assert np.all(ds.fwhm.values == 2.8)


def write_text(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows))  # no trailing newline on purpose
    return path


def test_fourth_column_fwhm_comments_and_commas(tmp_path):
    path = write_text(
        tmp_path / "s.txt",
        ["# wavelength flux error fwhm", "", "4000, 1.0, 0.1, 2.5  # first", "4001 2.0 0.2 2.6", "4002 3.0 0.3 2.7"],
    )
    ds = read_spectrum(spec_of(path, resolution="column"), 0.0)
    np.testing.assert_allclose(ds.fwhm.values, [2.5, 2.6, 2.7])
    np.testing.assert_allclose(ds.flux.values, [1, 2, 3])
    plain = read_spectrum(spec_of(path), 0.0)  # a 4th column without S5 is ignored
    assert "fwhm" not in plain


def test_descending_wavelengths_are_reversed(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4002 3 0.3", "4001 2 0.2", "4000 1 0.1"])
    ds = read_spectrum(spec_of(path), 0.0)
    np.testing.assert_allclose(ds.wavelength.values, [4000, 4001, 4002])
    np.testing.assert_allclose(ds.flux.values, [1, 2, 3])


def test_bad_values_are_masked(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4000 1 0.1", "4001 nan 0.1", "4002 1 0", "4003 1 -1", "4004 1 inf", "4005 1 0.1"])
    with pytest.warns(UserWarning, match="2 NaN/inf"):
        ds = read_spectrum(spec_of(path), 0.0)
    np.testing.assert_array_equal(ds.mask.values, [False, True, True, True, True, False])
    assert np.all(np.isfinite(ds.flux.values)) and np.all(ds.error.values > 0)


def test_fit_mask_uses_rest_frame_range():
    w = np.array([3000.0, 4000.0, 5000.0, 6000.0])
    m = fit_mask(w, np.ones(4), np.ones(4), (2000.0, 2600.0), redshift=1.0)
    np.testing.assert_array_equal(m, [True, False, False, True])


def test_sdss_fits_spectrum(tmp_path):
    loglam = np.log10(3800.0) + 1e-4 * np.arange(50)
    ivar = np.full(50, 4.0)
    ivar[10] = 0.0
    table = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="flux", format="E", array=np.ones(50)),
            fits.Column(name="loglam", format="E", array=loglam),
            fits.Column(name="ivar", format="E", array=ivar),
            fits.Column(name="wdisp", format="E", array=np.full(50, 1.0)),
        ]
    )
    path = tmp_path / "spec-0001-51000-0001.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    ds = read_spectrum(spec_of(path, resolution="column"), 0.0)
    np.testing.assert_allclose(ds.wavelength.values, 10**loglam.astype(np.float32), rtol=1e-6)
    assert ds.error.values[0] == pytest.approx(0.5)
    assert ds.mask.values[10] and ds.mask.sum() == 1
    # wdisp = 1 pixel of 1e-4 dex: sigma = 1e-4 ln(10) lambda
    np.testing.assert_allclose(ds.fwhm.values, 2.3548 * 1e-4 * np.log(10) * ds.wavelength.values, rtol=1e-4)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_error_missing_file(tmp_path):
    with pytest.raises(ObservationError, match="not found") as err:
        read_spectrum(spec_of(tmp_path / "absent.txt"), 0.0)
    assert "absent.txt" in str(err.value)


def test_error_unreadable_row_names_file_and_line(tmp_path):
    path = write_text(tmp_path / "s.txt", ["# header", "4000 1 0.1", "4001 x 0.1"])
    with pytest.raises(ObservationError, match=r"s\.txt:3: expected 3 or 4 numeric columns.*'4001 x 0.1'"):
        read_spectrum(spec_of(path), 0.0)


def test_error_wrong_column_count(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4000 1 0.1", "4001 1"])
    with pytest.raises(ObservationError, match=r"s\.txt:2: expected 3 columns"):
        read_spectrum(spec_of(path), 0.0)
    path = write_text(tmp_path / "t.txt", ["4000 1"])
    with pytest.raises(ObservationError, match=r"t\.txt:1: expected 3 or 4 columns"):
        read_spectrum(spec_of(path), 0.0)


def test_error_not_monotonic(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4000 1 0.1", "4002 1 0.1", "4001 1 0.1"])
    with pytest.raises(ObservationError, match=r"s\.txt:3: expected strictly increasing"):
        read_spectrum(spec_of(path), 0.0)


def test_error_fit_range_outside_data(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4000 1 0.1", "4001 1 0.1"])
    with pytest.raises(ObservationError, match="no usable pixel"):
        read_spectrum(spec_of(path, fit_range=(5000.0, 6000.0)), 0.0)


def test_error_column_resolution_without_column(tmp_path):
    path = write_text(tmp_path / "s.txt", ["4000 1 0.1", "4001 1 0.1"])
    with pytest.raises(ObservationError, match="4th column"):
        read_spectrum(spec_of(path, resolution="column"), 0.0)


def test_error_bad_resolution():
    with pytest.raises(ObservationError, match="S5"):
        instrument_fwhm("Rabc", np.ones(3), None, "x")
    with pytest.raises(ObservationError, match="positive"):
        instrument_fwhm(-1.0, np.ones(3), None, "x")


@needs_greene_ho
def test_masked_ranges_s6_leave_rest_frame_windows_out():
    ranges = ((4878.0, 4900.0), (6540.0, 6590.0))
    plain = read_spectrum(spec_of(GREENE_HO, fit_range=(3600.0, 7000.0)), Z_GH)
    ds = read_spectrum(spec_of(GREENE_HO, fit_range=(3600.0, 7000.0), masked_ranges=ranges), Z_GH)
    w = ds.wavelength.values
    inside = np.zeros(w.size, bool)
    for lo, hi in ranges:
        inside |= (w >= lo * (1 + Z_GH)) & (w <= hi * (1 + Z_GH))
    assert inside.sum() > 30
    np.testing.assert_array_equal(ds.mask.values, plain.mask.values | inside)
    assert ds.attrs["n_used"] == plain.attrs["n_used"] - int((inside & ~plain.mask.values).sum())
