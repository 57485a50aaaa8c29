"""Output files: the .gssummary layout, atomic writes, the mock observation."""

from __future__ import annotations

import numpy as np
import pytest

from galfits_nb.config.lyric import read_lyric
from galfits_nb.config.stages import photometry_stage
from galfits_nb.data.mock import mock_observation
from galfits_nb.data.observation import read_observation
from galfits_nb.inference.fit import fit_images
from galfits_nb.inference.parameters import build_parameter_table
from galfits_nb.atomic import atomic_path, write_text_lines
from galfits_nb.outputs.summary import FitSummary, ImageStatistics, format_gssummary, read_gssummary

# The illustration of CONFIG-FORMAT.md ("The .gssummary layout"), as GalfitS writes it.
GALFITS_EXAMPLE = """\
# target: J0056-0021
# config file: quickstart.lyric
# fitting mode: images - SED
# fitting method: optimizer
# chisq: 25431.2
# reduced chisq: 0.6120
# BIC: 25820.7
# fitting time: 0.21 mins
############# data summary ##############
# image atlas: sdss
#    image number: 0  band: sloan_u  chisq: [2461.3]  dof: [4343.]  reduced chisq: [0.5667]
#    image number: 1  band: sloan_g  chisq: [2604.0]  dof: [4343.]  reduced chisq: [0.5996]
# spectrum: a  chisq: [3551.2]  dof: [3390.]  reduced chisq: [1.0475]
############ fitting summary ############
# free parameters:
pname    best_value
bulge_Re    2.9113
bulge_n    3.8702
logM_bulge    10.4521
"""


def test_reads_the_galfits_layout(tmp_path):
    path = tmp_path / "J0056-0021.gssummary"
    path.write_text(GALFITS_EXAMPLE)
    header, images, table = read_gssummary(path)
    assert header["fitting mode"] == "images - SED" and header["chisq"] == "25431.2"
    assert images[1] == {
        "atlas": "sdss",
        "number": 1,
        "band": "sloan_g",
        "chisq": 2604.0,
        "dof": 4343,
        "reduced_chisq": 0.5996,
    }
    assert list(table["pname"]) == ["bulge_Re", "bulge_n", "logM_bulge"]
    assert table["best_value"][2] == pytest.approx(10.4521)


def test_written_summary_has_the_galfits_layout(tmp_path):
    summary = FitSummary(
        target="T",
        config_file="t.lyric",
        mode="images - photometry",
        method="lm",
        chisq=100.0,
        reduced_chisq=1.01,
        bic=120.5,
        fitting_time=30.0,
        images=(ImageStatistics("sdss", 0, "sloan_g", 60.0, 64), ImageStatistics("sdss", 1, "sloan_r", 40.0, 40)),
        parameters={"best_value": {"a_Re": 1.5, "a_n": 2.0}, "sigma": {"a_Re": 0.1, "a_n": 0.2}},
    )
    lines = format_gssummary(summary)
    expected_start = [
        "# target: T",
        "# config file: t.lyric",
        "# fitting mode: images - photometry",
        "# fitting method: lm",
        "# chisq: 100.00",
        "# reduced chisq: 1.0100",
        "# BIC: 120.50",
        "# fitting time: 0.50 mins",
        "############# data summary ##############",
        "# image atlas: sdss",
        "#    image number: 0  band: sloan_g  chisq: [60.00]  dof: [64.]  reduced chisq: [0.9375]",
    ]
    assert lines[: len(expected_start)] == expected_start
    path = tmp_path / "T.gssummary"
    path.write_text("\n".join(lines) + "\n")
    _, images, table = read_gssummary(path)
    assert [im["reduced_chisq"] for im in images] == [0.9375, 1.0]
    assert list(table.colnames) == ["pname", "best_value", "sigma"]
    assert table["sigma"][1] == pytest.approx(0.2)


def test_interrupted_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    write_text_lines(path, ["old"])
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.fixture(scope="module")
def seed_photometry(seed_folder):
    config = photometry_stage(read_lyric(seed_folder / "seed_joint.lyric"))
    return config, read_observation(config)


def test_mock_observation_noise_and_recovery(seed_photometry):
    config, tree = seed_photometry
    truth = build_parameter_table(config).with_values(
        {"bulge_Re": 1.2, "bulge_n": 3.5, "disk_Re": 3.5, "disk_axrat": 0.45, "disk_ang": 30.0}
        | {f"logNorm_{c}_{b}": v for c, v in (("bulge", 3.9), ("disk", 4.0), ("agn", 3.5)) for b in ("sloan_g", "sloan_r", "sloan_i")}
    )
    clean = mock_observation(config, tree, truth, noise=False)
    noisy = mock_observation(config, tree, truth, seed=3)
    path = "/atlas/joint/sloan_r"
    diff = (noisy[path].data - clean[path].data) / tree[path].sigma
    assert float(diff.mean()) == pytest.approx(0.0, abs=0.05) and float(diff.std()) == pytest.approx(1.0, abs=0.03)
    # The stacked atlas is rebuilt from the new images.
    np.testing.assert_array_equal(noisy["/atlas/joint"].data.sel(band="sloan_r").values, noisy[path].data.values)
    # Flux: the noise-free image of the bulge+disk+nucleus sums to the three fluxes
    # (less what falls outside the cut-out), within 2 %.
    total = 10**3.9 + 10**4.0 + 10**3.5
    assert float(clean[path].data.sum()) == pytest.approx(total, rel=0.02)

    start = truth.with_values({"bulge_Re": 1.8, "bulge_n": 2.5, "disk_Re": 2.8, "disk_axrat": 0.55, "disk_ang": 15.0})
    result = fit_images(config, noisy, start, progress=False)
    for name in ("bulge_Re", "bulge_n", "disk_Re", "disk_axrat", "disk_ang"):
        assert abs(result.table[name].value - truth[name].value) < 4 * result.sigma[name], name
    assert result.reduced_chi2 == pytest.approx(1.0, abs=0.05)
