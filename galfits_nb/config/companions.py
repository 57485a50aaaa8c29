"""Companion files of a fit: ``.params`` table, ``.constrain`` code, prior file.

Three small formats live next to a ``.lyric`` configuration (CONFIG-FORMAT.md,
"Companion files"). Each has a reader that names the file, line and key of
anything wrong, and nothing here imports jax.

``<target>.params``
===================

A whitespace table with one header line and one row per parameter, in
GalfitS's layout (single spaces, numbers in their shortest exact form)::

    pname value min max step vary expression
    bulge_xcen 0 -1 1 0.1 1 None
    agn_x 0 -1 1 0.1 0 1*bulge_xcen

``vary`` is written ``1``/``0`` (read as ``1``/``0``/``True``/``False``);
``expression`` is ``None`` or a tie, an arithmetic expression on other
parameters' names (written without spaces so the table stays whitespace
separated). ``astropy.table.Table.read(path, format='ascii')`` reads it.
Ties are evaluated by a small evaluator over Python's ``ast``: numbers,
parameter names, ``+ - * / **``, unary minus, parentheses and the functions
``log10 log exp sqrt abs sin cos tan`` (radians); never ``eval``.

``<target>.constrain``
======================

Python source defining ``Update_Constraints(pardict)``, as in GalfitS: the
function receives every parameter value by name and may rewrite some of them
from others. It may edit ``pardict`` in place (GalfitS's own examples do and
return nothing) or return a dict. It is user code: it is compiled and run only
by :func:`load_constraints`, i.e. only when the user passes
``--parconstrain``. ``np`` (numpy) and ``math`` are predefined for it.

Prior file (``--priorpath``)
============================

Same grammar as the ``.lyric`` file: one ``KEY) VALUE  # comment`` entry per
line, ``#`` starts a comment, keys in any order. A value is a number (simple
arithmetic such as ``-0.5`` or ``1/3`` is allowed), a bare or quoted word,
``none``, or a bracketed list of these; a list may continue over several lines
until its brackets close. A key may appear once. The instance letter after
the family name (``MSRa``, ``MSRb``, ...) groups the items of one prior, so a
file may hold several priors of each family.

This is GalfitS's own prior-file layout (its documentation, "Applying
astrophysical priors" and the SFH appendix), so GalfitS users' files read
unchanged; optional extra list entries and named presets are extensions.

Mass-size relation (``MSR``), van der Wel et al. (2014), ApJ 788, 28, Table 1::

    MSRa1) total               # profile name(s) (P1): a word or ['bulge', 'disk']
    MSRa2) [0.60, 0.75, 0.10]  # [logA, alpha, sigma(, pivot_logM)] or early / late

  ``log10(Re / kpc) = logA + alpha * (log10 M* - pivot_logM)`` with Gaussian
  scatter ``sigma`` [dex]; ``pivot_logM`` defaults to 10.7 as in GalfitS
  (van der Wel et al. write ``M* / 5e10 Msun``, i.e. 10.699). ``sigma > 0``:
  Gaussian prior; ``sigma = 0``: the relation is imposed exactly;
  ``sigma < 0``: the prior is switched off (kept in the spec, ``enabled`` is
  False). Presets (van der Wel et al. 2014, Table 1, 0 < z < 0.5):
  ``early`` = [0.60, 0.75, 0.10], ``late`` = [0.86, 0.25, 0.16].
  Without ``MSRa2`` the ``early`` relation is used (GalfitS's example).

Mass-metallicity relation (``MMR``), Kewley & Ellison (2008), ApJ 681, 1183::

    MMRa1) total
    MMRa2) [28.0974, -7.23631, 0.850344, -0.0318315]   # [a0, a1, a2, a3(, sigma)]

  ``12 + log10(O/H) = a0 + a1 x + a2 x**2 + a3 x**3`` with ``x = log10 M*``
  and Gaussian scatter ``sigma`` [dex], default 0.10 dex (the 1-sigma scatter
  of Tremonti et al. 2004). The sign of ``sigma`` acts as for ``MSR``.
  Presets: ``KD02`` = the Kewley & Dopita (2002) calibration fitted by
  Kewley & Ellison (2008, Table 2), the coefficients above (the default
  without ``MMRa2``); ``T04`` = Tremonti et al. (2004), ApJ 613, 898, eq. 3,
  [-1.492, 1.847, -0.08026, 0]. This is a gas-phase relation: the
  likelihood maps O/H to the stellar Z of P11 (a stellar mass-metallicity
  relation such as Gallazzi et al. 2005, MNRAS 362, 41, can be written as a
  cubic in the same slots).

Functional SFH prior on a ``bins`` SFH (``SFH``), GalfitS appendix::

    SFHa1) total                      # profile(s) with P15 = bins
    SFHa2) exponential                # exponential | delayed | exponential2
    SFHa3) [[1.,-0.5,2,0.1,1],[0.15,-0.2,0.6,0.1,1],[0.65,0.,1.3,0.1,1]]
    SFHa4) [[1.04,0.16],[0.15,0.04],[0.65,0.18]]

  ``SFHa3`` holds one five-value parameter ``[value, min, max, step, vary]``
  per parameter of the form, in this order (t in Gyr, SFR in Msun/yr):

  ============== =============================== ======================================
  form            SFHa3 parameters                SFR(t)
  ============== =============================== ======================================
  exponential     logSFR0, tau, t0                SFR0 exp((t - t0) / tau)
  delayed         logSFR0, tau                    SFR0 (t / tau**2) exp(-t / tau)
  exponential2    logSFR0, tau0, t0, tau1, t1     SFR0 (exp((t-t0)/tau0) - exp((t-t1)/tau1))
  ============== =============================== ======================================

  (formulas as GalfitS documents them; GalfitS's example spelling
  ``exponetial`` is accepted; its docs list five unnamed entries for
  ``exponential2``, read here as above with the weight of the second term 1).
  ``SFHa4`` (optional) gives one entry per ``SFHa3`` parameter: ``[]`` no
  prior, ``[mean, sigma]`` a Gaussian prior, ``[mean]`` a prior whose width
  the likelihood chooses (GalfitS uses a one-value first entry to pin the
  recent SFR). The bins' log mass fractions (P9) are then drawn towards the
  form, integrated over each bin of P10.

AGN scaling relations (``AGN``), GalfitS's twelve keys::

    AGNa1)  myagn                    # nucleus name (N1), required
    AGNa2)  bulge                    # host profile of the M_BH - M* relation, or none
    AGNa3)  [-4.18, 1.17, 0.28]      # [a, b, sigma]: log M_BH = a + b log M*(AGNa2)
    AGNa4)  [-46.19, 1.157, 0.2]     # broad H-alpha vs L5100: log F = a + b log L5100
    AGNa5)  [-45.70, 1.133, 0.2]     # broad H-beta vs L5100 (same form)
    AGNa6)  ['Hg', 'MgII']           # further broad lines
    AGNa7)  [0.35, 1.67]             # their flux ratios to broad H-beta (same length)
    AGNa8)  [-34.05, 0.833, 0.36]    # narrow [OIII] 5007 vs L5100 (same form)
    AGNa9)  ['Hb', 'NII_6583']       # further narrow lines
    AGNa10) [0.214, 0.302]           # their flux ratios to [OIII] 5007 (same length)
    AGNa11) bulge                    # profile whose centre the nucleus follows, or none
    AGNa12) 0.6                      # R_FeII = F(FeII 4434-4684) / F(H-beta), or none

  ``AGNa3`` may be the preset ``KH13``: M_BH - M_bulge of Kormendy & Ho
  (2013), ARA&A 51, 511, eq. 10, ``M_BH / 1e9 = 0.49 (M_bulge / 1e11)**1.17``
  with 0.28 dex scatter, i.e. [-4.18, 1.17, 0.28]; it is also the default
  when ``AGNa2`` names a profile and ``AGNa3`` is absent. The line - L5100
  relations follow Greene & Ho (2005), ApJ 630, 122; the ratios and the
  [OIII] relation Stern & Laor (2012, 2013), MNRAS 423, 600 and 431, 836;
  R_FeII is defined by Boroson & Green (1992), ApJS 80, 109. The numbers in
  ``AGNa4/5/8`` are in the units of the model's line parametrisation (the
  examples are GalfitS's). Each ``[a, b, sigma]`` follows the sign rule of
  ``MSR`` for ``sigma``. Only ``AGNa1`` is required.

Gaussian priors and energy balance::

    GP) ['bulge_n', ['logM_disk', 10.5, 0.3]]   # names or [name, mean, sigma]
    EB) ['bulge', 'disk']                       # profiles with energy balance

  A bare name in ``GP`` takes the parameter's start value as mean and leaves
  the width to the likelihood (GalfitS's behaviour); ``[name, mean, sigma]``
  sets both. ``EB`` lists the profiles whose dust emission equals the
  stellar light their dust absorbs (as CIGALE assumes); empty: none.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import math
import operator
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from galfits_nb.errors import ConfigError
from galfits_nb.atomic import write_text_lines
from galfits_nb.config.values import ValueSyntaxError, parse_value, strip_comment

__all__ = [
    "ParamRow",
    "PARAMS_HEADER",
    "TIE_FUNCTIONS",
    "write_params",
    "read_params",
    "tie_dependencies",
    "evaluate_tie",
    "check_ties",
    "write_constrain_template",
    "load_constraints",
    "MassSizePrior",
    "MassMetallicityPrior",
    "SFHPrior",
    "LinearRelation",
    "AGNRelationPrior",
    "GaussianPrior",
    "PriorSpec",
    "SFH_PARAMETERS",
    "parse_priors",
    "read_priors",
]

PathLike = str | os.PathLike


# ---------------------------------------------------------------------------
# .params table
# ---------------------------------------------------------------------------

PARAMS_HEADER: tuple[str, ...] = ("pname", "value", "min", "max", "step", "vary", "expression")


@dataclass(frozen=True)
class ParamRow:
    """One row of a ``.params`` table.

    Attributes
    ----------
    name : str
        GalfitS-style parameter name (``bulge_Re``); no spaces.
    value, min, max : float
        Start value and bounds (``min < max``).
    step : float
        Typical step size.
    vary : bool
        True when the parameter is free.
    tie : str or None
        Expression computing this parameter from others (``1*host_xcen``),
        or None.
    """

    name: str
    value: float
    min: float
    max: float
    step: float
    vary: bool
    tie: str | None = None


def write_params(rows: Iterable[ParamRow], path: PathLike) -> None:
    """Write a ``.params`` table atomically.

    The rows go to a temporary file in the same folder, which then replaces
    ``path`` (``os.replace``): an interrupted or failed write leaves the old
    file untouched and no partial file behind.

    Parameters
    ----------
    rows : iterable of ParamRow
        The table, in order.
    path : str or os.PathLike
        Destination.

    Raises
    ------
    ConfigError
        A row cannot be written (a name with spaces, a tie with a newline).
    """
    # Rows are formatted one by one while the file is written: a row that
    # cannot be formatted fails the write part way, and the temp file goes.
    header = " ".join(PARAMS_HEADER)
    _atomic_write(path, itertools.chain([header], (_format_row(row) for row in rows)))


def _format_row(row: ParamRow) -> str:
    # GalfitS's layout: single spaces, compact numbers (``agn_x 0 -1 1 0.1 ...``),
    # so that users' scripts that edit rows by text keep working.
    name = str(row.name)
    if not name or any(ch.isspace() for ch in name) or name.startswith("#"):
        raise ConfigError("cannot write parameter", key=repr(name), expected="a name without spaces")
    numbers = [_format_number(float(x)) for x in (row.value, row.min, row.max, row.step)]
    vary = "1" if row.vary else "0"
    return " ".join([name, *numbers, vary, _format_tie(row)])


def _format_number(x: float) -> str:
    """Shortest text that reads back as exactly ``x`` (``4``, ``0.1``, ``-inf``)."""
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _format_tie(row: ParamRow) -> str:
    if row.tie is None:
        return "None"
    compact = "".join(str(row.tie).split())
    if not compact or compact in ("None", "none"):
        raise ConfigError("cannot write tie", key=row.name, expected="an expression", found=repr(row.tie))
    return compact


def _atomic_write(path: PathLike, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` through a temp file and ``os.replace``."""
    write_text_lines(path, lines)


_COLUMNS = re.compile(r"\S+")


def read_params(path: PathLike, *, check: bool = True) -> tuple[ParamRow, ...]:
    """Read a ``.params`` table.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Blank lines and ``#`` lines are skipped; a first line
        starting with ``pname`` is the header. Rows need 6 or 7 columns (a
        missing expression means no tie); text after the sixth column is the
        expression (quotes around it are removed).
    check : bool
        Also run :func:`check_ties` (unknown names, cycles) on the rows.

    Returns
    -------
    tuple of ParamRow

    Raises
    ------
    ConfigError
        Naming the file, line and column: wrong column count, a non-number,
        a bad vary flag, ``min >= max``, a repeated name, a bad tie.
    """
    file = os.fspath(path)
    text = _read_text(file)
    rows: list[ParamRow] = []
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not rows and not lines and stripped.split()[0].lower() == "pname":
            lines[""] = number  # header seen
            continue
        row = _parse_row(line, file, number)
        if row.name in lines:
            raise ConfigError(
                f"parameter appears twice (first on line {lines[row.name]})", file=file, line=number, key=row.name
            )
        lines[row.name] = number
        rows.append(row)
    if check:
        _check_ties(rows, file, lines)
    return tuple(rows)


def _read_text(file: str) -> str:
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the file ({err})", file=file) from None


def _parse_row(line: str, file: str, number: int) -> ParamRow:
    cells = [(match.start() + 1, match.group()) for match in _COLUMNS.finditer(line)]
    if len(cells) < 6:
        raise ConfigError(
            "",
            file=file,
            line=number,
            expected="7 columns: " + " ".join(PARAMS_HEADER),
            found=f"{len(cells)} column{'s' if len(cells) != 1 else ''}",
        )
    name = cells[0][1]
    value, low, high, step = (_cell_float(cells[i], PARAMS_HEADER[i], file, number) for i in range(1, 5))
    vary = _cell_vary(cells[5], file, number)
    tie = None
    if len(cells) > 6:
        column = cells[6][0]
        tie = _cell_tie(line[column - 1 :].strip(), column, file, number)
    if not low < high:
        raise ConfigError(
            "", file=file, line=number, key=f"{name} min/max", expected="min < max", found=f"min {low!r}, max {high!r}"
        )
    return ParamRow(name, value, low, high, step, vary, tie)


def _cell_float(cell: tuple[int, str], column: str, file: str, number: int) -> float:
    col, text = cell
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or (column in ("value", "step") and math.isinf(value)):
        raise ConfigError(
            "", file=file, line=number, key=f"{column} (column {col})", expected="a number", found=repr(text)
        )
    return value


_VARY = {"1": True, "0": False, "true": True, "false": False}


def _cell_vary(cell: tuple[int, str], file: str, number: int) -> bool:
    col, text = cell
    try:
        return _VARY[text.lower()]
    except KeyError:
        raise ConfigError(
            "", file=file, line=number, key=f"vary (column {col})", expected="1, 0, True or False", found=repr(text)
        ) from None


def _cell_tie(text: str, column: int, file: str, number: int) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if text in ("None", "none", ""):
        return None
    try:
        tie_dependencies(text)
    except ConfigError as err:
        where = f"expression (column {column})"
        raise ConfigError(
            err.detail, file=file, line=number, key=where, expected=err.expected, found=err.found
        ) from None
    return text


# ---------------------------------------------------------------------------
# Tie expressions: a safe evaluator over Python's ast (never eval)
# ---------------------------------------------------------------------------

_BINARY: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: Mapping[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}

#: Functions a tie may call, with their Python-float implementations. On an
#: array argument the array's own namespace (``x.__array_namespace__()``,
#: e.g. jax.numpy inside ``jax.jit``) supplies the function of the same name.
TIE_FUNCTIONS: Mapping[str, Callable[[float], float]] = MappingProxyType({
    "log10": math.log10,
    "log": math.log,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
})

_TIE_GRAMMAR = "numbers, parameter names, + - * / **, parentheses and " + "/".join(TIE_FUNCTIONS)


@lru_cache(maxsize=4096)
def _compile_tie(expr: str) -> ast.expr:
    """Parse and vet a tie; return the expression node (cached)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ConfigError("tie expression cannot be parsed", expected=_TIE_GRAMMAR, found=repr(expr)) from None
    for node in ast.walk(tree.body):
        problem = _forbidden(node)
        if problem:
            raise ConfigError("tie expression not allowed", expected=_TIE_GRAMMAR, found=f"{problem} in {expr!r}")
    return tree.body


def _forbidden(node: ast.AST) -> str | None:
    """Say why ``node`` is not allowed in a tie, or None when it is."""
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        return None if ok else f"the constant {node.value!r}"
    if isinstance(node, ast.BinOp):
        return None if type(node.op) in _BINARY else f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.UnaryOp):
        return None if type(node.op) in _UNARY else f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in TIE_FUNCTIONS:
            return f"a call of {name}"
        if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
            return f"{name} with other than one argument"
        return None
    if isinstance(node, (ast.Name, ast.operator, ast.unaryop, ast.Load)):
        return None
    return f"{type(node).__name__.lower()} syntax"


def tie_dependencies(expr: str) -> set[str]:
    """Names of the parameters a tie expression uses.

    Parameters
    ----------
    expr : str
        E.g. ``"2*bulge_Re + log10(disk_Re)"``.

    Returns
    -------
    set of str
        ``{"bulge_Re", "disk_Re"}`` (function names are not included).

    Raises
    ------
    ConfigError
        The expression cannot be parsed or uses anything beyond numbers,
        names, ``+ - * / **``, parentheses and :data:`TIE_FUNCTIONS`.
    """
    body = _compile_tie(expr)
    called = {id(node.func) for node in ast.walk(body) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(body) if isinstance(node, ast.Name) and id(node) not in called}


def evaluate_tie(expr: str, values: Mapping[str, Any]) -> Any:
    """Evaluate a tie expression.

    Parameters
    ----------
    expr : str
        Tie expression (see :func:`tie_dependencies`).
    values : mapping of str to float or array
        Parameter values by name. Arrays (numpy, or jax tracers inside
        ``jax.jit``) work too: the arithmetic is the arrays' own and functions
        come from their ``__array_namespace__``.

    Returns
    -------
    float or array
        The value (a Python float when every value used is a Python number).

    Raises
    ------
    ConfigError
        A name missing from ``values``, a forbidden construct, or arithmetic
        that fails on numbers (division by zero, log of a negative number).
    """
    body = _compile_tie(expr)
    try:
        return _evaluate(body, values)
    except KeyError as err:
        raise ConfigError(
            "tie expression names an unknown parameter",
            expected="a parameter name",
            found=f"{err.args[0]!r} in {expr!r}",
        ) from None
    except (ArithmeticError, ValueError) as err:
        raise ConfigError(f"tie expression {expr!r} cannot be evaluated ({err})") from None


def _evaluate(node: ast.expr, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        # Floats, not ints: ``10**10**10`` overflows at once instead of
        # building a huge integer.
        return float(node.value)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Call):
        return _call(node.func.id, _evaluate(node.args[0], values))
    raise ConfigError(f"tie expression not allowed: {ast.unparse(node)}")  # _compile_tie rules this out


def _call(name: str, x: Any) -> Any:
    if isinstance(x, (int, float)):
        return TIE_FUNCTIONS[name](x)
    namespace = getattr(x, "__array_namespace__", None)
    if namespace is not None:
        return getattr(namespace(), name)(x)
    return TIE_FUNCTIONS[name](float(x))


def check_ties(rows: Sequence[ParamRow], *, file: str | None = None) -> tuple[str, ...]:
    """Check that every tie names known parameters and that ties form no cycle.

    Parameters
    ----------
    rows : sequence of ParamRow
        The whole table.
    file : str, optional
        File the rows came from, for messages.

    Returns
    -------
    tuple of str
        Names of the tied parameters in an order in which they can be
        evaluated (each after the tied parameters it uses).

    Raises
    ------
    ConfigError
        A repeated name, a tie that cannot be parsed, a tie naming an
        unknown parameter, or a cycle (the message lists the cycle,
        ``a -> b -> a``).
    """
    return _check_ties(rows, file, None)


def _check_ties(rows: Sequence[ParamRow], file: str | None, lines: Mapping[str, int] | None) -> tuple[str, ...]:
    lines = lines or {}
    known: set[str] = set()
    for row in rows:
        if row.name in known:
            raise ConfigError("parameter appears twice", file=file, line=lines.get(row.name), key=row.name)
        known.add(row.name)
    needs: dict[str, list[str]] = {}
    for row in rows:
        if row.tie is None:
            continue
        try:
            deps = tie_dependencies(row.tie)
        except ConfigError as err:
            raise ConfigError(
                err.detail, file=file, line=lines.get(row.name), key=row.name, expected=err.expected, found=err.found
            ) from None
        unknown = sorted(deps - known)
        if unknown:
            raise ConfigError(
                f"tie names unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
                file=file,
                line=lines.get(row.name),
                key=row.name,
                expected="names of parameters in the table",
                found=repr(row.tie),
            )
        needs[row.name] = sorted(deps)
    order, cycle = _tie_order(needs)
    if cycle is None:
        return order
    raise ConfigError(
        "ties form a cycle: " + " -> ".join(cycle),
        file=file,
        line=lines.get(cycle[0]),
        key=cycle[0],
        expected="ties without cycles",
        found=", ".join(f"{name} = {_tie_of(rows, name)}" for name in cycle[:-1]),
    )


def _tie_of(rows: Sequence[ParamRow], name: str) -> str | None:
    return next(row.tie for row in rows if row.name == name)


def _tie_order(needs: Mapping[str, Sequence[str]]) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """Depth-first topological order of tied names, and the first cycle found.

    Returns ``(order, None)``, or ``((), cycle)`` with the cycle written as a
    closed path (``("a", "b", "a")``). Iterative, so long chains of ties do
    not hit the recursion limit.
    """
    done: set[str] = set()
    order: list[str] = []
    for start in needs:
        if start in done:
            continue
        path = [start]
        stack = [iter(needs[start])]
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                done.add(path[-1])
                order.append(path.pop())
                stack.pop()
            elif dep in path:
                return (), tuple(path[path.index(dep) :] + [dep])
            elif dep in needs and dep not in done:
                path.append(dep)
                stack.append(iter(needs[dep]))
    return tuple(order), None


# ---------------------------------------------------------------------------
# .constrain file
# ---------------------------------------------------------------------------

_CONSTRAIN_FUNCTION = "Update_Constraints"


def write_constrain_template(names: Iterable[str], path: PathLike) -> None:
    """Write a ``.constrain`` file whose ``Update_Constraints`` changes nothing.

    Parameters
    ----------
    names : iterable of str
        Parameter names, listed in a comment for the user to pick from.
    path : str or os.PathLike
        Destination (written atomically).
    """
    _atomic_write(path, _constrain_lines(tuple(names)))


def _constrain_lines(names: tuple[str, ...]) -> list[str]:
    target, source = _example_pair(names)
    listing = [f"#     {name}" for name in names] or ["#     (none)"]
    return [
        "# Parameter constraints for galfits (GalfitS .constrain format).",
        "#",
        f"# {_CONSTRAIN_FUNCTION}(pardict) receives every parameter value by name and",
        "# returns the dict; set entries from others to tie parameters. This file is",
        "# Python code: it runs only when you pass it with --parconstrain. `np`",
        "# (numpy) and `math` are available.",
        "#",
        "# Parameters:",
        *listing,
        "",
        "",
        f"def {_CONSTRAIN_FUNCTION}(pardict):",
        "    # Example:",
        f"    # pardict[{target!r}] = pardict[{source!r}]",
        "    return pardict",
    ]


def _example_pair(names: Sequence[str]) -> tuple[str, str]:
    """Two x-centre names of the fit for the commented example, if it has them."""
    xcen = [name for name in names if name.endswith("_xcen")]
    if len(xcen) >= 2:
        return xcen[1], xcen[0]
    return "disk_xcen", "bulge_xcen"


def load_constraints(path: PathLike) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Compile and run a ``.constrain`` file; return its ``Update_Constraints``.

    The file is user code and is executed here (only call this when the user
    asked for it, ``--parconstrain``). The returned function copies the dict
    it gets, calls the user's function on the copy and returns the copy (or
    the dict the user's function returns), so the caller's dict is never
    changed.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.constrain`` file.

    Returns
    -------
    callable
        ``update(pardict) -> dict``. An exception inside the user's function
        is re-raised as :class:`~galfits_nb.errors.ConfigError` naming the
        file and the line that failed.

    Raises
    ------
    ConfigError
        Missing file, a syntax error (file and line), an error while the file
        runs, or no ``Update_Constraints`` function.
    """
    file = os.fspath(path)
    source = _read_text(file)
    try:
        code = compile(source, file, "exec", dont_inherit=True)
    except SyntaxError as err:
        raise ConfigError(
            f"Python syntax error ({err.msg})",
            file=file,
            line=err.lineno,
            found=repr((err.text or "").strip()) if err.text else None,
        ) from None
    namespace = _constrain_namespace(file)
    try:
        exec(code, namespace)  # the user's own file, run at the user's request
    except Exception as err:
        raise _user_error(err, file, "running the file") from err
    function = namespace.get(_CONSTRAIN_FUNCTION)
    if not callable(function):
        raise _missing_function(source, file)
    return _guarded(function, file)


def _constrain_namespace(file: str) -> dict[str, Any]:
    import numpy as np

    return {"__name__": "galfits_constrain", "__file__": file, "__builtins__": builtins, "np": np, "math": math}


def _missing_function(source: str, file: str) -> ConfigError:
    defined = [(node.name, node.lineno) for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
    found = ", ".join(f"def {name} (line {line})" for name, line in defined) or "no function definition"
    return ConfigError(
        "",
        file=file,
        line=defined[0][1] if defined else max(1, len(source.splitlines())),
        key=_CONSTRAIN_FUNCTION,
        expected=f"a function {_CONSTRAIN_FUNCTION}(pardict)",
        found=found,
    )


def _guarded(function: Callable, file: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def update_constraints(pardict: Mapping[str, Any]) -> dict[str, Any]:
        working = dict(pardict)
        try:
            returned = function(working)
        except Exception as err:
            raise _user_error(err, file, _CONSTRAIN_FUNCTION) from err
        result = working if returned is None else returned
        if not isinstance(result, Mapping):
            raise ConfigError(
                "",
                file=file,
                line=getattr(getattr(function, "__code__", None), "co_firstlineno", None),
                key=_CONSTRAIN_FUNCTION,
                expected="a dict returned (or None after editing pardict)",
                found=type(result).__name__,
            )
        return dict(result)

    update_constraints.__doc__ = f"{_CONSTRAIN_FUNCTION} from {file}, guarded (errors name the file and line)."
    update_constraints.path = file  # type: ignore[attr-defined]
    return update_constraints


def _user_error(err: Exception, file: str, where: str) -> ConfigError:
    """A ConfigError at the deepest line of the user's file in the traceback."""
    frames = [frame for frame in traceback.extract_tb(err.__traceback__) if frame.filename == file]
    frame = frames[-1] if frames else None
    if isinstance(err, KeyError):
        what = f"KeyError {err.args[0]!r} (no parameter of that name?)" if err.args else "KeyError"
    else:
        what = f"{type(err).__name__}: {err}"
    return ConfigError(
        f"{where} raised {what}",
        file=file,
        line=frame.lineno if frame else None,
        found=repr(frame.line) if frame and frame.line else None,
    )


# ---------------------------------------------------------------------------
# Prior file: specs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MassSizePrior:
    """Mass-size relation ``log10(Re/kpc) = intercept + slope (logM - pivot_logm)``.

    van der Wel et al. (2014), ApJ 788, 28, Table 1 form; file order
    ``MSRx2) [intercept (logA), slope (alpha), scatter_dex (, pivot_logm)]``.

    Attributes
    ----------
    profiles : tuple of str
        Profile names (P1) or letters the relation applies to.
    intercept, slope : float
        logA and alpha.
    scatter_dex : float
        Gaussian scatter of log Re [dex]; 0: exact; < 0: switched off.
    pivot_logm : float
        log10 of the pivot stellar mass [Msun].
    key, line : str, int
        Prior key (``MSRa``) and line of its first item, for messages; not
        part of equality.
    """

    profiles: tuple[str, ...]
    intercept: float
    slope: float
    scatter_dex: float
    pivot_logm: float = 10.7
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        """False when the scatter is negative (GalfitS's switch-off)."""
        return self.scatter_dex >= 0

    def log_re_kpc(self, logm: Any) -> Any:
        """Mean log10(Re / kpc) at log stellar mass ``logm`` (float or array)."""
        return self.intercept + self.slope * (logm - self.pivot_logm)


@dataclass(frozen=True)
class MassMetallicityPrior:
    """Mass-metallicity relation ``12 + log(O/H) = a0 + a1 x + a2 x^2 + a3 x^3``.

    Kewley & Ellison (2008), ApJ 681, 1183, with ``x = log10(M*/Msun)``.

    Attributes
    ----------
    profiles : tuple of str
        Profile names or letters.
    coefficients : tuple of 4 float
        a0, a1, a2, a3.
    scatter_dex : float
        Gaussian scatter [dex]; 0: exact; < 0: switched off.
    key, line : str, int
        For messages; not part of equality.
    """

    profiles: tuple[str, ...]
    coefficients: tuple[float, float, float, float]
    scatter_dex: float = 0.10
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        """False when the scatter is negative."""
        return self.scatter_dex >= 0

    def log_oh12(self, logm: Any) -> Any:
        """Mean 12 + log10(O/H) at log stellar mass ``logm`` (Horner form)."""
        a0, a1, a2, a3 = self.coefficients
        return a0 + logm * (a1 + logm * (a2 + logm * a3))


@dataclass(frozen=True)
class GaussianPrior:
    """A Gaussian prior on one parameter.

    Attributes
    ----------
    name : str
        Parameter name (``bulge_n``; in an SFH prior, the SFH parameter).
    mean : float or None
        None: the parameter's start value.
    sigma : float or None
        Width (> 0); None: the likelihood's default width.
    """

    name: str
    mean: float | None = None
    sigma: float | None = None


#: Parameters of each functional SFH form, in ``SFHx3`` order.
SFH_PARAMETERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "exponential": ("logSFR0", "tau", "t0"),
    "delayed": ("logSFR0", "tau"),
    "exponential2": ("logSFR0", "tau0", "t0", "tau1", "t1"),
})
_SFH_ALIASES = {"exponetial": "exponential", "exponential1": "exponential", "delayed_tau": "delayed"}


@dataclass(frozen=True)
class SFHPrior:
    """A functional SFH that a ``bins`` SFH is drawn towards.

    Attributes
    ----------
    profiles : tuple of str
        Profiles with a ``bins`` SFH (P15).
    form : str
        ``exponential``, ``delayed`` or ``exponential2``.
    parameters : tuple of ParamRow
        The form's parameters (names from :data:`SFH_PARAMETERS`, tie None);
        logSFR0 in log10 Msun/yr, times in Gyr.
    priors : tuple of (GaussianPrior or None)
        One per parameter; None: no prior.
    key, line : str, int
        For messages; not part of equality.
    """

    profiles: tuple[str, ...]
    form: str
    parameters: tuple[ParamRow, ...]
    priors: tuple[GaussianPrior | None, ...] = ()
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LinearRelation:
    """``y = intercept + slope * x`` with Gaussian scatter [dex]; file order ``[a, b, sigma]``."""

    intercept: float
    slope: float
    scatter_dex: float

    @property
    def enabled(self) -> bool:
        """False when the scatter is negative."""
        return self.scatter_dex >= 0

    def mean(self, x: Any) -> Any:
        """Mean of y at x (float or array)."""
        return self.intercept + self.slope * x


@dataclass(frozen=True)
class AGNRelationPrior:
    """AGN scaling relations (``AGNx1`` ... ``AGNx12``).

    Attributes
    ----------
    nucleus : str
        Nucleus name (N1), AGNx1.
    host_profile : str or None
        Profile whose stellar mass sets M_BH (AGNx2).
    mbh_host : LinearRelation or None
        log M_BH = a + b log M*(host) (AGNx3; Kormendy & Ho 2013 by default).
    broad_ha_l5100, broad_hb_l5100 : LinearRelation or None
        Broad H-alpha / H-beta vs log L5100 (AGNx4, AGNx5; Greene & Ho 2005).
    broad_lines : tuple of str
        Further broad lines (AGNx6).
    broad_line_ratios : tuple of float
        Their flux ratios to broad H-beta (AGNx7).
    oiii_l5100 : LinearRelation or None
        Narrow [OIII] 5007 vs log L5100 (AGNx8; Stern & Laor 2012).
    narrow_lines : tuple of str
        Further narrow lines (AGNx9).
    narrow_line_ratios : tuple of float
        Their flux ratios to [OIII] 5007 (AGNx10).
    centre_profile : str or None
        Profile whose centre the nucleus follows (AGNx11).
    r_feii : float or None
        FeII 4434-4684 to H-beta flux ratio (AGNx12; Boroson & Green 1992).
    key, line : str, int
        For messages; not part of equality.
    """

    nucleus: str
    host_profile: str | None = None
    mbh_host: LinearRelation | None = None
    broad_ha_l5100: LinearRelation | None = None
    broad_hb_l5100: LinearRelation | None = None
    broad_lines: tuple[str, ...] = ()
    broad_line_ratios: tuple[float, ...] = ()
    oiii_l5100: LinearRelation | None = None
    narrow_lines: tuple[str, ...] = ()
    narrow_line_ratios: tuple[float, ...] = ()
    centre_profile: str | None = None
    r_feii: float | None = None
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PriorSpec:
    """Everything a prior file says.

    Attributes
    ----------
    mass_size, mass_metallicity, sfh, agn, gaussian : tuples
        The priors of each family, in instance-letter order (GP in file order).
    energy_balance : tuple of str
        Profiles with energy balance (EB).
    """

    mass_size: tuple[MassSizePrior, ...] = ()
    mass_metallicity: tuple[MassMetallicityPrior, ...] = ()
    sfh: tuple[SFHPrior, ...] = ()
    agn: tuple[AGNRelationPrior, ...] = ()
    gaussian: tuple[GaussianPrior, ...] = ()
    energy_balance: tuple[str, ...] = ()


# Named relations (see the module docstring for the papers).
_MSR_PRESETS = {
    # van der Wel et al. (2014), Table 1, 0 < z < 0.5: [logA, alpha, sigma].
    "early": (0.60, 0.75, 0.10),
    "late": (0.86, 0.25, 0.16),
}
_MMR_PRESETS = {
    # Kewley & Ellison (2008), Table 2, KD02 calibration.
    "kd02": (28.0974, -7.23631, 0.850344, -0.0318315, 0.10),
    # Tremonti et al. (2004), eq. 3; scatter 0.10 dex (their Sect. 4).
    "t04": (-1.492, 1.847, -0.08026, 0.0, 0.10),
}
_MBH_PRESETS = {
    # Kormendy & Ho (2013), eq. 10: M_BH/1e9 = 0.49 (M_bulge/1e11)^1.17, 0.28 dex.
    "kh13": (-4.18, 1.17, 0.28),
}

_FAMILY_ITEMS = {"MSR": 2, "MMR": 2, "SFH": 4, "AGN": 12}
_KEY = re.compile(r"(?:(?P<family>MSR|MMR|SFH|AGN)(?P<letter>[a-z]+)(?P<item>\d+)|(?P<single>GP|EB))$")
_ENTRY = re.compile(r"\s*(?P<key>[A-Za-z][A-Za-z0-9_]*)\)(?P<value>.*)$", re.DOTALL)
_KNOWN_KEYS = "MSRx1-2, MMRx1-2, SFHx1-4, AGNx1-12 (x = a, b, ...), GP or EB"


@dataclass(frozen=True)
class _Entry:
    key: str
    value: Any
    text: str
    line: int


# ---------------------------------------------------------------------------
# Prior file: reading
# ---------------------------------------------------------------------------


def read_priors(path: PathLike) -> PriorSpec:
    """Read a prior file (``--priorpath``); the format is in the module docstring.

    Raises
    ------
    ConfigError
        Naming file, line, key, what was expected and what was found.
    """
    file = os.fspath(path)
    return parse_priors(_read_text(file), file)


def parse_priors(text: str, file: str = "<priors>") -> PriorSpec:
    """Parse the text of a prior file.

    Parameters
    ----------
    text : str
        File contents.
    file : str
        Name used in error messages.

    Returns
    -------
    PriorSpec
    """
    entries = _prior_entries(text, file)
    groups: dict[tuple[str, str], dict[int, _Entry]] = {}
    singles: dict[str, _Entry] = {}
    for entry in entries:
        match = _KEY.match(entry.key)
        if match["single"]:
            singles[entry.key] = entry
        else:
            groups.setdefault((match["family"], match["letter"]), {})[int(match["item"])] = entry
    build = {"MSR": _mass_size, "MMR": _mass_metallicity, "SFH": _sfh, "AGN": _agn}
    made: dict[str, list] = {family: [] for family in build}
    for family, letter in sorted(groups):
        made[family].append(build[family](family + letter, groups[family, letter], file))
    return PriorSpec(
        mass_size=tuple(made["MSR"]),
        mass_metallicity=tuple(made["MMR"]),
        sfh=tuple(made["SFH"]),
        agn=tuple(made["AGN"]),
        gaussian=_gaussian_priors(singles["GP"], file) if "GP" in singles else (),
        energy_balance=_names(singles["EB"], file, allow_empty=True) if "EB" in singles else (),
    )


def _prior_entries(text: str, file: str) -> list[_Entry]:
    """Split a prior file into entries: comments stripped, lists joined over lines, keys checked."""
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw).strip()
        if pending is not None:
            start, so_far = pending
            _check_not_new_key(line, number, so_far, start, file)
            line = so_far + " " + line
            number = start
        elif not line:
            continue
        if _bracket_depth(line) > 0:
            pending = (number, line)
            continue
        pending = None
        entries.append(_entry(line, number, file, seen))
    if pending is not None:
        start, so_far = pending
        key = so_far.split(")", 1)[0]
        raise ConfigError("", file=file, line=start, key=key, expected="a closing ']'", found="end of file")
    return entries


def _check_not_new_key(line: str, number: int, so_far: str, start: int, file: str) -> None:
    """A list still open when the next key starts: report the unclosed ']'."""
    match = _ENTRY.match(line)
    if match and _KEY.match(match["key"]):
        raise ConfigError(
            "",
            file=file,
            line=start,
            key=so_far.split(")", 1)[0],
            expected="a closing ']'",
            found=f"the next key {match['key']} on line {number}",
        )


def _entry(line: str, number: int, file: str, seen: dict[str, int]) -> _Entry:
    match = _ENTRY.match(line)
    if not match:
        raise ConfigError("", file=file, line=number, expected="KEY) VALUE", found=repr(line))
    key, text = match["key"], match["value"].strip()
    item = _KEY.match(key)
    if not item:
        raise ConfigError("unknown key", file=file, line=number, key=key, expected=_KNOWN_KEYS, found=key)
    if item["family"] and not 1 <= int(item["item"]) <= _FAMILY_ITEMS[item["family"]]:
        family = item["family"]
        raise ConfigError(
            "unknown key",
            file=file,
            line=number,
            key=key,
            expected=f"{family}{item['letter']}1 to {family}{item['letter']}{_FAMILY_ITEMS[family]}",
            found=key,
        )
    if key in seen:
        raise ConfigError(f"key given twice (first on line {seen[key]})", file=file, line=number, key=key)
    seen[key] = number
    try:
        value = parse_value(text)
    except ValueSyntaxError as err:
        raise ConfigError(
            str(err), file=file, line=number, key=key, expected="a value in the KEY) VALUE grammar", found=repr(text)
        ) from None
    return _Entry(key, value, text, number)


def _bracket_depth(text: str) -> int:
    """Open ``[`` minus closed ``]`` outside quotes."""
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
    return depth


# ---------------------------------------------------------------------------
# Prior file: checking values and building specs
# ---------------------------------------------------------------------------


def _fail(entry: _Entry, file: str, expected: str, message: str = "") -> ConfigError:
    return ConfigError(message, file=file, line=entry.line, key=entry.key, expected=expected, found=repr(entry.text))


def _require(group: Mapping[int, _Entry], item: int, key: str, file: str) -> _Entry:
    if item in group:
        return group[item]
    first = group[min(group)]
    raise ConfigError(
        f"{key}{item} is missing", file=file, line=first.line, key=first.key, expected=f"a {key}{item}) line"
    )


def _names(entry: _Entry, file: str, allow_empty: bool = False) -> tuple[str, ...]:
    value = entry.value
    items = value if isinstance(value, list) else ([] if value is None else [value])
    if not all(isinstance(item, str) and item for item in items) or (not items and not allow_empty):
        raise _fail(entry, file, "a name or a list of names")
    return tuple(items)


def _optional_name(entry: _Entry | None, file: str) -> str | None:
    if entry is None or entry.value is None:
        return None
    if not isinstance(entry.value, str):
        raise _fail(entry, file, "a name or none")
    return entry.value


def _numbers(entry: _Entry, file: str, lengths: Sequence[int], what: str) -> tuple[float, ...]:
    value = entry.value
    ok = isinstance(value, list) and len(value) in lengths and all(isinstance(v, float) for v in value)
    if not ok:
        raise _fail(entry, file, what)
    return tuple(value)


def _preset(entry: _Entry, presets: Mapping[str, tuple[float, ...]]) -> tuple[float, ...] | None:
    if isinstance(entry.value, str):
        return presets.get(entry.value.lower())
    return None


def _mass_size(key: str, group: Mapping[int, _Entry], file: str) -> MassSizePrior:
    profiles = _names(_require(group, 1, key, file), file)
    numbers = _MSR_PRESETS["early"]
    if 2 in group:
        entry = group[2]
        numbers = _preset(entry, _MSR_PRESETS) or _numbers(
            entry, file, (3, 4), "[logA, alpha, sigma] or [logA, alpha, sigma, pivot_logM], or early / late"
        )
    return MassSizePrior(profiles, *numbers, key=key, line=group[min(group)].line)


def _mass_metallicity(key: str, group: Mapping[int, _Entry], file: str) -> MassMetallicityPrior:
    profiles = _names(_require(group, 1, key, file), file)
    numbers = _MMR_PRESETS["kd02"]
    if 2 in group:
        entry = group[2]
        numbers = _preset(entry, _MMR_PRESETS) or _numbers(
            entry, file, (4, 5), "[a0, a1, a2, a3] or [a0, a1, a2, a3, sigma], or KD02 / T04"
        )
    scatter = numbers[4] if len(numbers) == 5 else 0.10
    return MassMetallicityPrior(profiles, tuple(numbers[:4]), scatter, key=key, line=group[min(group)].line)


def _sfh(key: str, group: Mapping[int, _Entry], file: str) -> SFHPrior:
    profiles = _names(_require(group, 1, key, file), file)
    form_entry = _require(group, 2, key, file)
    form = form_entry.value.lower() if isinstance(form_entry.value, str) else None
    form = _SFH_ALIASES.get(form, form)
    if form not in SFH_PARAMETERS:
        raise _fail(form_entry, file, " / ".join(SFH_PARAMETERS))
    names = SFH_PARAMETERS[form]
    params_entry = _require(group, 3, key, file)
    parameters = _sfh_parameters(params_entry, names, form, file)
    priors: tuple[GaussianPrior | None, ...] = ()
    if 4 in group:
        priors = _sfh_priors(group[4], names, file)
    return SFHPrior(profiles, form, parameters, priors, key=key, line=group[min(group)].line)


def _sfh_parameters(entry: _Entry, names: Sequence[str], form: str, file: str) -> tuple[ParamRow, ...]:
    expected = f"{len(names)} five-value parameters [value, min, max, step, vary] for {form}: {', '.join(names)}"
    value = entry.value
    if not isinstance(value, list) or len(value) != len(names):
        raise _fail(entry, file, expected)
    rows = []
    for name, item in zip(names, value):
        if not (isinstance(item, list) and len(item) == 5 and all(isinstance(v, float) for v in item)):
            raise _fail(entry, file, expected, f"{name} is not a five-value parameter")
        low, high = item[1], item[2]
        if not low < high:
            raise _fail(entry, file, "min < max", f"{name}: min {low!r} >= max {high!r}")
        rows.append(ParamRow(name, item[0], low, high, item[3], bool(item[4])))
    return tuple(rows)


def _sfh_priors(entry: _Entry, names: Sequence[str], file: str) -> tuple[GaussianPrior | None, ...]:
    expected = f"{len(names)} entries ([] none, [mean] or [mean, sigma]) for {', '.join(names)}"
    value = entry.value
    if not isinstance(value, list) or len(value) != len(names):
        raise _fail(entry, file, expected)
    priors: list[GaussianPrior | None] = []
    for name, item in zip(names, value):
        if not (isinstance(item, list) and len(item) <= 2 and all(isinstance(v, float) for v in item)):
            raise _fail(entry, file, expected, f"bad prior for {name}")
        if len(item) == 2 and not item[1] > 0:
            raise _fail(entry, file, "sigma > 0", f"bad prior for {name}")
        priors.append(GaussianPrior(name, *item) if item else None)
    return tuple(priors)


def _relation(
    entry: _Entry | None, file: str, presets: Mapping[str, tuple[float, ...]] | None = None
) -> LinearRelation | None:
    if entry is None or entry.value is None:
        return None
    numbers = _preset(entry, presets or {})
    if numbers is None:
        names = " or " + " / ".join(p.upper() for p in presets) if presets else ""
        numbers = _numbers(entry, file, (3,), "[a, b, sigma]" + names)
    return LinearRelation(*numbers)


def _line_list(
    names_entry: _Entry | None, ratios_entry: _Entry | None, names_key: str, file: str
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names = _names(names_entry, file, allow_empty=True) if names_entry is not None else ()
    ratios: tuple[float, ...] = ()
    if ratios_entry is not None and ratios_entry.value is not None:
        expected = f"{len(names)} numbers, one per line named in {names_key}"
        ratios = _numbers(ratios_entry, file, (len(names),), expected)
    elif names:
        where = names_entry
        raise ConfigError(
            "line ratios missing", file=file, line=where.line, key=where.key, expected="their ratios in the next key"
        )
    return names, ratios


def _agn(key: str, group: Mapping[int, _Entry], file: str) -> AGNRelationPrior:
    nucleus_entry = _require(group, 1, key, file)
    if not isinstance(nucleus_entry.value, str):
        raise _fail(nucleus_entry, file, "the nucleus name (N1)")
    host = _optional_name(group.get(2), file)
    mbh = _relation(group.get(3), file, _MBH_PRESETS)
    if mbh is not None and host is None:
        raise _fail(group[3], file, "a host profile in " + key + "2", "M_BH relation without a host profile")
    if host is not None and mbh is None:
        mbh = LinearRelation(*_MBH_PRESETS["kh13"])
    broad, broad_ratios = _line_list(group.get(6), group.get(7), key + "6", file)
    narrow, narrow_ratios = _line_list(group.get(9), group.get(10), key + "9", file)
    r_feii = group.get(12)
    if r_feii is not None and r_feii.value is not None and not isinstance(r_feii.value, float):
        raise _fail(r_feii, file, "a number (R_FeII) or none")
    return AGNRelationPrior(
        nucleus=nucleus_entry.value,
        host_profile=host,
        mbh_host=mbh,
        broad_ha_l5100=_relation(group.get(4), file),
        broad_hb_l5100=_relation(group.get(5), file),
        broad_lines=broad,
        broad_line_ratios=broad_ratios,
        oiii_l5100=_relation(group.get(8), file),
        narrow_lines=narrow,
        narrow_line_ratios=narrow_ratios,
        centre_profile=_optional_name(group.get(11), file),
        r_feii=None if r_feii is None else r_feii.value,
        key=key,
        line=group[min(group)].line,
    )


def _gaussian_priors(entry: _Entry, file: str) -> tuple[GaussianPrior, ...]:
    value = entry.value
    items = value if isinstance(value, list) else ([] if value is None else [value])
    expected = "a list of parameter names or [name, mean, sigma] (sigma > 0)"
    priors = []
    for item in items:
        if isinstance(item, str):
            priors.append(GaussianPrior(item))
        elif isinstance(item, list) and len(item) == 1 and isinstance(item[0], str):
            priors.append(GaussianPrior(item[0]))
        elif (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and all(isinstance(v, float) for v in item[1:])
            and item[2] > 0
        ):
            priors.append(GaussianPrior(item[0], item[1], item[2]))
        else:
            raise _fail(entry, file, expected, f"bad entry {item!r}")
    return tuple(priors)
