"""The subset of OData v4.01 `$filter` and `$orderby` that Prism Central clients send.

Supported (spec nutanix/v4.md section 2): `eq ne gt ge lt le`, `in (...)`,
`and or not`, parentheses, `startswith(f,'x')`, `endswith`, `contains`;
literals: 'quoted strings' ('' escapes a quote), numbers, true/false/null,
bare ISO-8601 times (`creationTime gt 2026-01-13T00:00:00Z`) and bare UUIDs.
Properties are names or paths (`cluster/extId`) that the kind declares; an
unknown property or bad syntax raises `QueryError` (the server answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tests.simulator.inventory import parse_iso

Getter = Callable[[Any], Any]
Predicate = Callable[[Any], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_$][\w$]*(?:/[A-Za-z_$][\w$]*)*)
    | (?P<punct>[(),])
    )""", re.VERBOSE)
_COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_FUNCTIONS = {
    "startswith": lambda a, b: isinstance(a, str) and a.startswith(b),
    "endswith": lambda a, b: isinstance(a, str) and a.endswith(b),
    "contains": lambda a, b: isinstance(a, str) and b in a,
}
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", *_COMPARE, *_FUNCTIONS}


class QueryError(ValueError):
    """A `$filter` or `$orderby` the simulator cannot evaluate (answered with 400)."""


class _Literal:
    def __init__(self, value: Any) -> None:
        self.value = value


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"invalid $filter near position {pos}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Getter]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise QueryError(f"invalid $filter: expected {value or 'more input'}")
        self.pos += 1
        return token

    def word(self) -> str | None:
        token = self.peek()
        return token[1] if token and token[0] == "name" else None

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise QueryError("invalid $filter: unexpected trailing input")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.word() == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while self.word() == "and":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def not_expr(self) -> Predicate:
        if self.word() == "not":
            self.take()
            inner = self.not_expr()
            return lambda r: not inner(r)
        return self.primary()

    def primary(self) -> Predicate:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        name = self.word()
        if name in _FUNCTIONS:
            self.take()
            self.take("(")
            left = self.operand()
            self.take(",")
            right = self.operand()
            self.take(")")
            return _binary(_FUNCTIONS[name], left, right)
        left = self.operand()
        op = self.word()
        if op == "in":
            self.take()
            self.take("(")
            options = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                options.append(self.literal())
            self.take(")")
            return _member(left, options)
        if op not in _COMPARE:
            raise QueryError("invalid $filter: expected a comparison operator")
        self.take()
        return _binary(_COMPARE[op], left, self.operand())

    def literal(self) -> _Literal:
        operand = self.operand()
        if not isinstance(operand, _Literal):
            raise QueryError("invalid $filter: expected a literal")
        return operand

    def operand(self) -> Getter | _Literal:
        kind, text = self.take()
        if kind == "str":
            return _Literal(text[1:-1].replace("''", "'"))
        if kind == "time":
            return _Literal(parse_iso(text))
        if kind == "uuid":
            return _Literal(text)
        if kind == "num":
            return _Literal(float(text) if "." in text else int(text))
        if kind == "name" and text in ("true", "false", "null"):
            return _Literal({"true": True, "false": False, "null": None}[text])
        if kind == "name" and text not in _KEYWORDS:
            if text not in self.fields:
                raise QueryError(f"unsupported property in $filter: {text}")
            return self.fields[text]
        raise QueryError(f"invalid $filter near {text!r}")


def _coerce(value: Any, like: Any) -> Any:
    """Compare times with times: a quoted time literal against a time property."""
    if isinstance(like, datetime) and isinstance(value, str):
        try:
            return parse_iso(value)
        except ValueError:
            return value
    return value


def _resolve(operand: Getter | _Literal, record: Any) -> Any:
    return operand.value if isinstance(operand, _Literal) else operand(record)


def _binary(op: Callable[[Any, Any], bool], left, right) -> Predicate:
    def predicate(record: Any) -> bool:
        a, b = _resolve(left, record), _resolve(right, record)
        try:
            return bool(op(_coerce(a, b), _coerce(b, a)))
        except TypeError:
            return False
    return predicate


def _member(left, options: list[_Literal]) -> Predicate:
    def predicate(record: Any) -> bool:
        value = _resolve(left, record)
        return any(value == _coerce(o.value, value) for o in options)
    return predicate


def compile_filter(text: str, fields: Mapping[str, Getter]) -> Predicate:
    return _Parser(text, fields).parse()


def order(records: list, text: str, fields: Mapping[str, Getter]) -> list:
    """`$orderby=createTime desc, name` applied stably; missing values sort last."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError("invalid $orderby")
        if words[0] not in fields:
            raise QueryError(f"unsupported property in $orderby: {words[0]}")
        keys.append((fields[words[0]], len(words) == 2 and words[1] == "desc"))
    result = list(records)
    for getter, descending in reversed(keys):
        present = [r for r in result if getter(r) is not None]
        missing = [r for r in result if getter(r) is None]
        present.sort(key=getter, reverse=descending)
        result = present + missing
    return result
