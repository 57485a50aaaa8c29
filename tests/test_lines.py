"""The emission-line list: vacuum wavelengths, air <-> vacuum, doublet ratios, ties.

References the tests compare against (none of them computed by the module):

* NIST Atomic Spectra Database air wavelengths of the strong optical lines;
* the vacuum wavelengths of Vanden Berk et al. (2001, AJ 122, 549, Table 2);
* the dispersion formula of standard air of Edlen (1966, Metrologia 2, 71),
  an older fit than the Ciddor (1996) / Morton (2000) one the module uses,
  and the textbook index of standard air at the Na D lines, 1.000277;
* the transition probabilities of Storey & Zeippen (2000, MNRAS 312, 813)
  for [O III] and of Froese Fischer & Tachiev (2004) for [N II].
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from galfits_nb.config.companions import ParamRow, evaluate_tie, read_params, write_params
from galfits_nb.config.spec import NucleusSpec, Param
from galfits_nb.errors import ConfigError
from galfits_nb.inference.parameters import ParameterTable
from galfits_nb.models.lines import (
    DOUBLET_RATIOS,
    LINE_ALIASES,
    LINE_WAVELENGTHS,
    air_to_vacuum,
    canonical_line_name,
    line_wavelength,
    vacuum_to_air,
)

# NIST air wavelengths [A] of lines whose vacuum value the table holds.
NIST_AIR = {
    "Ha": 6562.80,
    "Hb": 4861.33,
    "Hg": 4340.47,
    "Hd": 4101.74,
    "He": 3970.07,
    "HeII_4686": 4685.71,
    "OIII_4363": 4363.21,
    "OIII_4959": 4958.91,
    "OIII_5007": 5006.84,
    "OII_3726": 3726.03,
    "OII_3729": 3728.82,
    "NII_6549": 6548.05,
    "NII_6583": 6583.45,
    "SII_6716": 6716.44,
    "SII_6731": 6730.82,
    "OI_6302": 6300.30,
    "OI_6365": 6363.78,
    "NeIII_3869": 3868.76,
    "NeV_3426": 3425.88,
    "Pab": 12818.08,
    "Brg": 21655.3,
}

# Vacuum wavelengths [A] from Vanden Berk et al. (2001, Table 2).
VANDEN_BERK_VACUUM = {
    "Lya": 1215.67,
    "CIV": 1549.06,
    "CIII": 1908.73,
    "MgII": 2798.75,
    "OII_3727": 3728.48,
    "Hd": 4102.89,
    "Hg": 4341.68,
    "HeII_4686": 4687.02,
    "Hb": 4862.68,
    "OIII_4959": 4960.30,
    "OIII_5007": 5008.24,
    "HeI": 5877.29,
    "OI_6302": 6302.05,
    "OI_6365": 6365.54,
    "Ha": 6564.61,
    "SII_6716": 6718.29,
    "SII_6731": 6732.67,
}


def test_configuration_names_are_known():
    for name in ("Ha", "Hb", "Hg", "Hd", "HeII_4686", "HeI", "OIII_4959", "OIII_5007", "OII_3727",
                 "NII_6549", "NII_6583", "SII_6716", "SII_6731", "OI_6302", "OI_6365", "NeIII_3869",
                 "MgII", "CIII", "CIV", "Lya", "Pab", "Brg"):
        assert name in LINE_WAVELENGTHS
    for target in LINE_ALIASES.values():
        assert target in LINE_WAVELENGTHS


def test_halpha_air_vacuum_published():
    # H-alpha: 6562.80 A in air, 6564.61 A in vacuum (NIST; SDSS line list).
    assert air_to_vacuum(6562.80) == pytest.approx(6564.61, abs=0.01)
    assert vacuum_to_air(6564.61) == pytest.approx(6562.80, abs=0.01)


def test_table_matches_nist_air_wavelengths():
    for name, air in NIST_AIR.items():
        assert float(air_to_vacuum(air)) == pytest.approx(LINE_WAVELENGTHS[name], abs=0.02), name


def test_table_matches_vanden_berk_vacuum_wavelengths():
    for name, vac in VANDEN_BERK_VACUUM.items():
        assert LINE_WAVELENGTHS[name] == pytest.approx(vac, abs=0.02), name


def test_oii_blend_is_mean_of_members():
    members = air_to_vacuum([3726.03, 3728.82])
    assert LINE_WAVELENGTHS["OII_3727"] == pytest.approx(float(members.mean()), abs=0.01)


def test_refractive_index_of_standard_air():
    # Standard dry air (15 C, 101 325 Pa) at the Na D lines: n = 1.000277.
    assert 5891.6 / vacuum_to_air(5891.6) - 1.0 == pytest.approx(2.77e-4, rel=2e-3)
    # Edlen (1966, eq. 1): (n - 1) 1e8 = 8342.13 + 2406030 / (130 - s^2) + 15997 / (38.9 - s^2).
    vac = np.linspace(3000.0, 25000.0, 200)
    s2 = (1e4 / vac) ** 2
    edlen = vac / (1.0 + 1e-8 * (8342.13 + 2406030.0 / (130.0 - s2) + 15997.0 / (38.9 - s2)))
    np.testing.assert_allclose(vacuum_to_air(vac), edlen, atol=2e-3)


def test_air_vacuum_round_trip_and_uv_unchanged():
    wave = np.geomspace(1000.0, 5e4, 301)
    back = air_to_vacuum(vacuum_to_air(wave))
    above = wave >= 2000.5
    np.testing.assert_allclose(back[above], wave[above], rtol=1e-10)
    np.testing.assert_array_equal(air_to_vacuum(wave[wave < 2000.0]), wave[wave < 2000.0])
    np.testing.assert_array_equal(vacuum_to_air(wave[wave < 2000.0]), wave[wave < 2000.0])
    assert vacuum_to_air(np.array([[5000.0]])).shape == (1, 1)


def test_aliases_and_unknown_line():
    assert line_wavelength("Halpha") == LINE_WAVELENGTHS["Ha"]
    assert line_wavelength("[O III] 5007") == LINE_WAVELENGTHS["OIII_5007"]
    assert canonical_line_name("nii_6584") == "NII_6583"
    assert canonical_line_name("OI_6300") == "OI_6302"
    with pytest.raises(ConfigError) as err:
        line_wavelength("OIV_25um")
    message = str(err.value)
    assert "OIV_25um" in message and "OIII_5007" in message and "Ha" in message


def test_doublet_ratios_from_transition_probabilities():
    # Energy-flux ratio of two lines from one upper level: A_s/A_w * lambda_w/lambda_s.
    def ratio(a_strong, a_weak, weak, strong):
        return a_strong / a_weak * LINE_WAVELENGTHS[weak] / LINE_WAVELENGTHS[strong]

    o3 = ratio(2.046e-2, 6.791e-3, "OIII_4959", "OIII_5007")  # Storey & Zeippen 2000
    n2 = ratio(2.914e-3, 9.851e-4, "NII_6549", "NII_6583")  # Froese Fischer & Tachiev 2004
    o1 = ratio(5.651e-3, 1.823e-3, "OI_6365", "OI_6302")  # Wiese, Fuhr & Deters 1996
    for weak, expected in (("OIII_4959", o3), ("NII_6549", n2), ("OI_6365", o1)):
        strong, weak_over_strong = DOUBLET_RATIOS[weak]
        assert strong in LINE_WAVELENGTHS
        assert 1.0 / weak_over_strong == pytest.approx(expected, rel=3e-3), weak


def _nucleus(narrow):
    return NucleusSpec(
        letter="a",
        name="AGN",
        layout="full",
        params=(("logL5100", Param(43.0, 41.0, 47.0, 0.1, True)), ("alpha", (Param(1.5, 0.0, 4.0, 0.1, True),))),
        narrow_lines=tuple(narrow),
        n_narrow=2,
    )


def test_oiii_doublet_tie_evaluates(tmp_path):
    from galfits_nb.models.agn import agn_parameter_rows

    rows = {row.name: row for row in agn_parameter_rows(_nucleus(["OIII_4959", "OIII_5007", "NII_6549"]))}
    for k in (1, 2):
        weak = rows[f"AGN_OIII_4959_n{k}_logL"]
        assert weak.tie is not None and not weak.vary
        value = evaluate_tie(weak.tie, {f"AGN_OIII_5007_n{k}_logL": 41.0})
        assert 10 ** (41.0 - value) == pytest.approx(2.98, abs=0.002)
    # [N II] 6548 without 6583 in the list stays free.
    assert rows["AGN_NII_6549_n1_logL"].tie is None and rows["AGN_NII_6549_n1_logL"].vary
    # The brief's spelling with spaces is accepted too.
    assert evaluate_tie("AGN_OIII_5007_n1_logL + -0.4742", {"AGN_OIII_5007_n1_logL": 41.0}) == pytest.approx(40.5258)

    # Through a table: the tie is resolved and survives a .params round trip.
    table = ParameterTable(tuple(rows.values()))
    values = table.resolve({"AGN_OIII_5007_n1_logL": 40.3})
    assert values["AGN_OIII_4959_n1_logL"] == pytest.approx(40.3 - math.log10(2.98))
    write_params(table.rows, tmp_path / "agn.params")
    back = {row.name: row for row in read_params(tmp_path / "agn.params")}
    assert evaluate_tie(back["AGN_OIII_4959_n1_logL"].tie, values) == pytest.approx(values["AGN_OIII_4959_n1_logL"])
    assert isinstance(back["AGN_OIII_4959_n1_logL"], ParamRow)
