"""Pure SED fitting of bagpipes-made photometry: stellar mass and A_V are recovered."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bagpipes")

import sed_cases  # noqa: E402


@pytest.mark.parametrize("index", [0, 1])
def test_pure_sed_fit_recovers_mass_and_attenuation(tmp_path, index):
    truth = sed_cases.TRUTHS[index]
    case = sed_cases.write_case(tmp_path, truth, snr=20.0, seed=index + 1)
    result = sed_cases.fit_case(case)
    values = result.table.values()
    assert result.converged
    # 14 bands, 5 free parameters: chi^2 should look like chi^2(9)
    assert result.chi2 < 30.0
    assert abs(values["logM_gal"] - case.log_living_mass) < 0.1
    assert abs(values["gal_Av_value"] - truth["Av"]) < 0.15
    # the model photometry goes through the table's points
    model = np.array([float(result.models[label].model.values.item()) for label in result.models])
    data = np.array([float(result.models[label].data.values.item()) for label in result.models])
    assert np.all(np.abs(model / data - 1) < 0.3)
