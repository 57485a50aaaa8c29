"""The .lyric reader and writer on the real examples, the seed, and broken files."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from galfits_nb.config.lyric import ConfigWarning, format_lyric, parse_lyric, read_lyric, write_lyric
from galfits_nb.config.spec import Param
from galfits_nb.config.values import evaluate_number, parse_value
from galfits_nb.errors import ConfigError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QUICKSTART = SHARED / "j0056_quickstart" / "quickstart.lyric"
AGN = SHARED / "greeneho2004_id2" / "AGNspectrum.lyric"
SEED = Path(__file__).parent / "data" / "seed_joint.lyric"


def test_quickstart_parses_ten_images_in_three_atlases():
    config = read_lyric(QUICKSTART)
    assert config.region.name == "J0056-0021"
    assert config.region.redshift == pytest.approx(0.0628)
    assert [im.band for im in config.images] == [
        "sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z", "j", "h", "ks", "galex_fuv", "galex_nuv",
    ]
    assert [a.name for a in config.atlases] == ["sdss", "2mass", "galex"]
    assert config.atlases[0].images == ("a", "b", "c", "d", "e")
    g = config.image("b")
    assert g.sigma.hdu == 2 and g.sigma.gain == pytest.approx(1.8)
    assert g.mask.hdu == 1 and Path(g.mask.path).name == "sdssg_cut.fits"
    assert g.shift[0] == Param(0.0, -5.0, 5.0, 0.1, True)
    assert config.image("f").flux_conversion == pytest.approx(8.07471049612248e17)
    bulge, disk = config.profiles
    assert bulge.kind == "sersic" and dict(bulge.shape)["n"] == Param(4.0, 0.5, 6.0, 0.1, True)
    assert bulge.sed.sfh == "burst" and disk.sed.sfh == "conti"
    assert bulge.sed.get("logM") == Param(10.14, 8.5, 12.0, 0.1, True)
    assert config.galaxies[0].profiles == ("a", "b")


def test_agn_spectrum_config_full_nucleus_layout():
    config = read_lyric(AGN)
    assert config.region.name == "J0249\u22120815"
    (atlas,) = config.atlases
    assert atlas.letter == "b" and atlas.images == () and atlas.spectra == ("a",)
    assert atlas.apertures == ((2.0,),) and atlas.reference == (-1,)
    (nucleus,) = config.nuclei
    assert nucleus.layout == "full"
    assert nucleus.ebv_galactic == pytest.approx(0.019096639)
    assert len(nucleus.narrow_lines) == 12 and nucleus.broad_lines == ("Hg", "Hb", "HeII_4686", "Ha")
    assert nucleus.n_broad == 2 and nucleus.feii and not nucleus.balmer_continuum
    assert len(nucleus.get("alpha")) == 2
    assert config.spectra[0].fit_range == (3600.0, 7000.0)


def test_seed_joint_config_parses():
    config = read_lyric(SEED, check_files=False)
    assert len(config.images) == 3 and len(config.spectra) == 1
    (atlas,) = config.atlases
    # Aa5) ['spectrum'] names the spectrum by its file stem: it resolves to letter a.
    assert atlas.name == "joint" and atlas.spectra == ("a",)
    assert atlas.apertures == ((2.0,),) and atlas.reference == (0,)
    assert [p.kind for p in config.profiles] == ["sersic", "sersic"]
    (nucleus,) = config.nuclei
    assert nucleus.layout == "shaped" and nucleus.get("Re").value == pytest.approx(0.05)
    assert nucleus.get("logLEdd").vary and nucleus.feii and nucleus.n_narrow == 2
    assert len(config.galaxies) == 1 and config.galaxies[0].lines[1] == "OIII_5007"


def test_seed_with_files_on_disk(seed_folder):
    config = read_lyric(seed_folder / "seed_joint.lyric")
    assert config.image("a").sigma.gain == pytest.approx(1.8)
    assert Path(config.spectra[0].path).name == "spectrum.txt"


@pytest.mark.parametrize("path", [QUICKSTART, AGN, SEED])
def test_write_then_read_gives_equal_objects(path, tmp_path):
    config = read_lyric(path, check_files=False)
    out = write_lyric(config, tmp_path / "copy.lyric")
    again = read_lyric(out, check_files=False)
    assert again == config
    # Writing twice gives the same text: the writer is deterministic.
    assert format_lyric(again, tmp_path) == out.read_text()


def test_arithmetic_and_z_in_values():
    assert evaluate_number("3800/(1+z)", {"z": 0.0628}) == pytest.approx(3800 / 1.0628)
    assert evaluate_number("sloan_g") is None
    assert evaluate_number("__import__('os')") is None
    assert parse_value("[g_band.fits, 0]") == ["g_band.fits", 0.0]
    assert parse_value("[[0,-5,5,0.1,1],[0,-5,5,0.1,0]]")[1] == [0.0, -5.0, 5.0, 0.1, 0.0]
    text = QUICKSTART.read_text() + "\nSa1) ../greeneho2004_id2/GreeneHo2004_id2.txt\nSa3) [3800/(1+z), 7200/(1+z)]\n"
    config = parse_lyric(text, "q.lyric", QUICKSTART.parent)
    assert config.spectra[0].fit_range == pytest.approx((3800 / 1.0628, 7200 / 1.0628))


def test_value_outside_bounds_is_clipped_with_warning():
    text = QUICKSTART.read_text().replace("Pa6) [4,0.5,6,0.1,1]", "Pa6) [7,0.5,6,0.1,1]")
    with pytest.warns(ConfigWarning, match=r"q.lyric:\d+: Pa6: value 7 outside"):
        config = parse_lyric(text, "q.lyric", QUICKSTART.parent)
    assert dict(config.profile("a").shape)["n"].value == 6.0


def _line_of(text: str, prefix: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(prefix):
            return number
    raise AssertionError(prefix)


# (name, replace this line prefix, with this line, key expected in the message, words expected)
BROKEN = [
    ("min >= max", "Pa6)", "Pa6) [4,6,0.5,0.1,1]", "Pa6", "min < max"),
    ("unknown key", "Ia15)", "Ia15) 1\nIa16) 1", "Ia16", "unknown key"),
    ("missing FITS file", "Ia1)", "Ia1) [sdss_nothere.fits,0]", "Ia1", "no such file"),
    ("bad HDU", "Ib1)", "Ib1) [sdssg_cut.fits,7]", "Ib1", "HDU index below 3"),
    ("wrong list length", "Pa5)", "Pa5) [1.3,0.1,2.6,0.1]", "Pa5", "list of 4 items"),
    ("undefined image letter", "Aa2)", "Aa2) ['a','b','c','d','z']", "Aa2", "'z'"),
    ("undefined profile letter", "Ga2)", "Ga2) ['a','c']", "Ga2", "'c'"),
    ("non-numeric parameter", "Pa6)", "Pa6) [four,0.5,6,0.1,1]", "Pa6", "'four'"),
    ("vary not 0/1", "Pa6)", "Pa6) [4,0.5,6,0.1,2]", "Pa6", "vary"),
    ("not a key line", "Ia7)", "Ia7 cR", None, "not a 'KEY) VALUE' line"),
    ("unbalanced bracket", "Pa5)", "Pa5) [1,0.1,5,0.1,1", "Pa5", "missing ']'"),
    ("duplicate key", "Pa5)", "Pa5) [1,0.1,5,0.1,1]\nPa5) [2,0.1,5,0.1,1]", "Pa5", "set twice"),
    ("bad sky model", "Ia11)", "Ia11) gaussian", "Ia11", "uniform, polynomial"),
    ("bad SFH type", "Pa15)", "Pa15) starburst", "Pa15", "burst, conti, bins"),
    ("R2 wrong length", "R2)", "R2) [14.1, -0.36, 3]", "R2", "list of 2 numbers"),
    ("two shifts needed", "Ib14)", "Ib14) [[0,-5,5,0.1,1]]", "Ib14", "two parameters"),
    ("negative HDU", "Ic1)", "Ic1) [sdssr_cut.fits,-1]", "Ic1", "non-negative integer HDU"),
    ("missing band", "Ia2)", "", "Ia2", "has no Ia2"),
]


@pytest.mark.parametrize("name,prefix,replacement,key,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_config_gives_one_clear_message(name, prefix, replacement, key, words):
    text = QUICKSTART.read_text()
    lines = text.splitlines()
    number = _line_of(text, prefix)
    lines[number - 1] = replacement
    with pytest.raises(ConfigError) as info:
        parse_lyric("\n".join(lines), "bad.lyric", QUICKSTART.parent)
    message = str(info.value)
    assert message.startswith("bad.lyric:"), message
    assert re.match(r"bad\.lyric:\d+: ", message), message
    if key is not None:
        assert f": {key}: " in message, message
    assert words in message, message
    assert "\n" not in message


def test_broken_line_number_points_at_the_line():
    text = QUICKSTART.read_text()
    number = _line_of(text, "Pa8)")
    broken = text.replace("Pa8) [0.8,0.6,1,0.01,1]", "Pa8) [0.8,1,0.6,0.01,1]")
    with pytest.raises(ConfigError) as info:
        parse_lyric(broken, "bad.lyric", QUICKSTART.parent)
    assert info.value.line == number and info.value.key == "Pa8"
    assert info.value.expected == "min < max" and "min 1 >= max 0.6" in info.value.found


def test_aperture_count_must_match_spectra():
    text = SEED.read_text().replace("Aa6) [[2]]", "Aa6) [[2], [3]]")
    with pytest.raises(ConfigError, match=r"Aa6: expected 1 aperture\(s\)"):
        parse_lyric(text, "seed.lyric", SEED.parent, check_files=False)


def test_unknown_spectrum_in_atlas():
    text = SEED.read_text().replace("Aa5) ['spectrum']", "Aa5) ['spectra']")
    with pytest.raises(ConfigError, match=r"Aa5: expected spectrum letters or file stems .* found 'spectra'"):
        parse_lyric(text, "seed.lyric", SEED.parent, check_files=False)


def test_p27_outside_documented_range_warns():
    text = QUICKSTART.read_text().replace("Pa27) 0 ", "Pa27) 4 ")
    with pytest.warns(ConfigWarning, match="Pa27 = 4"):
        config = parse_lyric(text, "q.lyric", QUICKSTART.parent)
    assert config.profile("a").sed.parts == 4


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        read_lyric(tmp_path / "nothere.lyric")


def test_no_warnings_on_the_real_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        read_lyric(QUICKSTART)
        # AGNspectrum.lyric with the host at its nucleus's redshift: no warning
        # (as written, Ga3 is 1050 km/s away: tests/test_spectrum_fit.py).
        parse_lyric(AGN.read_text().replace("Ga3) [0.033106,", "Ga3) [0.0295,"), str(AGN), AGN.parent)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("[4878, 4900]", ((4878.0, 4900.0),)), ("[[4878, 4900], [5570/(1+z), 5590/(1+z)]]", None), ("[]", ())],
)
def test_spectrum_masked_ranges_s6(tmp_path, value, expected):
    text = AGN.read_text().replace("Sa4) 0", f"Sa6) {value}\nSa4) 0", 1)
    config = parse_lyric(text, "agn.lyric", AGN.parent)
    ranges = config.spectra[0].masked_ranges
    if expected is None:  # arithmetic with z = R3
        assert ranges[1] == pytest.approx((5570 / 1.0295, 5590 / 1.0295))
    else:
        assert ranges == expected
    out = tmp_path / "agn.lyric"
    out.write_text(format_lyric(config, AGN.parent))
    again = parse_lyric(out.read_text(), str(out), AGN.parent).spectra[0].masked_ranges
    assert len(again) == len(ranges)
    for got, want in zip(again, ranges):
        assert got == pytest.approx(want)


@pytest.mark.parametrize("value", ["[4900, 4878]", "[[4878, 4900], [5000]]", "4878"])
def test_spectrum_masked_ranges_s6_errors_name_the_line(value):
    text = AGN.read_text().replace("Sa4) 0", f"Sa6) {value}\nSa4) 0", 1)
    with pytest.raises(ConfigError, match=r"agn.lyric:\d+: Sa6: expected \[lambda_min, lambda_max\]"):
        parse_lyric(text, "agn.lyric", AGN.parent)
