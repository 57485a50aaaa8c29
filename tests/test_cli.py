"""The ``galfits`` command: --notfit writes the parameter table; errors exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.table import Table

from galfits_nb.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QUICKSTART = SHARED / "j0056_quickstart" / "quickstart.lyric"
AGN = SHARED / "greeneho2004_id2" / "AGNspectrum.lyric"


def test_notfit_writes_params_and_constrain(tmp_path, capsys):
    status = main([str(QUICKSTART), "--work", str(tmp_path / "out"), "--notf"])
    assert status == 0
    out = capsys.readouterr().out
    assert "sloan_u" in out and "galex_fuv" in out
    params = Table.read(tmp_path / "out" / "J0056-0021.params", format="ascii")
    names = list(params["pname"])
    assert "bulge_Re" in names and "logM_disk" in names and "csx_sloan_g" in names
    row = params[names.index("bulge_n")]
    assert (row["value"], row["min"], row["max"], row["vary"]) == (4.0, 0.5, 6.0, 1)
    source = (tmp_path / "out" / "J0056-0021.constrain").read_text()
    assert "def Update_Constraints(pardict)" in source


def test_notfit_on_spectrum_only_config(tmp_path, capsys):
    assert main([str(AGN), "--workplace", str(tmp_path), "--notfit"]) == 0
    assert "3813" in capsys.readouterr().out or (tmp_path / "J0249\u22120815.params").exists()


def test_readpar_changes_the_start(tmp_path):
    assert main([str(QUICKSTART), "--work", str(tmp_path), "--notfit"]) == 0
    path = tmp_path / "J0056-0021.params"
    text = path.read_text().replace("bulge_n 4 ", "bulge_n 3.5 ")
    edited = tmp_path / "edited.params"
    edited.write_text(text)
    assert main([str(QUICKSTART), "--work", str(tmp_path / "b"), "--notfit", "--readpar", str(edited)]) == 0
    params = Table.read(tmp_path / "b" / "J0056-0021.params", format="ascii")
    assert float(params[list(params["pname"]).index("bulge_n")]["value"]) == pytest.approx(3.5)


def test_existing_constrain_file_is_kept(tmp_path):
    (tmp_path / "J0056-0021.constrain").write_text("# mine\ndef Update_Constraints(pardict):\n    return pardict\n")
    assert main([str(QUICKSTART), "--work", str(tmp_path), "--notfit"]) == 0
    assert (tmp_path / "J0056-0021.constrain").read_text().startswith("# mine")


def test_bad_config_exits_2_with_one_line(tmp_path, capsys):
    folder = tmp_path / "cfg"
    shutil.copytree(QUICKSTART.parent, folder)
    config = folder / "quickstart.lyric"
    config.write_text(config.read_text().replace("Pa6) [4,0.5,6,0.1,1]", "Pa6) [4,6,0.5,0.1,1]"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("earlier result")
    status = main([str(config), "--work", str(tmp_path / "out"), "--notfit"])
    err = capsys.readouterr().err
    assert status == 2
    assert "quickstart.lyric:" in err and "Pa6" in err and "min < max" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert (tmp_path / "out" / "keep.txt").read_text() == "earlier result"


def test_missing_readpar_file_exits_2(tmp_path, capsys):
    status = main([str(QUICKSTART), "--work", str(tmp_path), "--notfit", "--readpar", str(tmp_path / "no.params")])
    assert status == 2 and "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["mclmc", "nested"])
def test_sampler_not_available_yet_exits_3(tmp_path, capsys, method):
    assert main([str(QUICKSTART), "--work", str(tmp_path), "--fit_method", method]) == 3
    assert f"{method}: this sampler is not available" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option", [["--num_steps", "0"], ["--learning_rate", "-1"], ["--num_warmup", "0"], ["--nchains", "0"]]
)
def test_bad_numeric_option_exits_2(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as stop:
        main([str(QUICKSTART), "--work", str(tmp_path), *option])
    assert stop.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_installed_command_runs(tmp_path):
    exe = Path(sys.executable).parent / "galfits"
    result = subprocess.run(
        [str(exe), str(QUICKSTART), "--work", str(tmp_path), "--num_s", "10", "--notfit"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "J0056-0021.params").exists()


@pytest.mark.parametrize(
    "old, new, key",
    [("Na12) ['Hg','Hb'", "Na12) ['Hx','Hb'", "Na12"), ("Ga6) []", "Ga6) ['Hb','Oiii']", "Ga6")],
)
def test_unknown_line_names_the_file_line_and_key(tmp_path, capsys, old, new, key):
    source = Path(__file__).resolve().parents[2] / "shared" / "data" / "greeneho2004_id2"
    if not source.exists():
        pytest.skip("shared data not found")
    (tmp_path / "GreeneHo2004_id2.txt").write_bytes((source / "GreeneHo2004_id2.txt").read_bytes())
    text = (source / "AGNspectrum.lyric").read_text()
    assert old in text
    config = tmp_path / "AGNspectrum.lyric"
    config.write_text(text.replace(old, new))
    assert main([str(config), "--work", str(tmp_path / "out"), "--notfit"]) == 2
    err = capsys.readouterr().err
    line = next(n for n, row in enumerate(config.read_text().splitlines(), 1) if row.startswith(new[:4]))
    assert f"AGNspectrum.lyric:{line}: {key}: unknown emission line" in err and "Traceback" not in err


def test_compilation_cache_keeps_small_programs(tmp_path):
    """A program that compiles in milliseconds is stored too (they add up to seconds per run)."""
    code = (
        "from galfits_nb.cache import enable_compilation_cache\n"
        "folder = enable_compilation_cache()\n"
        "import jax\n"
        "jax.jit(lambda x: x * 3.0 + 1.0)(2.0).block_until_ready()\n"
        "print(folder)\n"
    )
    env = dict(os.environ, GALFITS_NB_CACHE=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder == tmp_path / "jax"
    assert any(folder.iterdir()), "the small program was not written to the cache"
