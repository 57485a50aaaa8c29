"""Pure SED fitting input: GalfitS-style single-pixel FITS configs, and photometry tables (A8)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from astropy.io import fits

from galfits_nb.config.lyric import ConfigWarning, format_lyric, parse_lyric, read_lyric
from galfits_nb.config.spec import FitsRef, ImageSpec
from galfits_nb.data.filters import load_filter
from galfits_nb.data.images import ObservationWarning, read_image
from galfits_nb.data.observation import read_observation
from galfits_nb.data.photometry import (
    FLAMBDA_UNIT,
    PhotometryTableError,
    ab_zeropoint,
    flux_to_flambda,
    photometry_image_specs,
    photometry_nodes,
    read_photometry_table,
)
from galfits_nb.errors import ConfigError, ObservationError

FLAM = u.erg / u.s / u.cm**2 / u.AA
RA, DEC = 150.1, 2.2
# band -> (flux, error) written in the single pixel (erg/s/cm^2/A, I9 = 1)
BANDS = {"sloan_g": (3.1e-17, 2e-18), "sloan_r": (4.2e-17, 3e-18), "j": (5.0e-17, 5e-18)}

PROFILE = """
Pa1) total
Pa2) sersic
Pa3) [0,-0.3,0.3,0.1,0]
Pa4) [0,-0.3,0.3,0.1,0]
Pa5) [0.2,0.1,1.7,0.1,0]
Pa6) [2,0.5,6,0.1,0]
Pa7) [0,-90,90,1,0]
Pa8) [0.8,0.5,1,0.01,0]
Pa9) [[-1,-4,0,0.1,1]]
Pa10) [[5,0.01,12,0.1,1]]
Pa11) [[0.02,0.001,0.04,0.001,1]]
Pa12) [[0.7,0.3,5.1,0.1,1]]
Pa14) [10,8.5,12,0.1,1]
Pa15) conti
Pa27) 0

Ga1) mygal
Ga2) ['a']
Ga3) [0.1,0.05,0.15,0.01,0]
Ga4) 0.02
Ga5) [1.,0.5,2,0.05,0]
Ga6) []
Ga7) 1
"""


def write_pixel(path: Path, flux: float, error: float, header: fits.Header | None = None) -> None:
    """A GalfitS single-pixel file: data HDU 0, zeros HDU 1, error HDU 2, unit PSF HDU 3."""
    one = np.ones((1, 1), dtype=np.float32)
    hdus = [
        fits.PrimaryHDU(np.float32(flux) * one, header=header),
        fits.ImageHDU(0 * one),
        fits.ImageHDU(np.float32(error) * one),
        fits.ImageHDU(one),
    ]
    fits.HDUList(hdus).writeto(path, overwrite=True)


def image_block(letter: str, band: str, psf: str | None = "[{f},3]", **override: str) -> str:
    keys = {
        1: f"[{band}.fits,0]",
        2: band,
        3: f"[{band}.fits,2]",
        4: None if psf is None else psf.format(f=f"{band}.fits"),
        5: "1",
        6: "[Noimg,0]",
        7: "cR",
        8: "-1",
        9: "1",
        10: "28.3",
        11: "uniform",
        12: "[[0,-0.5,0.5,0.1,0]]",
        13: "0",
        14: "[[0,-5,5,0.1,0],[0,-5,5,0.1,0]]",
        15: "1",
    }
    keys.update({int(k): v for k, v in override.items()})
    return "\n".join(f"I{letter}{k}) {v}" for k, v in keys.items() if v is not None)


def pure_sed_config(folder: Path, psf: str | None = "[{f},3]", atlas_extra: str = "", **override: str) -> Path:
    """Single-pixel files plus a GalfitS-style pure SED config in ``folder``."""
    for band, (flux, error) in BANDS.items():
        write_pixel(folder / f"{band}.fits", flux, error)
    blocks = [image_block(letter, band, psf, **override) for letter, band in zip("abc", BANDS)]
    text = "\n\n".join(
        [
            "R1) psed\nR2) [150.1, 2.2]\nR3) 0.1",
            *blocks,
            "Aa1) 'all'\nAa2) ['a','b','c']\nAa3) 1\nAa4) 0\nAa5) []\nAa6) []\nAa7) []" + atlas_extra,
            PROFILE,
        ]
    )
    path = folder / "psed.lyric"
    path.write_text(text)
    return path


def read_quietly(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ObservationWarning)
        warnings.simplefilter("error", ConfigWarning)
        config = read_lyric(path)
        return config, read_observation(config)


# --------------------------------------------------------------------------
# GalfitS-style single-pixel FITS images
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "psf", ["[{f},3]", None, "none", "[Noimg, 0]", ""], ids=["hdu3", "absent", "none", "noimg", "blank"]
)
def test_single_pixel_config_reads_and_loads(tmp_path, psf):
    config, tree = read_quietly(pure_sed_config(tmp_path, psf=psf))
    assert [im.band for im in config.images] == list(BANDS)
    for band, (flux, error) in BANDS.items():
        ds = tree[f"atlas/all/{band}"].to_dataset()
        assert ds.data.shape == ds.sigma.shape == ds.mask.shape == (1, 1)
        assert ds.data.item() == pytest.approx(flux, rel=1e-6)
        assert ds.sigma.item() == pytest.approx(error, rel=1e-6)
        assert not ds.mask.item()
        np.testing.assert_array_equal(ds.psf.values, [[1.0]])
        assert ds.attrs["total_flux_pixel"] == 1
        assert ds.attrs["psf_oversampling"] == 1
        np.testing.assert_array_equal(ds.attrs["centre_pixel"], [0.0, 0.0])
        assert ds.x.values.tolist() == [0.0] and ds.y.values.tolist() == [0.0]
    atlas = tree["atlas/all"].to_dataset(inherit=False)
    assert atlas.attrs["stacked"] == 1
    assert atlas.total_flux_pixel.values.tolist() == [1, 1, 1]


def test_single_pixel_dataset_looks_like_any_image(tmp_path):
    """Same variables, dims and attrs as a multi-pixel image, differing only in values."""
    _, tree = read_quietly(pure_sed_config(tmp_path))
    # (the stacked atlas node above it lends it its ``band`` coordinate in the tree)
    single = tree["atlas/all/sloan_g"].to_dataset().drop_vars("band")
    big = tmp_path / "big.fits"
    fits.HDUList([fits.PrimaryHDU(np.ones((5, 7))), fits.ImageHDU(np.ones((5, 7)))]).writeto(big)
    spec = ImageSpec("z", FitsRef(str(big), 0), "sloan_g", FitsRef(str(big), 1), FitsRef(str(big), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservationWarning)
        image = read_image(spec, RA, DEC)
    assert set(single.data_vars) == set(image.data_vars)
    assert {v: single[v].dims for v in single.data_vars} == {v: image[v].dims for v in image.data_vars}
    assert set(single.coords) == set(image.coords)
    assert set(single.attrs) == set(image.attrs)
    assert image.attrs["total_flux_pixel"] == 0


def test_single_pixel_config_round_trips(tmp_path):
    path = pure_sed_config(tmp_path, psf=None)
    config = read_lyric(path)
    again = parse_lyric(format_lyric(config, tmp_path), "again.lyric", tmp_path)
    assert again == config
    assert all(im.psf is None for im in again.images)


def test_single_pixel_needs_a_sigma_image(tmp_path):
    config = read_lyric(pure_sed_config(tmp_path, **{"3": "none"}))
    with pytest.raises(ObservationError, match=r"band 'sloan_g'.*single-pixel image needs its flux error"):
        read_observation(config)


@pytest.mark.parametrize(
    "flux,error,words",
    [(np.nan, 1e-18, "masked or not finite"), (1e-17, 0.0, "sigma 0"), (1e-17, -1e-18, "positive error")],
)
def test_single_pixel_bad_values_name_the_band(tmp_path, flux, error, words):
    path = pure_sed_config(tmp_path)
    write_pixel(tmp_path / "j.fits", flux, error)
    config = read_lyric(path)
    with pytest.raises(ObservationError, match=r"band 'j'") as info:
        read_observation(config)
    assert words in str(info.value)


def test_single_pixel_ignores_wcs_and_cutout_size(tmp_path):
    """A WCS pointing elsewhere does not matter; a cut-out size is ignored with a warning."""
    path = pure_sed_config(tmp_path, **{"8": "3.0"})
    header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 10.0, "CRVAL2": -40.0,
                          "CRPIX1": 1.0, "CRPIX2": 1.0, "CDELT1": -1e-4, "CDELT2": 1e-4, "PIXSCALE": 0.4})
    write_pixel(tmp_path / "sloan_g.fits", 3.1e-17, 2e-18, header=header)
    config = read_lyric(path)
    with pytest.warns(ObservationWarning, match=r"I8 = 3.0 is ignored for a single-pixel image"):
        tree = read_observation(config)
    ds = tree["atlas/all/sloan_g"].to_dataset()
    assert ds.attrs["pixel_scale"] == 0.4 and ds.attrs["wcs_header"] == ""
    np.testing.assert_array_equal(ds.attrs["centre_pixel"], [0.0, 0.0])


def test_galfits_photop_files_warn_about_units(tmp_path):
    path = pure_sed_config(tmp_path)
    write_pixel(tmp_path / "sloan_r.fits", 12.0, 1.0, header=fits.Header({"BAND": "sloan_r", "PHOTOP": 1}))
    with pytest.warns(ObservationWarning, match=r"band 'sloan_r'.*PHOTOP = 1.*1e38 erg/s/A"):
        read_observation(read_lyric(path))


# --------------------------------------------------------------------------
# Photometry tables: conversion
# --------------------------------------------------------------------------

ECSV_HEADER = """# %ECSV 1.0
# ---
# datatype:
# - {name: band, datatype: string}
# - {name: flux, datatype: float64}
# - {name: error, datatype: float64}
# - {name: unit, datatype: string}
# schema: astropy-2.0
band flux error unit
"""


def write_table(folder: Path, rows: list[str], name: str = "phot.ecsv", header: str = ECSV_HEADER) -> Path:
    path = folder / name
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def pivot(band: str) -> float:
    return load_filter(band).wave_pivot


def test_jansky_rows_match_astropy(tmp_path):
    table = read_photometry_table(write_table(tmp_path, ["sloan_g 3631 36.31 Jy", "wise_ch1 250 10 uJy"]))
    for band, value, unit in (("sloan_g", 3631.0, u.Jy), ("wise_ch1", 250.0, u.uJy)):
        expected = (value * unit).to_value(FLAM, equivalencies=u.spectral_density(pivot(band) * u.AA))
        entry = table.sel(band=band)
        assert float(entry.flux) == pytest.approx(expected, rel=1e-10)
        assert float(entry.error) / float(entry.flux) == pytest.approx(0.01 if band == "sloan_g" else 0.04)
        assert float(entry.wave_pivot) == pytest.approx(pivot(band))
    assert table.flux.attrs["units"] == FLAMBDA_UNIT
    assert table.input_unit.values.tolist() == ["Jy", "uJy"]
    assert table.row.values.tolist() == [1, 2]


def test_ab_zero_point_is_3631_jy():
    """0 AB mag = 3630.78 Jy (astropy's ABflux), within 1e-4 of the rounded 3631 Jy."""
    lam = pivot("sloan_r")
    zero, _ = flux_to_flambda(0.0, 0.1, "AB", lam)
    expected = (0 * u.ABmag).to_value(FLAM, equivalencies=u.spectral_density(lam * u.AA))
    assert zero == pytest.approx(expected, rel=1e-10)
    jansky, _ = flux_to_flambda(3631.0, 1.0, "Jy", lam)
    assert zero == pytest.approx(jansky, rel=1e-4)
    assert ab_zeropoint(lam) == pytest.approx(2.5 * math.log10(expected), abs=1e-12)


def test_magnitude_row_and_linear_error(tmp_path):
    table = read_photometry_table(write_table(tmp_path, ["sloan_r 20.0 0.1 AB", 'j 17.5 0.05 "AB mag"']))
    lam = pivot("sloan_r")
    expected = (20.0 * u.ABmag).to_value(FLAM, equivalencies=u.spectral_density(lam * u.AA))
    entry = table.sel(band="sloan_r")
    assert float(entry.flux) == pytest.approx(expected, rel=1e-10)
    # sigma_f = f ln(10) / 2.5 sigma_m
    assert float(entry.error) == pytest.approx(expected * math.log(10) / 2.5 * 0.1, rel=1e-10)
    assert float(table.sel(band="j").error / table.sel(band="j").flux) == pytest.approx(0.4 * math.log(10) * 0.05)


@pytest.mark.parametrize(
    "value,unit,reference",
    [
        (1.0, "mJy", 1e-3 * u.Jy),
        (2.5, "nJy", 2.5e-9 * u.Jy),
        (1.0, "µJy", 1e-6 * u.Jy),
        (3e-28, "erg/s/cm2/Hz", 3e-28 * u.erg / u.s / u.cm**2 / u.Hz),
        (3e-28, "erg s-1 cm-2 Hz-1", 3e-28 * u.erg / u.s / u.cm**2 / u.Hz),
        (4e-17, "erg/s/cm2/A", 4e-17 * FLAM),
        (4e-17, "erg/s/cm^2/Å", 4e-17 * FLAM),
        (1e-20, "W/(m2 um)", 1e-20 * u.W / u.m**2 / u.um),
    ],
)
def test_linear_units(value, unit, reference):
    lam = pivot("sloan_i")
    flux, error = flux_to_flambda(value, value / 10, unit, lam)
    expected = reference.to_value(FLAM, equivalencies=u.spectral_density(lam * u.AA))
    assert flux == pytest.approx(expected, rel=1e-10)
    assert error == pytest.approx(expected / 10, rel=1e-10)


def test_nanomaggy_is_22_5_mag():
    lam = pivot("sloan_z")
    assert flux_to_flambda(1.0, 0.1, "nanomaggy", lam)[0] == pytest.approx(
        flux_to_flambda(22.5, 0.1, "AB", lam)[0], rel=1e-10
    )


def test_csv_and_whitespace_tables(tmp_path):
    csv = write_table(tmp_path, ["sloan_g,10,1,uJy", "sloan_r,20,1,uJy"], "phot.csv", "Band,Flux,Flux_err,Unit\n")
    text = write_table(tmp_path, ["sloan_g 10 1 uJy", "sloan_r 20 1 uJy"], "phot.txt", "# band flux error unit\n")
    a, b = read_photometry_table(csv), read_photometry_table(text)
    np.testing.assert_allclose(a.flux.values, b.flux.values)
    assert a.band.values.tolist() == ["sloan_g", "sloan_r"]


# --------------------------------------------------------------------------
# Photometry tables: errors name the file, row and column
# --------------------------------------------------------------------------

TABLE_ERRORS = [
    ("unknown band", ["sloan_g 1 0.1 uJy", "sloan_q 1 0.1 uJy"], r"row 2, column 'band': unknown band 'sloan_q'.*did you mean"),
    ("unknown unit", ["sloan_g 1 0.1 uJy", "sloan_r 1 0.1 furlong"], r"row 2 \(band 'sloan_r'\), column 'unit': unknown unit.*found 'furlong'"),
    ("ampere is no angstrom", ["sloan_g 1 0.1 erg/s/cm2/mA"], r"row 1 \(band 'sloan_g'\), column 'unit': unknown unit"),
    ("zero error", ["sloan_g 1 0.1 uJy", "sloan_r 1 0 uJy"], r"row 2 \(band 'sloan_r'\), column 'error': the error must be positive"),
    ("negative error", ["sloan_g 1 -0.1 uJy"], r"row 1 \(band 'sloan_g'\), column 'error': the error must be positive"),
    ("NaN flux", ["sloan_g 1 0.1 uJy", "j nan 0.1 AB"], r"row 2 \(band 'j'\), column 'flux': not a finite number"),
    ("NaN error", ["sloan_g 1 nan uJy"], r"row 1 \(band 'sloan_g'\), column 'error': not a finite number"),
    ("band twice", ["sloan_g 1 0.1 uJy", "sdss_g0 1 0.1 uJy"], r"row 2 \(band 'sdss_g0'\), column 'band': band listed twice \(first in row 1\)"),
]


@pytest.mark.parametrize("name,rows,pattern", TABLE_ERRORS, ids=[t[0] for t in TABLE_ERRORS])
def test_table_errors_name_file_row_and_column(tmp_path, name, rows, pattern):
    path = write_table(tmp_path, rows)
    with pytest.raises(PhotometryTableError) as info:
        read_photometry_table(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(pattern, message), message
    assert isinstance(info.value, ConfigError) and "\n" not in message


def test_table_empty_cell_and_missing_column(tmp_path):
    csv = write_table(tmp_path, ["sloan_g,10,1,uJy", "sloan_r,,1,uJy"], "gap.csv", "band,flux,error,unit\n")
    with pytest.raises(PhotometryTableError, match=r"gap.csv: row 2 \(band 'sloan_r'\), column 'flux': not a finite"):
        read_photometry_table(csv)
    nounit = write_table(tmp_path, ["sloan_g,10,1"], "nounit.csv", "band,flux,error\n")
    with pytest.raises(PhotometryTableError, match=r"nounit.csv: no 'unit' column.*found band, flux, error"):
        read_photometry_table(nounit)
    with pytest.raises(PhotometryTableError, match="file not found"):
        read_photometry_table(tmp_path / "nothere.ecsv")


# --------------------------------------------------------------------------
# Photometry tables as single-pixel images: A8 and photometry_nodes
# --------------------------------------------------------------------------


def test_photometry_nodes_match_single_pixel_fits_images(tmp_path):
    rows = ["sloan_g 21.0 0.05 AB", "sloan_r 30 2 uJy", "j 5e-17 5e-18 erg/s/cm2/A"]
    table = read_photometry_table(write_table(tmp_path, rows))
    tree = xr.DataTree.from_dict(photometry_nodes(table, atlas="phot", ra=RA, dec=DEC))
    _, fits_tree = read_quietly(pure_sed_config(tmp_path))
    for band in ("sloan_g", "sloan_r", "j"):
        ds = tree[f"atlas/phot/{band}"].to_dataset()
        assert ds.data.item() == pytest.approx(float(table.flux.sel(band=band)))
        assert ds.sigma.item() == pytest.approx(float(table.error.sel(band=band)))
        assert ds.attrs["total_flux_pixel"] == 1 and ds.attrs["flux_conversion"] == 1.0
        assert ds.attrs["unit"] == FLAMBDA_UNIT and ds.data.attrs["units"] == FLAMBDA_UNIT
        assert ds.attrs["zeropoint"] == pytest.approx(ab_zeropoint(float(table.wave_pivot.sel(band=band))))
        other = fits_tree[f"atlas/all/{band}"].to_dataset()
        assert set(ds.attrs) == set(other.attrs) and set(ds.data_vars) == set(other.data_vars)
    stacked = tree["atlas/phot"].to_dataset(inherit=False)
    assert stacked.attrs["stacked"] == 1 and stacked.sizes["band"] == 3
    # the zero point reproduces the magnitude
    g = tree["atlas/phot/sloan_g"].to_dataset()
    assert g.attrs["zeropoint"] - 2.5 * math.log10(g.data.item()) == pytest.approx(21.0, abs=1e-9)


def test_a8_table_in_a_config(tmp_path):
    write_table(tmp_path, ["galex_fuv 21.3 0.1 AB", "sloan_g 412 8 uJy", "wise_ch1 120 10 nanomaggy"])
    path = pure_sed_config(tmp_path, atlas_extra="\n\nAb1) catalogue\nAb2) []\nAb8) phot.ecsv")
    config, tree = read_quietly(path)
    atlas = config.atlases[1]
    assert atlas.images == ("b0", "b1", "b2") and atlas.photometry == str(tmp_path / "phot.ecsv")
    assert [(im.band, im.table_row, im.flux_conversion, im.use_sed) for im in config.images[3:]] == [
        ("galex_fuv", 0, 1.0, True), ("sloan_g", 1, 1.0, True), ("wise_ch1", 2, 1.0, True)
    ]
    node = tree["atlas/catalogue/wise_ch1"].to_dataset()
    expected, _ = flux_to_flambda(120.0, 10.0, "nanomaggy", pivot("wise_ch1"))
    assert node.data.item() == pytest.approx(expected) and node.attrs["letter"] == "b2"
    assert tree["atlas/catalogue"].attrs["photometry"] == str(tmp_path / "phot.ecsv")
    # written back as A8, not as image blocks
    text = format_lyric(config, tmp_path)
    assert "Ab8) phot.ecsv" in text and "Ib0" not in text and "Ab2) []" in text
    assert parse_lyric(text, "again.lyric", tmp_path) == config


def test_a8_table_error_names_config_line_and_table_row(tmp_path):
    write_table(tmp_path, ["sloan_g 1 0.1 uJy", "sloan_q 1 0.1 uJy"])
    path = pure_sed_config(tmp_path, atlas_extra="\n\nAb1) catalogue\nAb2) []\nAb8) phot.ecsv")
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("Ab8)"))
    with pytest.raises(ConfigError) as info:
        read_lyric(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: Ab8: "), message
    assert "phot.ecsv: row 2, column 'band': unknown band 'sloan_q'" in message


def test_a8_missing_table(tmp_path):
    path = pure_sed_config(tmp_path, atlas_extra="\n\nAb1) catalogue\nAb2) []\nAb8) nothere.ecsv")
    with pytest.raises(ConfigError, match=r"Ab8: expected an existing file"):
        read_lyric(path)
    config = read_lyric(path, check_files=False)
    with pytest.raises(ObservationError, match=r"atlas 'catalogue' \(Ab8\) names the photometry table"):
        read_observation(config)


def test_image_specs_letters_and_zero_points(tmp_path):
    table = read_photometry_table(write_table(tmp_path, ["sloan_u 1 0.1 uJy", "ks 1 0.1 uJy"]))
    specs = photometry_image_specs(table, letter_prefix="c")
    assert [s.letter for s in specs] == ["c0", "c1"]
    assert all(s.psf is None and s.sigma is None and s.cutout == -1.0 for s in specs)
    # 0 AB mag in f_lambda: brighter (larger f_lambda) in the blue, so the zero point is larger there
    assert specs[0].zeropoint > specs[1].zeropoint


def test_single_pixel_image_by_hand_keeps_arrays_finite():
    from galfits_nb.data.images import single_pixel_image

    spec = ImageSpec("a", FitsRef("cat.fits", 0), "sloan_g", None, None, unit=FLAMBDA_UNIT, flux_conversion=1.0)
    good = single_pixel_image(spec, 2e-17, 1e-18, RA, DEC)
    assert good.data.item() == 2e-17 and not good.mask.item() and good.attrs["total_flux_pixel"] == 1
    bad = single_pixel_image(spec, float("nan"), 1e-18, RA, DEC)
    assert bad.mask.item() and np.isfinite(bad.data.item()) and bad.sigma.item() > 0
