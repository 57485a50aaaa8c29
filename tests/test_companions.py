"""Companion files: .params table, tie expressions, .constrain code, prior file."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import pytest

from galfits_nb.config import companions
from galfits_nb.config.companions import (
    AGNRelationPrior,
    GaussianPrior,
    LinearRelation,
    MassMetallicityPrior,
    MassSizePrior,
    ParamRow,
    PriorSpec,
    SFHPrior,
    check_ties,
    evaluate_tie,
    load_constraints,
    parse_priors,
    read_params,
    read_priors,
    tie_dependencies,
    write_constrain_template,
    write_params,
)
from galfits_nb.errors import ConfigError

ROWS = (
    ParamRow("bulge_xcen", 0.0, -1.0, 1.0, 0.1, True, None),
    ParamRow("bulge_Re", 2.9113, 0.1, 10.0, 0.05, True, None),
    ParamRow("logM_bulge", 10.4521, 8.0, 12.5, 0.1, False, None),
    ParamRow("agn_x", 0.0, -1.0, 1.0, 0.1, False, "1*bulge_xcen"),
    ParamRow("disk_Re", 1e-3, -math.inf, 1e5, 1e-7, True, "2*bulge_Re+log10(logM_bulge)"),
)


# ---------------------------------------------------------------- .params


def test_params_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "J0056.params"
    write_params(ROWS, path)
    assert read_params(path) == ROWS


def test_params_read_by_astropy(tmp_path: Path) -> None:
    from astropy.table import Table

    path = tmp_path / "J0056.params"
    write_params(ROWS, path)
    table = Table.read(path, format="ascii")
    assert table.colnames == ["pname", "value", "min", "max", "step", "vary", "expression"]
    assert list(table["pname"]) == [row.name for row in ROWS]
    for column in ("value", "min", "max", "step"):
        assert list(table[column]) == [getattr(row, column) for row in ROWS]
    assert [bool(v) for v in table["vary"]] == [row.vary for row in ROWS]
    assert list(table["expression"]) == [row.tie or "None" for row in ROWS]


def test_params_write_is_atomic(tmp_path: Path) -> None:
    class Explodes(float):
        def __float__(self) -> float:
            raise RuntimeError("formatting failed")

    path = tmp_path / "J0056.params"
    write_params(ROWS, path)
    before = path.read_bytes()
    bad = ROWS[:3] + (ParamRow("boom", Explodes(1.0), 0.0, 2.0, 0.1, True, None),) + ROWS[3:]
    with pytest.raises(RuntimeError, match="formatting failed"):
        write_params(bad, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["J0056.params"]  # no temp file left behind


def test_params_spaced_tie_is_written_compact(tmp_path: Path) -> None:
    path = tmp_path / "t.params"
    write_params([ROWS[0], ParamRow("agn_x", 0.0, -1.0, 1.0, 0.1, False, "1 * bulge_xcen")], path)
    assert read_params(path)[1].tie == "1*bulge_xcen"


def test_params_reads_galfits_style_rows(tmp_path: Path) -> None:
    path = tmp_path / "galfits.params"
    path.write_text(
        "pname value min max step vary expression\n"
        "host_xcen 0 -1 1 0.1 True None\n"
        "# a comment\n\n"
        "agn_x 0 -1 1 0.1 False 1*host_xcen\n"
        "agn_y 0 -1 1 0.1 0 none\n"
        "agn_z 0 -1 1 0.1 1"  # six columns, no newline at the end
    )
    rows = read_params(path)
    assert [r.vary for r in rows] == [True, False, False, True]
    assert [r.tie for r in rows] == [None, "1*host_xcen", None, None]


@pytest.mark.parametrize(
    "line, column_text, found",
    [
        ("agn_x 0 -1 1 0.1", "expected 7 columns", "found 5 columns"),
        ("agn_x 0 low 1 0.1 1 None", "min (column 9)", "'low'"),
        ("agn_x 0 -1 1 0.1 maybe None", "vary (column 18)", "'maybe'"),
        ("agn_x 0 1 -1 0.1 1 None", "min/max", "min 1.0, max -1.0"),
        ("agn_x 0 -1 1 0.1 1 host_x+", "expression (column 20)", "host_x+"),
    ],
)
def test_params_errors_name_file_line_column(tmp_path: Path, line: str, column_text: str, found: str) -> None:
    path = tmp_path / "bad.params"
    path.write_text("pname value min max step vary expression\nhost_x 0 -1 1 0.1 1 None\n" + line + "\n")
    with pytest.raises(ConfigError) as info:
        read_params(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3:")
    assert column_text in message and found in message
    assert info.value.line == 3


def test_params_repeated_name_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "dup.params"
    path.write_text("a 0 -1 1 0.1 1 None\na 0 -1 1 0.1 1 None\n")
    with pytest.raises(ConfigError, match=r"dup.params:2: a: parameter appears twice \(first on line 1\)"):
        read_params(path)
    with pytest.raises(ConfigError, match="no such file"):
        read_params(tmp_path / "missing.params")


# ---------------------------------------------------------------- ties


def test_tie_evaluation_matches_hand_values() -> None:
    values = {"a": 2.0, "b": 100.0, "c": -3.0}
    assert evaluate_tie("1*a", values) == 2.0
    assert evaluate_tie("2*a + log10(b) - c", values) == pytest.approx(2 * 2 + 2 + 3)
    assert evaluate_tie("-a**2 / (b - 96)", values) == pytest.approx(-1.0)
    assert evaluate_tie("sqrt(b) * exp(0) + abs(c) + log(exp(a))", values) == pytest.approx(10 + 3 + 2)
    assert evaluate_tie("10**(1.157*a - 2)", values) == pytest.approx(10 ** (1.157 * 2 - 2))
    assert tie_dependencies("2*a + log10(b) - exp(c)") == {"a", "b", "c"}


def test_tie_evaluation_on_arrays() -> None:
    np = pytest.importorskip("numpy")
    out = evaluate_tie("log10(a) + 1", {"a": np.array([10.0, 100.0])})
    assert np.allclose(out, [2.0, 3.0])


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os')",
        "a.__class__",
        "open('x')",
        "[a, b]",
        "a if b else c",
        "lambda: 1",
        "a < b",
        "log10(a, b)",
        "'text'",
        "exp(x=1)",
        "a ^ b",
    ],
)
def test_tie_rejects_anything_but_arithmetic(expr: str) -> None:
    with pytest.raises(ConfigError, match="not allowed|cannot be parsed"):
        tie_dependencies(expr)
    with pytest.raises(ConfigError):
        evaluate_tie(expr, {"a": 1.0, "b": 2.0, "c": 3.0, "os": 0.0, "x": 1.0})


def test_tie_does_not_use_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def no_eval(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval was called")

    monkeypatch.setattr(builtins, "eval", no_eval)
    companions._compile_tie.cache_clear()
    assert evaluate_tie("3*a+1", {"a": 2.0}) == 7.0


def test_tie_arithmetic_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="cannot be evaluated"):
        evaluate_tie("1/(a-a)", {"a": 1.0})
    with pytest.raises(ConfigError, match="cannot be evaluated"):
        evaluate_tie("10**10**10", {})
    with pytest.raises(ConfigError, match="unknown parameter.*'zz'"):
        evaluate_tie("zz+1", {"a": 1.0})


def test_check_ties_order_unknown_and_cycle() -> None:
    rows = [
        ParamRow("a", 0.0, -1.0, 1.0, 0.1, True),
        ParamRow("c", 0.0, -1.0, 1.0, 0.1, False, "b*2"),
        ParamRow("b", 0.0, -1.0, 1.0, 0.1, False, "a+1"),
    ]
    assert check_ties(rows) == ("b", "c")

    unknown = rows + [ParamRow("d", 0.0, -1.0, 1.0, 0.1, False, "a+nope")]
    with pytest.raises(ConfigError, match="d: tie names unknown parameter nope"):
        check_ties(unknown)

    cycle = [
        ParamRow("x", 0.0, -1.0, 1.0, 0.1, False, "z"),
        ParamRow("y", 0.0, -1.0, 1.0, 0.1, False, "2*x"),
        ParamRow("z", 0.0, -1.0, 1.0, 0.1, False, "y-1"),
        ParamRow("w", 0.0, -1.0, 1.0, 0.1, True),
    ]
    with pytest.raises(ConfigError, match="cycle: x -> z -> y -> x"):
        check_ties(cycle)
    with pytest.raises(ConfigError, match="cycle: s -> s"):
        check_ties([ParamRow("s", 0.0, -1.0, 1.0, 0.1, False, "s*1")])


def test_read_params_checks_ties_with_line(tmp_path: Path) -> None:
    path = tmp_path / "cyc.params"
    path.write_text("a 0 -1 1 0.1 0 b\nb 0 -1 1 0.1 0 a\n")
    with pytest.raises(ConfigError, match=r"cyc.params:1: a: ties form a cycle: a -> b -> a"):
        read_params(path)
    assert len(read_params(path, check=False)) == 2


# ---------------------------------------------------------------- .constrain


def test_constrain_template_loads_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "J0056.constrain"
    names = ["bulge_xcen", "disk_xcen", "bulge_Re"]
    write_constrain_template(names, path)
    text = path.read_text()
    assert "def Update_Constraints(pardict):" in text
    assert "# pardict['disk_xcen'] = pardict['bulge_xcen']" in text
    assert all(f"#     {name}" in text for name in names)
    update = load_constraints(path)
    pardict = {"bulge_xcen": 0.1, "disk_xcen": 0.3, "bulge_Re": 2.0}
    assert update(pardict) == pardict


def test_constrain_user_rules_in_place_or_returned(tmp_path: Path) -> None:
    in_place = tmp_path / "in_place.constrain"
    in_place.write_text("def Update_Constraints(p):\n    p['b'] = 10**(1.157*p['a'] - 46.19)\n")
    returned = tmp_path / "returned.constrain"
    returned.write_text("def Update_Constraints(p):\n    return {**p, 'b': np.log10(p['a'])}\n")
    original = {"a": 40.0, "b": 0.0}
    assert load_constraints(in_place)(original)["b"] == pytest.approx(10 ** (1.157 * 40 - 46.19))
    assert load_constraints(returned)(original)["b"] == pytest.approx(math.log10(40))
    assert original == {"a": 40.0, "b": 0.0}  # the caller's dict is untouched


def test_constrain_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.constrain"
    path.write_text("# comment\n\ndef Update_Constraints(pardict):\n    pardict['a'] = = 1\n    return pardict\n")
    with pytest.raises(ConfigError) as info:
        load_constraints(path)
    assert str(info.value).startswith(f"{path}:4: Python syntax error")
    assert info.value.line == 4


def test_constrain_error_inside_function_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "raises.constrain"
    path.write_text(
        textwrap.dedent(
            """\
            def helper(p):
                return p['a'] / p['zero']

            def Update_Constraints(pardict):
                pardict['b'] = helper(pardict)
                return pardict
            """
        )
    )
    update = load_constraints(path)  # loading runs nothing of the function
    with pytest.raises(ConfigError) as info:
        update({"a": 1.0, "zero": 0.0})
    message = str(info.value)
    assert message.startswith(f"{path}:2: Update_Constraints raised ZeroDivisionError")
    assert "p['a'] / p['zero']" in message
    with pytest.raises(ConfigError, match=r"raises.constrain:2: .*KeyError 'zero'"):
        update({"a": 1.0})


def test_constrain_missing_function_and_top_level_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.constrain"
    missing.write_text("x = 1\n\ndef update_constraints(p):\n    return p\n")
    with pytest.raises(ConfigError, match=r"missing.constrain:3: Update_Constraints: expected a function"):
        load_constraints(missing)
    top = tmp_path / "top.constrain"
    top.write_text("y = 1\nz = undefined_name + y\n")
    with pytest.raises(ConfigError, match=r"top.constrain:2: running the file raised NameError"):
        load_constraints(top)
    wrong = tmp_path / "wrong.constrain"
    wrong.write_text("def Update_Constraints(p):\n    return 3\n")
    with pytest.raises(ConfigError, match=r"wrong.constrain:1: Update_Constraints: expected a dict"):
        load_constraints(wrong)({"a": 1.0})


# ---------------------------------------------------------------- prior file

SAMPLE_PRIORS = """\
# mass-size relation, van der Wel et al. (2014)
MSRa1) total
MSRa2) [0.6, 0.75, 0.1]
MSRb1) ['bulge', 'disk']     # list of profiles
MSRb2) late
MSRc1) disk
MSRc2) [0.86, 0.25, -1, 10.699]   # switched off, explicit pivot

MMRa1) total
MMRa2) [28.0974, -7.23631, 0.850344, -0.0318315]
MMRb1) bulge
MMRb2) T04

SFHa1) total
SFHa2) exponetial
SFHa3) [[1.,-0.5,2,0.1,1],
        [0.15,-0.2,0.6,0.1,1],    # tau
        [0.65,0.,1.3,0.1,1]]
SFHa4) [[1.04,0.16],[],[0.65,0.18]]
SFHb1) disk
SFHb2) delayed
SFHb3) [[1,-0.5,2,0.1,1],[0.15,0.01,0.6,0.1,0]]

AGNa1) myagn
AGNa2) total
AGNa3) [-7.0, 1.39, 0.79]
AGNa4) [-46.19, 1.157, 0.2]
AGNa5) [-45.70, 1.133, 0.2]
AGNa6) ['Hg', 'MgII']
AGNa7) [0.35, 1.66666667]
AGNa8) [-34.05, 0.833, 0.36]
AGNa9) ['Hb','NII_6583']
AGNa10) [0.214, 0.302]
AGNa11) total
AGNa12) 0.6
AGNb1) 'qso'
AGNb2) bulge
AGNb11) none

GP) ['bulge_n', ['logM_total', 10.5, 0.3]]
EB) ['total', 'disk']
"""


def test_prior_sample_with_every_key_kind(tmp_path: Path) -> None:
    path = tmp_path / "priors.txt"
    path.write_text(SAMPLE_PRIORS)
    spec = read_priors(path)
    assert isinstance(spec, PriorSpec)

    assert spec.mass_size == (
        MassSizePrior(("total",), 0.6, 0.75, 0.1),
        MassSizePrior(("bulge", "disk"), 0.86, 0.25, 0.16),
        MassSizePrior(("disk",), 0.86, 0.25, -1.0, 10.699),
    )
    assert [p.enabled for p in spec.mass_size] == [True, True, False]
    assert spec.mass_size[0].key == "MSRa" and spec.mass_size[0].line == 2
    assert spec.mass_size[0].log_re_kpc(10.7) == pytest.approx(0.6)
    assert spec.mass_size[0].log_re_kpc(11.7) == pytest.approx(1.35)

    kd02, t04 = spec.mass_metallicity
    assert kd02 == MassMetallicityPrior(("total",), (28.0974, -7.23631, 0.850344, -0.0318315), 0.10)
    assert t04.coefficients == (-1.492, 1.847, -0.08026, 0.0)
    # Tremonti et al. (2004) give 12 + log(O/H) ~ 9.07 at log M* = 10.5.
    assert t04.log_oh12(10.5) == pytest.approx(-1.492 + 1.847 * 10.5 - 0.08026 * 10.5**2)

    exponential, delayed = spec.sfh
    assert exponential.form == "exponential" and exponential.profiles == ("total",)
    assert [p.name for p in exponential.parameters] == ["logSFR0", "tau", "t0"]
    assert exponential.parameters[1] == ParamRow("tau", 0.15, -0.2, 0.6, 0.1, True)
    assert exponential.priors == (GaussianPrior("logSFR0", 1.04, 0.16), None, GaussianPrior("t0", 0.65, 0.18))
    assert exponential.line == 14
    assert delayed == SFHPrior(
        ("disk",),
        "delayed",
        (ParamRow("logSFR0", 1.0, -0.5, 2.0, 0.1, True), ParamRow("tau", 0.15, 0.01, 0.6, 0.1, False)),
    )

    agn, qso = spec.agn
    assert agn == AGNRelationPrior(
        nucleus="myagn",
        host_profile="total",
        mbh_host=LinearRelation(-7.0, 1.39, 0.79),
        broad_ha_l5100=LinearRelation(-46.19, 1.157, 0.2),
        broad_hb_l5100=LinearRelation(-45.70, 1.133, 0.2),
        broad_lines=("Hg", "MgII"),
        broad_line_ratios=(0.35, 1.66666667),
        oiii_l5100=LinearRelation(-34.05, 0.833, 0.36),
        narrow_lines=("Hb", "NII_6583"),
        narrow_line_ratios=(0.214, 0.302),
        centre_profile="total",
        r_feii=0.6,
    )
    # Host without a relation: Kormendy & Ho (2013) eq. 10 by default.
    assert qso.nucleus == "qso" and qso.mbh_host == LinearRelation(-4.18, 1.17, 0.28)
    assert qso.centre_profile is None and qso.broad_lines == ()
    assert qso.mbh_host.mean(11.0) == pytest.approx(-4.18 + 1.17 * 11.0)

    assert spec.gaussian == (GaussianPrior("bulge_n"), GaussianPrior("logM_total", 10.5, 0.3))
    assert spec.energy_balance == ("total", "disk")
    hash(spec)  # frozen and hashable


def test_prior_galfits_documentation_example() -> None:
    text = (
        "MSRa1) total \nMSRa2) [0.6, 0.75, 0.1]\n"
        "SFHa1) total\nSFHa2) exponential2\n"
        "SFHa3) [[0.4,-0.5,2,0.1,0],[0.15,-0.2,0.6,0.1,1],[0.65,0.,1.3,0.1,1],\n"
        "        [0.15,-0.2,0.6,0.1,1],[0.65,0.,1.3,0.1,1]]\n"
        "SFHa4) [[1],[],[],[],[]]\n"
        "AGNa1) myagn # the nuclei component\nAGNa3) KH13\nAGNa2) bulge\n"
        "GP) []     # none\n"
    )
    spec = parse_priors(text)
    assert spec.sfh[0].priors[0] == GaussianPrior("logSFR0", 1.0, None)
    assert spec.agn[0].mbh_host == LinearRelation(-4.18, 1.17, 0.28)
    assert spec.gaussian == () and spec.energy_balance == ()
    assert parse_priors("MSRa1) a\nMMRa1) a\n").mass_metallicity[0].coefficients[0] == 28.0974


@pytest.mark.parametrize(
    "text, line, pieces",
    [
        ("MSRa1) total\nXYZa1) 3\n", 2, ["XYZa1", "unknown key", "expected MSRx1-2"]),
        ("MSRa1) total\nMSRa3) 3\n", 2, ["MSRa3", "expected MSRa1 to MSRa2"]),
        ("\nMSRa1) total\nMSRa2) [0.6, 0.75]\n", 3, ["MSRa2", "expected [logA, alpha, sigma]", "found '[0.6, 0.75]'"]),
        ("MSRa1) total\nMSRa2) [0.6, big, 0.1]\n", 2, ["MSRa2", "[logA, alpha, sigma]", "big"]),
        ("MMRa1) total\nMMRa2) [1, 2]\n", 2, ["MMRa2", "[a0, a1, a2, a3]"]),
        ("SFHa1) total\nSFHa2) gamma\nSFHa3) []\n", 2, ["SFHa2", "exponential / delayed / exponential2", "gamma"]),
        (
            "SFHa1) total\nSFHa2) delayed\nSFHa3) [[1,-0.5,2,0.1,1]]\n",
            3,
            ["SFHa3", "2 five-value parameters", "logSFR0, tau"],
        ),
        (
            "SFHa1) total\nSFHa2) delayed\nSFHa3) [[1,-0.5,2,0.1,1],[1,2,1,0.1,1]]\n",
            3,
            ["SFHa3", "tau: min 2.0 >= max 1.0", "min < max"],
        ),
        ("SFHa1) total\nSFHa2) delayed\n", 1, ["SFHa1", "SFHa3 is missing"]),
        ("AGNa1) q\nAGNa6) ['Hg', 'MgII']\nAGNa7) [0.35]\n", 3, ["AGNa7", "2 numbers, one per line named in AGNa6"]),
        ("AGNa1) q\nAGNa3) [1, 2, 3]\n", 2, ["AGNa3", "host profile"]),
        ("AGNa1) q\nAGNa12) high\n", 2, ["AGNa12", "a number (R_FeII)"]),
        ("GP) [['bulge_n', 4, -1]]\n", 1, ["GP", "[name, mean, sigma]"]),
        ("EB) [1, 2]\n", 1, ["EB", "a name or a list of names"]),
        ("MSRa1) total\nMSRa1) disk\n", 2, ["MSRa1", "key given twice (first on line 1)"]),
        ("MSRa1 total\n", 1, ["expected KEY) VALUE"]),
        ("MSRa1) total\nMSRa2) [0.6, 0.75, 0.1\nMMRa1) total\n", 2, ["MSRa2", "closing ']'", "MMRa1 on line 3"]),
        ("MSRa1) total\nMSRa2) [0.6, 0.75, 0.1\n", 2, ["MSRa2", "closing ']'", "end of file"]),
        ("MSRa1) total\nMSRa2) [0.6, 0.75, 0.1]]\n", 2, ["MSRa2", "unexpected"]),
        ("MSRa1) total\nMSRa2) [1/0, 0.75, 0.1]\n", 2, ["MSRa2", "arithmetic"]),
    ],
)
def test_prior_errors_are_line_numbered(text: str, line: int, pieces: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_priors(text, "p.txt")
    message = str(info.value)
    assert message.startswith(f"p.txt:{line}:"), message
    for piece in pieces:
        assert piece in message, message
    assert info.value.line == line


def test_prior_value_tokenizer() -> None:
    from galfits_nb.config.values import parse_value as parse

    assert parse("[a.fits, 'b c', \"d\", 1, -2e-3, 3800/(1+1), none, [], [[1]]]") == [
        "a.fits",
        "b c",
        "d",
        1.0,
        -2e-3,
        1900.0,
        None,
        [],
        [[1.0]],
    ]
    assert parse("total") == "total" and parse("") is None and parse("  7 ") == 7.0


def test_read_priors_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_priors(tmp_path / "nope.txt")
