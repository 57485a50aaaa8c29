"""The staged workflow's configuration helpers (no fitting)."""

from __future__ import annotations

from galfits_nb.config.lyric import read_lyric
from galfits_nb.config.stages import carry_values, imaging_stage, spatial_names
from galfits_nb.data.mock import seed_config_path
from galfits_nb.inference.parameters import build_parameter_table


def test_imaging_stage_drops_the_spectra_and_keeps_sed_mode():
    config = read_lyric(seed_config_path(), check_files=False)
    stage = imaging_stage(config)
    assert stage.spectra == () and all(not atlas.spectra for atlas in stage.atlases)
    assert [image.use_sed for image in stage.images] == [image.use_sed for image in config.images]
    assert build_parameter_table(stage).names == build_parameter_table(config).names


def test_spatial_names_are_the_structure_sky_and_shifts():
    config = read_lyric(seed_config_path(), check_files=False)
    names = set(spatial_names(config))
    for expected in ("bulge_Re", "bulge_n", "bulge_ang", "bulge_axrat", "disk_xcen", "agn_Re", "sky_sloan_g"):
        assert expected in names
    assert not any(name.startswith(("logM_", "z_", "specnorm_")) for name in names)
    assert not any("_age" in name or "_logL" in name for name in names)


def test_carry_values_takes_only_the_named_parameters():
    config = read_lyric(seed_config_path(), check_files=False)
    table = build_parameter_table(config)
    source = table.with_values({"bulge_Re": 2.2, "logM_bulge": 11.0})
    carried = carry_values(table, source, spatial_names(config))
    assert carried["bulge_Re"].value == 2.2
    assert carried["logM_bulge"].value == table["logM_bulge"].value
    assert carry_values(table, source)["logM_bulge"].value == 11.0
