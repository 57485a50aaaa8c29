"""Values of the ``KEY) VALUE`` grammar: lists, numbers, words, arithmetic.

Shared by the ``.lyric`` parser and the companion files. A value is a
Python-like literal, but it is never handed to ``eval``: brackets are split
by a small recursive-descent reader and each scalar is either a quoted
string, a number written as simple arithmetic (``3800/(1+z)``) or a bare word
(``sloan_g``, ``g_band.fits``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping

__all__ = ["ValueSyntaxError", "parse_value", "evaluate_number", "strip_comment", "format_value"]


class ValueSyntaxError(ValueError):
    """A value cannot be read; the message says what was expected."""


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def evaluate_number(text: str, names: Mapping[str, float] | None = None) -> float | None:
    """Evaluate simple arithmetic, or return None when ``text`` is not a number.

    Parameters
    ----------
    text : str
        E.g. ``"3800/(1+z)"``, ``"1e-3"``, ``"-5"``.
    names : mapping of str to float, optional
        Symbols allowed in the expression (``{"z": 0.05}``).

    Returns
    -------
    float or None
        The value; None when ``text`` is not arithmetic on numbers and
        ``names`` (then it is a word, such as a band or file name).
    """
    names = names or {}
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in names:
            return float(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        raise _NotArithmetic

    try:
        return walk(tree)
    except _NotArithmetic:
        return None
    except (ZeroDivisionError, OverflowError) as err:
        raise ValueSyntaxError(f"arithmetic fails in {text.strip()!r} ({err})") from None


class _NotArithmetic(Exception):
    pass


def strip_comment(line: str) -> str:
    """Drop everything after the first ``#`` that is not inside quotes."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def parse_value(text: str, names: Mapping[str, float] | None = None) -> object:
    """Read one value: a scalar or a (nested) bracketed list.

    Parameters
    ----------
    text : str
        The value text, comment already stripped.
    names : mapping of str to float, optional
        Symbols allowed in arithmetic (``z``).

    Returns
    -------
    object
        ``list`` for brackets, ``float`` for numbers, ``str`` for quoted
        strings and bare words, ``None`` for an empty value, ``none`` or ``None``.

    Raises
    ------
    ValueSyntaxError
        Unbalanced brackets or quotes, or text after a closing bracket.
    """
    text = text.strip()
    if not text:
        return None
    value, end = _read(text, 0, names or {})
    if text[end:].strip():
        raise ValueSyntaxError(f"unexpected text {text[end:].strip()!r} after the value")
    return value


def _read(text: str, pos: int, names: Mapping[str, float]) -> tuple[object, int]:
    pos = _skip_space(text, pos)
    if pos < len(text) and text[pos] == "[":
        return _read_list(text, pos + 1, names)
    if pos < len(text) and text[pos] in "'\"":
        quote = text[pos]
        end = text.find(quote, pos + 1)
        if end < 0:
            raise ValueSyntaxError(f"unclosed quote in {text!r}")
        return text[pos + 1 : end], end + 1
    end = pos
    depth = 0
    while end < len(text):
        char = text[end]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char in ",]":
            break
        elif char == "[":
            raise ValueSyntaxError(f"unexpected '[' inside {text.strip()!r}")
        end += 1
    return _scalar(text[pos:end], names), end


def _read_list(text: str, pos: int, names: Mapping[str, float]) -> tuple[list, int]:
    items: list = []
    pos = _skip_space(text, pos)
    if pos < len(text) and text[pos] == "]":
        return items, pos + 1
    while True:
        item, pos = _read(text, pos, names)
        items.append(item)
        pos = _skip_space(text, pos)
        if pos >= len(text):
            raise ValueSyntaxError(f"missing ']' in {text.strip()!r}")
        if text[pos] == "]":
            return items, pos + 1
        if text[pos] != ",":
            raise ValueSyntaxError(f"expected ',' or ']' at {text[pos:].strip()!r}")
        pos += 1


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _scalar(token: str, names: Mapping[str, float]) -> object:
    token = token.strip()
    if token == "":
        raise ValueSyntaxError("empty list item")
    if token in ("none", "None"):
        return None
    number = evaluate_number(token, names)
    if number is not None:
        return number
    return token


def format_value(value: object) -> str:
    """Write a value back in the grammar that :func:`parse_value` reads.

    Floats use ``repr`` so that writing and reading gives the same number;
    strings are quoted only when they contain characters that need it.
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_quoted(v) if isinstance(v, str) else format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return repr(value)
    text = str(value)
    if text in ("none", "None") or any(c in text for c in ",[]#'\" ") or evaluate_number(text) is not None:
        return _quoted(text)
    return text


def _quoted(text: str) -> str:
    return "'" + text + "'" if "'" not in text else '"' + text + '"'
