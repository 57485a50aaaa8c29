"""The parameter table: names from configs, ties, .params files, the free transform."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.table import Table

from galfits_nb.config.companions import ParamRow
from galfits_nb.config.lyric import parse_lyric, read_lyric
from galfits_nb.errors import ConfigError
from galfits_nb.inference.parameters import ParameterTable, build_parameter_table

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QUICKSTART = SHARED / "j0056_quickstart" / "quickstart.lyric"
AGN = SHARED / "greeneho2004_id2" / "AGNspectrum.lyric"
SEED = Path(__file__).parent / "data" / "seed_joint.lyric"


@pytest.fixture(scope="module")
def quickstart_table() -> ParameterTable:
    return build_parameter_table(read_lyric(QUICKSTART, check_files=False))


def test_quickstart_names_follow_galfits(quickstart_table):
    names = set(quickstart_table.names)
    for name in [
        "bulge_xcen", "bulge_ycen", "bulge_Re", "bulge_n", "bulge_ang", "bulge_axrat",
        "logM_bulge", "bulge_age_value", "bulge_Z_value", "bulge_Av_value", "bulge_sigma", "bulge_logU",
        "disk_Re", "logM_disk", "z_mygal", "sky_sloan_u", "sky_galex_nuv", "csx_sloan_g", "csy_ks",
    ]:
        assert name in names, name
    # I13) 0 on the u band: no shift parameters there.
    assert "csx_sloan_u" not in names
    # The reference lists exactly these free parameters per component (REFERENCE.md), plus
    # the SED's logfrac and bump, n and shifts.
    free = set(quickstart_table.free_names)
    assert {"disk_age_value", "disk_Z_value", "disk_Av_value", "logM_disk", "bulge_n"} <= free
    assert "bulge_sigma" not in free and "z_mygal" not in free
    assert quickstart_table["bulge_Re"].value == pytest.approx(1.344)


def test_agn_and_seed_names():
    agn = build_parameter_table(read_lyric(AGN, check_files=False))
    assert {"AGN_logL5100", "AGN_alpha1", "AGN_alpha2", "z_AGN", "AGN_logLhotdust", "z_host"} <= set(agn.names)
    assert set(agn.free_names) >= {"AGN_logL5100", "AGN_alpha1", "logM_bulge"}
    seed = build_parameter_table(read_lyric(SEED, check_files=False))
    assert {"agn_Re", "agn_logLEdd", "agn_logMBH", "sky_sloan_g", "specnorm_mygalaxy"} <= set(seed.names)


def test_photometry_mode_and_linked_shifts():
    text = QUICKSTART.read_text().replace("Ib15) 1", "Ib15) 0").replace("Ab4) 0", "Ab4) 1")
    table = build_parameter_table(parse_lyric(text, "q.lyric", QUICKSTART.parent, check_files=False))
    assert table["logNorm_bulge_sloan_g"].vary and table["logNorm_disk_sloan_g"].vary
    assert "logNorm_bulge_sloan_r" not in table
    # 2MASS atlas (j, h, ks) linked: h and ks follow j.
    assert table["csx_h"].tie == "1*csx_j" and table["csy_ks"].tie == "1*csy_j"
    assert "csx_h" not in table.free_names
    values = table.resolve({"csx_j": 0.7})
    assert values["csx_h"] == pytest.approx(0.7) and values["csx_ks"] == pytest.approx(0.7)


def test_duplicate_component_names_are_an_error():
    text = QUICKSTART.read_text().replace("Pb1) disk", "Pb1) bulge")
    with pytest.raises(ConfigError, match="'bulge_xcen' appears twice"):
        build_parameter_table(parse_lyric(text, "q.lyric", QUICKSTART.parent, check_files=False))


def test_free_transform_round_trip_and_jacobian(quickstart_table):
    x = quickstart_table.free_vector()
    u = quickstart_table.to_unconstrained(x)
    np.testing.assert_allclose(quickstart_table.from_unconstrained(u), x, rtol=1e-9, atol=1e-9)
    # Jacobian against central finite differences of the inverse map (diagonal).
    eps = 1e-6
    dxdu = (quickstart_table.from_unconstrained(u + eps) - quickstart_table.from_unconstrained(u - eps)) / (2 * eps)
    assert quickstart_table.log_abs_det_jacobian(u) == pytest.approx(np.sum(np.log(dxdu)), rel=1e-6)
    # Far out on the real line, values stay inside the bounds.
    lo, hi = quickstart_table.bounds()
    inside = quickstart_table.from_unconstrained(np.full_like(u, 50.0))
    assert np.all(inside <= hi) and np.all(inside >= lo)


def test_unpack_with_ties_under_jit(quickstart_table):
    table = quickstart_table.with_rows(
        [replace(quickstart_table["disk_xcen"], tie="1*bulge_xcen"), replace(quickstart_table["disk_ycen"], tie="bulge_ycen + 0.5")]
    )
    assert "disk_xcen" not in table.free_names

    @jax.jit
    def centres(u):
        values = table.unpack(table.from_unconstrained(u))
        return jnp.stack([values["bulge_xcen"], values["disk_xcen"], values["disk_ycen"]])

    u = jnp.asarray(table.to_unconstrained())
    u = u.at[table.free_names.index("bulge_xcen")].set(1.0)
    bx, dx, dy = np.asarray(centres(u))
    assert bx == pytest.approx(-5 + 10 / (1 + np.exp(-1.0)), rel=1e-6)
    assert dx == pytest.approx(bx) and dy == pytest.approx(0.5)
    grad = jax.grad(lambda v: table.unpack(table.from_unconstrained(v))["disk_xcen"])(u)
    assert np.isfinite(np.asarray(grad)).all() and float(grad[table.free_names.index("bulge_xcen")]) > 0


def test_params_file_round_trip_and_readpar(quickstart_table, tmp_path):
    path = quickstart_table.write(tmp_path / "J0056.params")
    table = Table.read(path, format="ascii")
    assert list(table["pname"]) == list(quickstart_table.names)
    assert quickstart_table.read(path) == quickstart_table
    edited = [replace(quickstart_table["bulge_n"], value=3.3, vary=False)]
    updated = quickstart_table.with_rows(edited)
    assert updated["bulge_n"].value == 3.3 and "bulge_n" not in updated.free_names
    with pytest.raises(ConfigError, match="not defined by the configuration.*bulge_nn"):
        quickstart_table.with_rows([ParamRow("bulge_nn", 1.0, 0.0, 2.0, 0.1, True, None)], source="x.params")


def test_with_values_clips_and_rejects_unknown(quickstart_table):
    table = quickstart_table.with_values({"bulge_n": 99.0})
    assert table["bulge_n"].value == 6.0
    with pytest.raises(KeyError):
        quickstart_table.with_values({"nothing": 1.0})


def test_bound_distance_is_the_fraction_of_the_range_to_the_nearer_bound():
    from galfits_nb.inference.parameters import bound_distance

    d = bound_distance([0.0, 0.25, 1.0, 10.0, -1.0], [0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 4.0, 10.0, 1.0])
    np.testing.assert_allclose(d, [0.0, 0.25, 0.25, 0.0, -1.0])
