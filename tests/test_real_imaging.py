"""Photometry-mode bulge + disk fit of the five SDSS bands of J0056-0021 (real data).

What a good fit must show here: convergence, residuals like noise in the outer
parts, a bulge more concentrated than the disk. chi^2 follows the usual
definition, sum(((data - model) / sigma)^2) with sigma the HDU 2 map times I3's
1.8 (docs/data.md); see docs/imaging.md for the numbers and for GalfitS's
reported values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from galfits_nb.config.lyric import read_lyric
from galfits_nb.config.stages import photometry_stage
from galfits_nb.data.observation import read_observation
from galfits_nb.inference.fit import fit_images

QUICKSTART = Path(__file__).resolve().parents[2] / "shared" / "data" / "j0056_quickstart" / "quickstart.lyric"
pytestmark = [
    pytest.mark.skipif(not QUICKSTART.exists(), reason="../shared/data is not beside the repository"),
    pytest.mark.filterwarnings("ignore:.*header has no CTYPE"),  # the cut-outs have none (docs/data.md)
]


@pytest.fixture(scope="module")
def sdss_fit():
    config = photometry_stage(read_lyric(QUICKSTART), ["sdss"])
    return fit_images(config, read_observation(config), method="lm", progress=False)


def test_converges_with_structure(sdss_fit):
    result = sdss_fit
    assert result.converged and not result.interrupted and result.n_steps < 100
    best = {name: result.table[name].value for name in result.free_names}
    assert best["bulge_n"] > best["disk_n"] + 1.0
    assert best["bulge_Re"] < best["disk_Re"]
    for band in ("sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z"):
        assert result.n_good[band] == 4356  # GalfitS's dof for these cut-outs (REFERENCE.md)
    # The disk carries more light than the bulge in the blue, less in the red.
    colour = lambda comp: best[f"logNorm_{comp}_sloan_u"] - best[f"logNorm_{comp}_sloan_i"]  # noqa: E731
    assert colour("disk") > colour("bulge")


def test_outer_parts_look_like_noise(sdss_fit):
    chi2, count = 0.0, 0
    for label, ds in sdss_fit.models.items():
        good = ~ds.mask.values
        radius = np.hypot(*np.meshgrid(ds.x.values, ds.y.values))
        outer = good & (radius > 6.0)
        chi = (ds.residual.values / ds.sigma.values)[outer]
        assert abs(chi.mean()) < 0.15, label  # no systematic over/under-subtraction
        chi2 += float(np.sum(chi**2))
        count += int(outer.sum())
    assert chi2 / count < 1.0


def test_reduced_chi2_is_the_usual_one(sdss_fit):
    result = sdss_fit
    n = sum(result.n_good.values())
    assert result.reduced_chi2 == pytest.approx(result.chi2 / (n - result.n_free))
    # Star-forming knots around the bulge are left in the residual: a few per
    # cent above the noise, not more.
    assert 0.9 < result.reduced_chi2 < 1.1
