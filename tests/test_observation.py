"""read_observation: the j0056 ten-band set (three atlases) plus a spectrum, as one DataTree."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS

from galfits_nb.config.spec import AtlasSpec, Config, FitsRef, ImageSpec, Region, SpectrumSpec
from galfits_nb.data.images import ObservationWarning
from galfits_nb.data.observation import pad_psf, read_observation, summarize_observation
from galfits_nb.errors import ObservationError

J0056 = Path("/work/shared/data/j0056_quickstart")
GREENE_HO = Path("/work/shared/data/greeneho2004_id2/GreeneHo2004_id2.txt")
FILES = [
    ("sdssu", "sloan_u"), ("sdssg", "sloan_g"), ("sdssr", "sloan_r"), ("sdssi", "sloan_i"), ("sdssz", "sloan_z"),
    ("tmassJ", "j"), ("tmassH", "h"), ("tmassK", "ks"), ("galexfuv", "galex_fuv"), ("galexnuv", "galex_nuv"),
]

needs_data = pytest.mark.skipif(not (J0056.is_dir() and GREENE_HO.is_file()), reason="example data not present")


def j0056_config() -> Config:
    """quickstart.lyric's data blocks, built in code; the sdss atlas borrows the Greene & Ho spectrum."""
    images = tuple(
        ImageSpec(
            letter=letter,
            data=FitsRef(str(J0056 / f"{stem}_cut.fits"), 0),
            band=band,
            sigma=FitsRef(str(J0056 / f"{stem}_cut.fits"), 2),
            psf=FitsRef(str(J0056 / f"{stem}_psf.fits"), 0),
            mask=FitsRef(str(J0056 / f"{stem}_cut.fits"), 1),
            cutout=13.44,
            zeropoint=26.466,
        )
        for letter, (stem, band) in zip("abcdefghij", FILES)
    )
    atlases = (
        AtlasSpec(letter="a", name="sdss", images=tuple("abcde"), spectra=("a",), apertures=((1.5,),), reference=(0,)),
        AtlasSpec(letter="b", name="2mass", images=tuple("fgh")),
        AtlasSpec(letter="c", name="galex", images=tuple("ij")),
    )
    spectra = (SpectrumSpec(letter="a", path=str(GREENE_HO), fit_range=(3600.0, 7000.0)),)
    return Config(
        region=Region(name="J0056-0021", ra=14.13899, dec=-0.36266, redshift=0.0628),
        images=images,
        spectra=spectra,
        atlases=atlases,
    )


@pytest.fixture(scope="module")
def j0056_tree() -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservationWarning)
        return read_observation(j0056_config())


@needs_data
def test_tree_layout(j0056_tree):
    tree = j0056_tree
    assert set(tree["atlas"].children) == {"sdss", "2mass", "galex"}
    assert list(tree["atlas/sdss"].children) == ["sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z"]
    assert list(tree["atlas/2mass"].children) == ["j", "h", "ks"]
    assert list(tree["spectra"].children) == ["a"]
    dof = {name: int((~node.mask).sum()) for atlas in tree["atlas"].children.values() for name, node in atlas.children.items()}
    assert dof == {"sloan_u": 4356, "sloan_g": 4356, "sloan_r": 4356, "sloan_i": 4356, "sloan_z": 4356,
                   "j": 676, "h": 676, "ks": 676, "galex_fuv": 256, "galex_nuv": 256}  # REFERENCE.md
    assert tree.attrs["target"] == "J0056-0021"


@needs_data
def test_stacked_atlases(j0056_tree):
    sdss = j0056_tree["atlas/sdss"].to_dataset()
    assert sdss.data.dims == ("band", "y", "x") and sdss.data.shape == (5, 66, 66)
    assert list(sdss.band.values) == ["sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z"]
    np.testing.assert_array_equal(sdss.data.sel(band="sloan_r").values, j0056_tree["atlas/sdss/sloan_r"].data.values)
    assert sdss.attrs["pixel_scale"] == pytest.approx(0.396)
    # 2MASS PSFs differ in size (J 33 px, H and Ks 21 px): zero-padded to 33, centred, unit sum
    tmass = j0056_tree["atlas/2mass"].to_dataset()
    assert tmass.psf.shape == (3, 33, 33)
    np.testing.assert_allclose(tmass.psf.sum(("stack_psf_y", "stack_psf_x")), 1.0)
    h_psf = j0056_tree["atlas/2mass/h"].psf.values
    np.testing.assert_array_equal(tmass.psf.sel(band="h").values[6:27, 6:27], h_psf)
    assert j0056_tree["atlas/galex"].attrs["stacked"] == 1


@needs_data
def test_atlas_attrs(j0056_tree):
    attrs = j0056_tree["atlas/sdss"].attrs
    assert attrs["spectra"] == ["a"]
    np.testing.assert_allclose(attrs["aperture_a"], [1.5])
    assert attrs["reference"] == [0]
    assert attrs["images"] == list("abcde")
    assert j0056_tree["atlas/2mass"].attrs["spectra"] == []


@needs_data
def test_spectrum_node(j0056_tree):
    spec = j0056_tree["spectra/a"]
    assert spec.sizes["wavelength"] == 3813
    np.testing.assert_allclose(spec.attrs["fit_range_observed"], np.array([3600.0, 7000.0]) * 1.0628)


@needs_data
def test_summary_lists_every_band_and_spectrum(j0056_tree):
    text = summarize_observation(j0056_tree)
    for _, band in FILES:
        assert f" {band} " in text
    assert "66x66" in text and "26x26" in text and "16x16" in text
    assert "0.396" in text and "GreeneHo2004_id2.txt" in text


@needs_data
def test_tree_writes_to_netcdf(j0056_tree, tmp_path):
    path = tmp_path / "obs.nc"
    j0056_tree.to_netcdf(path)
    back = xr.open_datatree(path)
    np.testing.assert_array_equal(back["atlas/sdss/sloan_g"].data.values, j0056_tree["atlas/sdss/sloan_g"].data.values)
    back.close()


# ---------------------------------------------------------------------------
# Synthetic cases
# ---------------------------------------------------------------------------


def write_image(path: Path, shape: tuple[int, int], psf_shape=(5, 5)) -> ImageSpec:
    w = WCS(naxis=2)
    w.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    w.wcs.cdelt = [-1 / 3600, 1 / 3600]
    w.wcs.crval = [10.0, 0.0]
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    fits.HDUList([fits.PrimaryHDU(np.ones(shape), header=w.to_header()), fits.ImageHDU(np.ones(shape))]).writeto(path)
    fits.PrimaryHDU(np.ones(psf_shape)).writeto(path.with_suffix(".psf.fits"))
    return ImageSpec(
        letter=path.stem,
        data=FitsRef(str(path), 0),
        band=f"band_{path.stem}",
        sigma=FitsRef(str(path), 1),
        psf=FitsRef(str(path.with_suffix(".psf.fits")), 0),
    )


def test_unstackable_atlas_warns_and_keeps_bands(tmp_path):
    a = write_image(tmp_path / "a.fits", (9, 9))
    b = write_image(tmp_path / "b.fits", (11, 11))
    config = Config(
        region=Region(name="t", ra=10.0, dec=0.0, redshift=0.1),
        images=(a, b),
        atlases=(AtlasSpec(letter="a", name="mixed", images=("a", "b"), same_grid=True),),
    )
    with pytest.warns(ObservationWarning, match="no stacked dataset"):
        tree = read_observation(config)
    assert set(tree["atlas/mixed"].children) == {"band_a", "band_b"}
    assert not tree["atlas/mixed"].data_vars and tree["atlas/mixed"].attrs["stacked"] == 0


def test_orphan_image_warns_and_missing_letter_raises(tmp_path):
    a = write_image(tmp_path / "a.fits", (9, 9))
    b = write_image(tmp_path / "b.fits", (9, 9))
    region = Region(name="t", ra=10.0, dec=0.0, redshift=0.1)
    config = Config(region=region, images=(a, b), atlases=(AtlasSpec(letter="a", name="one", images=("a",)),))
    with pytest.warns(ObservationWarning, match=r"\['b'\] belong to no atlas"):
        tree = read_observation(config)
    assert list(tree["atlas/one"].children) == ["band_a"]
    broken = Config(region=region, images=(a,), atlases=(AtlasSpec(letter="a", name="one", images=("a", "z")),))
    with pytest.raises(ObservationError, match="image 'z'"):
        read_observation(broken)
    broken = Config(region=region, images=(a,), atlases=(AtlasSpec(letter="a", name="one", images=("a",), spectra=("q",)),))
    with pytest.raises(ObservationError, match="spectrum 'q'"):
        read_observation(broken)


def test_pad_psf_centres():
    psf = np.arange(9.0).reshape(3, 3)
    padded = pad_psf(psf, (7, 5))
    assert padded.shape == (7, 5)
    assert padded[3, 2] == psf[1, 1] and padded.sum() == psf.sum()
