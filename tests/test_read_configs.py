"""From .lyric to xr.DataTree on the real data and on the seed mock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from galfits_nb.config.lyric import read_lyric
from galfits_nb.data.observation import read_observation, summarize_observation

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def quickstart_tree():
    with pytest.warns(UserWarning):  # the cut-outs' headers carry no CTYPE
        return read_observation(read_lyric(SHARED / "j0056_quickstart" / "quickstart.lyric"))


def test_quickstart_ten_bands_three_pixel_scales(quickstart_tree):
    atlases = quickstart_tree["atlas"]
    assert sorted(atlases.children) == ["2mass", "galex", "sdss"]
    scales = {}
    good = {}
    for atlas in atlases.children.values():
        for band, node in atlas.children.items():
            scales[band] = round(node.attrs["pixel_scale"], 3)
            good[band] = int((~node.ds["mask"]).sum())
    assert len(scales) == 10
    assert sorted(set(scales.values())) == [0.396, 1.0, 1.5]
    # REFERENCE.md's degrees of freedom are the unmasked pixels of each cut-out.
    assert good["sloan_r"] == 4356 and good["j"] == 676 and good["galex_fuv"] == 256
    # SDSS atlas (A3 = 1) stacks along band.
    assert list(atlases["sdss"].ds["data"].sizes.values()) == [5, 66, 66]
    text = summarize_observation(quickstart_tree)
    assert "galex_nuv" in text and "0.396" in text


def test_psfs_normalised(quickstart_tree):
    for atlas in quickstart_tree["atlas"].children.values():
        for node in atlas.children.values():
            assert float(node.ds["psf"].sum()) == pytest.approx(1.0, rel=1e-6)


def test_agn_spectrum_tree():
    tree = read_observation(read_lyric(SHARED / "greeneho2004_id2" / "AGNspectrum.lyric"))
    spectrum = tree["spectra/a"].ds
    assert spectrum.sizes["wavelength"] == 3813
    used = spectrum["wavelength"].values[~spectrum["mask"].values]
    # Fit range 3600-7000 A rest frame at z = 0.0295.
    assert used.max() <= 7000 * 1.0295 and used.min() >= 3600 * 1.0295
    assert tree["atlas/sdss"].attrs["spectra"] == ["a"] or list(tree["atlas/sdss"].attrs["spectra"]) == ["a"]


def test_seed_mock_tree(seed_folder):
    tree = read_observation(read_lyric(seed_folder / "seed_joint.lyric"))
    joint = tree["atlas/joint"]
    assert sorted(joint.children) == ["sloan_g", "sloan_i", "sloan_r"]
    g = joint["sloan_g"].ds
    # The mock's masked corner is read from the mask file.
    assert int(g["mask"].sum()) == 36
    # The galaxy is centred on R2: the brightest pixel sits at the centre pixel.
    peak = np.unravel_index(int(np.argmax(np.where(g["mask"], -np.inf, g["data"]))), g["data"].shape)
    cx, cy = joint["sloan_g"].attrs["centre_pixel"]
    assert abs(peak[0] - cy) <= 1 and abs(peak[1] - cx) <= 1
    spectrum = tree["spectra/a"].ds
    assert spectrum.sizes["wavelength"] > 2000


def test_demo_writes_config_params_and_observation(tmp_path):
    from galfits_nb.demo import run_demo

    # Two steps per stage: the demo's whole path (mock, staged fit, every
    # output) without the time to converge; the converged demo is `make demo`.
    files = run_demo(tmp_path / "demo", num_steps=2)
    assert files["config"].exists() and files["params"].exists() and files["truth"].exists()
    import xarray as xr

    tree = xr.open_datatree(files["observation"], engine="h5netcdf")
    assert "joint" in tree["atlas"].children and "a" in tree["spectra"].children
    for role in ("gssummary", "residual_png", "sed_png", "spec_png", "model_fits", "stage1_gssummary"):
        assert files[role].exists() and files[role].stat().st_size > 0, role
    assert "# spectrum: a" in files["gssummary"].read_text()
