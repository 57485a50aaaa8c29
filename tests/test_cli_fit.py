"""``galfits`` fitting images: every output written, readable, consistent; Ctrl-C keeps them.

The configuration is the seed's, reduced to its imaging-only photometry stage
(:func:`galfits_nb.config.stages.photometry_stage`), on the seed's mock files.
Outputs are checked with astropy and numpy, not with the package's readers
(except where reading back is the point).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from galfits_nb.cli import main
from galfits_nb.config.lyric import read_lyric, write_lyric
from galfits_nb.config.stages import photometry_stage
from galfits_nb.data.mock import SEED_TRUTH
from galfits_nb.outputs.summary import read_gssummary

TARGET = "J1234+5678"


@pytest.fixture(scope="module")
def photometry_config(seed_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("phot")
    config = photometry_stage(read_lyric(seed_folder / "seed_joint.lyric"))
    return write_lyric(config, folder / "phot.lyric")


@pytest.fixture(scope="module")
def fitted(photometry_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    status = main([str(photometry_config), "--workplace", str(out), "--cal_sigma", "--quiet"])
    return status, out


def test_fit_writes_every_output(fitted):
    status, out = fitted
    assert status == 0
    for suffix in ("params", "gssummary", "residual.png", "model.fits", "constrain"):
        assert (out / f"{TARGET}.{suffix}").stat().st_size > 0
    assert (out / f"{TARGET}.residual.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_summary_agrees_with_params_and_cube(fitted):
    _, out = fitted
    header, images, table = read_gssummary(out / f"{TARGET}.gssummary")
    assert header["fitting mode"] == "images - photometry" and header["fitting method"] == "lm"
    assert [im["band"] for im in images] == ["sloan_g", "sloan_r", "sloan_i"]
    params = Table.read(out / f"{TARGET}.params", format="ascii")
    value = dict(zip(params["pname"], params["value"]))
    for name, best in zip(table["pname"], table["best_value"]):
        assert value[name] == pytest.approx(best, rel=1e-5, abs=1e-6)
    assert np.all(np.asarray(table["sigma"]) > 0)

    with fits.open(out / f"{TARGET}.model.fits") as hdus:
        total = 0.0
        for image in images:
            hdu = hdus[image["band"].upper()]
            data, model, residual = hdu.data.astype(float)
            np.testing.assert_allclose(residual, data - model, atol=1e-3 * np.abs(data).max())
            assert hdu.header["CTYPE1"] == "RA---TAN" and hdu.header["NGOOD"] == image["dof"]
            assert hdu.header["CHISQ"] == pytest.approx(image["chisq"], rel=1e-4)
            total += image["chisq"]
    # The seed's noise model is known: chi^2 over ~17000 pixels within 3 sigma of N.
    n = sum(im["dof"] for im in images)
    assert abs(total - n) < 3 * np.sqrt(2 * n)
    assert float(header["chisq"]) == pytest.approx(total, rel=1e-4)


def test_structure_is_recovered(fitted):
    _, out = fitted
    _, _, table = read_gssummary(out / f"{TARGET}.gssummary")
    best = dict(zip(table["pname"], table["best_value"]))
    sigma = dict(zip(table["pname"], table["sigma"]))
    disk = dict(SEED_TRUTH.disk)
    for key in ("Re", "axrat", "ang"):
        assert abs(best[f"disk_{key}"] - disk[key]) < 4 * sigma[f"disk_{key}"], key


def test_ctrl_c_writes_the_best_parameters_so_far(photometry_config, tmp_path, monkeypatch, capsys):
    import galfits_nb.inference.fit as fit_module

    def interrupt_after_three_steps(step, state, info):  # step counts from 0
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(
        fit_module, "fit_images", functools.partial(fit_module.fit_images, callback=interrupt_after_three_steps)
    )
    status = main([str(photometry_config), "--workplace", str(tmp_path), "--quiet"])
    assert status == 130
    assert "interrupted" in capsys.readouterr().err
    header, _, table = read_gssummary(tmp_path / f"{TARGET}.gssummary")
    assert header["steps"] == "3" and header["interrupted"].startswith("True")
    params = Table.read(tmp_path / f"{TARGET}.params", format="ascii")
    assert np.all(np.isfinite(params["value"]))
    assert (tmp_path / f"{TARGET}.model.fits").exists()


def test_seed_command_line_writes_every_output(seed_folder, tmp_path):
    """The seed's own command (`galfits joint_fit.lyric --work ./joint_output/ --num_s 30000`),
    with --num_s 2: stage 1 and the joint stage run and write every file the seed lists."""
    out = tmp_path / "joint_output"
    status = main([str(seed_folder / "seed_joint.lyric"), "--work", str(out), "--num_s", "2", "--quiet"])
    assert status == 0
    for suffix in ("gssummary", "params", "residual.png", "sed.png", "spec.png", "model.fits"):
        assert (out / f"{TARGET}.{suffix}").stat().st_size > 0, suffix
    assert (out / "stage1_imaging" / f"{TARGET}.gssummary").exists()
    header, images, table = read_gssummary(out / f"{TARGET}.gssummary")
    assert header["fitting mode"] == "images + spectra"
    assert len(images) == 3 and "logM_bulge" in list(table["pname"])
