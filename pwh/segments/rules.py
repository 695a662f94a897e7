"""The segment rule language: a small, safe expression language over person features, compiled to SQL.

A rule such as `purchases_7d >= 1 and product_views_7d >= 3` is tokenized and parsed here by hand; no
rule text ever reaches SQL or `eval`. Feature names are checked against a catalogue and emitted as quoted
identifiers, literals are re-printed from their parsed values, and anything else is a `RuleError` that
points at the column where the rule went wrong.

    literals      12, 0.35, 'text' (write '' for a quote), true, false
    comparisons   = != <> < <= > >=, x between 1 and 5, x [not] in (1, 2), x is [not] null
    logic         and, or, not, parentheses; `not` binds tighter than `and`, `and` tighter than `or`
    arithmetic    + - * / on numbers; dividing by zero gives no value
    dates         a date or timestamp feature compares with text such as '2026-01-31'

Missing values: a comparison with a missing value (or a missing true/false feature) is false, so
`not (days_since_last_purchase < 30)` holds for someone who never bought. The SQL is never null.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

FEATURE_TYPES = frozenset({"number", "text", "boolean", "date", "timestamp"})
DIALECTS = ("ansi", "spark")
MAX_DEPTH = 50  # nested parentheses, `not`s and minus signs; deeper rules are mistakes, not audiences

_KEYWORDS = frozenset({"and", "or", "not", "between", "in", "is", "null", "true", "false"})
_OPERATORS = ("<=", ">=", "<>", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",")
_COMPARISONS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})
_ORDERED = frozenset({"number", "text", "date", "timestamp"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # ASCII only: look-alike letters cannot pose as features
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# invisible or unassigned characters in text values are typos at best and display tricks at worst
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_A = {
    "number": "a number",
    "text": "text",
    "boolean": "true/false",
    "date": "a date",
    "timestamp": "a timestamp",
}


class RuleError(ValueError):
    """A rule that does not parse or type-check; the message points at the column with a caret."""

    def __init__(self, reason: str, *, rule: str, position: int, segment: str | None, field: str):
        self.reason, self.rule, self.segment, self.field = reason, rule, segment, field
        self.line = rule.count("\n", 0, position) + 1
        line_start = rule.rfind("\n", 0, position) + 1
        self.column = position - line_start + 1
        where = f"line {self.line} column {self.column}" if "\n" in rule.strip() else f"column {self.column}"
        prefix = f"segment '{segment}': " if segment else ""
        shown = rule[line_start:].split("\n", 1)[0].replace("\t", " ")
        shown = "".join(c if c.isprintable() else "?" for c in shown)  # keep the caret under its column
        super().__init__(f"{prefix}{field} {where}: {reason}\n    {shown}\n    {' ' * (self.column - 1)}^")


@dataclass(frozen=True)
class CompiledRule:
    """`sql` is a boolean SQL expression over feature columns; `features` lists them in order of use."""

    text: str
    sql: str
    features: tuple[str, ...]


def compile_rule(
    text: str,
    features: Mapping[str, str],
    *,
    segment: str | None = None,
    field: str = "rule",
    dialect: str = "ansi",
) -> CompiledRule:
    """Parse, type-check and compile one rule against a catalogue of feature name -> type.

    dialect "ansi" (DuckDB and standard SQL) quotes names with "..."; "spark" uses `...` and
    backslash-escaped text, since Spark SQL reads "..." as text and backslashes as escapes.
    Raises RuleError for a bad rule and ValueError for a bad catalogue or dialect.
    """
    if not isinstance(text, str):
        raise TypeError(f"a rule is text, got {type(text).__name__}")
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    for name, type_ in features.items():
        # names go into SQL as identifiers, so only plain names are allowed in
        if not (isinstance(name, str) and _NAME.fullmatch(name)) or name.lower() in _KEYWORDS:
            raise ValueError(f"feature catalogue: {name!r} is not a plain feature name")
        if type_ not in FEATURE_TYPES:
            raise ValueError(
                f"feature catalogue: {name!r} has type {type_!r}, not one of {sorted(FEATURE_TYPES)}"
            )
    return _Rule(text, features, segment, field, dialect).compile()


# --- syntax tree: every node knows its span in the rule text, for error messages


@dataclass(frozen=True)
class _Token:
    kind: str  # number, text, name, keyword, op, end
    text: str  # as written
    value: object  # int | Decimal | str; keywords lower-cased
    pos: int
    end: int


@dataclass(frozen=True)
class _Literal:
    value: object
    type: str  # number, text, boolean, null
    pos: int
    end: int


@dataclass(frozen=True)
class _Feature:
    name: str
    pos: int
    end: int


@dataclass(frozen=True)
class _Arith:  # first (op operand)*; a flat chain, so long sums do not nest deeply
    first: object
    rest: tuple[tuple[_Token, object], ...]
    pos: int
    end: int


@dataclass(frozen=True)
class _Negate:
    operand: object
    pos: int
    end: int


@dataclass(frozen=True)
class _Compare:
    op: _Token
    left: object
    right: object
    pos: int
    end: int


@dataclass(frozen=True)
class _Between:
    operand: object
    low: object
    high: object
    negated: bool
    pos: int
    end: int


@dataclass(frozen=True)
class _In:
    operand: object
    items: tuple[object, ...]
    negated: bool
    pos: int
    end: int


@dataclass(frozen=True)
class _IsNull:
    operand: object
    negated: bool
    pos: int
    end: int


@dataclass(frozen=True)
class _Not:
    operand: object
    pos: int
    end: int


@dataclass(frozen=True)
class _Logic:  # and/or over two or more conditions
    op: str
    items: tuple[object, ...]
    pos: int
    end: int


class _Rule:
    """One rule's tokenizer, recursive-descent parser and compiler."""

    def __init__(self, text: str, features: Mapping[str, str], segment: str | None, field: str, dialect: str):
        self.text = text
        self.features = features
        self.segment = segment
        self.field = field
        self.dialect = dialect
        self.used: dict[str, None] = {}  # an ordered set
        self.depth = 0

    def compile(self) -> CompiledRule:
        self.tokens = self._tokenize()
        self.i = 0
        if self._peek.kind == "end":
            raise self._error(0, "expected a condition, found an empty rule")
        tree = self._or()
        if self._peek.kind != "end":
            raise self._expected("'and', 'or' or the end of the rule")
        # Every comparison is null-safe already; the outer coalesce makes "never null" the visible
        # contract, except around a lone comparison, which is a coalesce(..., false) itself.
        sql = self._condition(tree)
        if not isinstance(tree, _Compare | _Between | _In | _Feature):
            sql = f"coalesce({sql}, false)"
        return CompiledRule(self.text, sql, tuple(self.used))

    def _error(self, position: int, reason: str) -> RuleError:
        return RuleError(reason, rule=self.text, position=position, segment=self.segment, field=self.field)

    # --- tokens

    def _tokenize(self) -> list[_Token]:
        text, i, tokens = self.text, 0, []
        while i < len(text):
            if text[i] in " \t\r\n":
                i += 1
                continue
            if match := _NUMBER.match(text, i):
                value = Decimal(match[0]) if "." in match[0] else int(match[0])
                tokens.append(_Token("number", match[0], value, i, match.end()))
            elif match := _NAME.match(text, i):
                word = match[0]
                keyword = word.lower() in _KEYWORDS
                kind, value = ("keyword", word.lower()) if keyword else ("name", word)
                tokens.append(_Token(kind, word, value, i, match.end()))
            elif text[i] == "'":
                tokens.append(self._text_token(i))
            elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
                tokens.append(_Token("op", op, op, i, i + len(op)))
            else:
                hint = {
                    '"': " (text values take single quotes, feature names no quotes)",
                    "`": " (feature names take no quotes)",
                    "&": " (write 'and')",
                    "|": " (write 'or')",
                    "!": " (write 'not', or '!=' / '<>' for not equal)",
                }.get(text[i], "")
                raise self._error(
                    i, f"expected a feature, a value or an operator, found {_show(text[i])}{hint}"
                )
            i = tokens[-1].end
        tokens.append(_Token("end", "", None, len(text), len(text)))
        return tokens

    def _text_token(self, start: int) -> _Token:
        text, i, parts = self.text, start + 1, []
        while True:
            close = text.find("'", i)
            if close < 0:
                raise self._error(start, "expected a closing quote for this text, found the end of the rule")
            parts.append(text[i:close])
            if not text.startswith("'", close + 1):
                break
            parts.append("'")  # '' is a quote inside the text
            i = close + 2
        for position in range(start + 1, close):
            if unicodedata.category(text[position]) in _HIDDEN:
                raise self._error(
                    position, f"expected visible characters in text, found {_show(text[position])}"
                )
        return _Token("text", text[start : close + 1], "".join(parts), start, close + 1)

    @property
    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _at(self, kind: str, *values: str) -> bool:
        return self._peek.kind == kind and self._peek.value in values

    def _accept(self, kind: str, *values: str) -> _Token | None:
        return self._next() if self._at(kind, *values) else None

    def _expected(self, what: str, *, say_after: bool = True) -> RuleError:
        token = self._peek
        after = f" after {_quoted(self.tokens[self.i - 1])}" if self.i and say_after else ""
        found = "the end of the rule" if token.kind == "end" else _quoted(token)
        return self._error(token.pos, f"expected {what}{after}, found {found}")

    def _deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(token.pos, f"expected at most {MAX_DEPTH} levels of nesting, found more")

    # --- grammar, loosest first: or, and, not, predicate, sum, product, unary, primary

    def _or(self) -> object:
        return self._logic("or", self._and)

    def _and(self) -> object:
        return self._logic("and", self._not)

    def _logic(self, op: str, operand) -> object:
        items = [operand()]
        while self._accept("keyword", op):
            items.append(operand())
        return items[0] if len(items) == 1 else _Logic(op, tuple(items), items[0].pos, items[-1].end)

    def _not(self) -> object:
        if token := self._accept("keyword", "not"):
            self._deeper(token)
            operand = self._not()
            self.depth -= 1
            return _Not(operand, token.pos, operand.end)
        return self._predicate()

    def _predicate(self) -> object:
        left = self._sum()
        if op := self._accept("op", *_COMPARISONS):
            right = self._sum()
            return _Compare(op, left, right, left.pos, right.end)
        negated = self._accept("keyword", "not") is not None
        if negated and not self._at("keyword", "between", "in"):
            raise self._expected("'between' or 'in'")
        if self._accept("keyword", "between"):
            low = self._sum()
            if not self._accept("keyword", "and"):
                raise self._expected("'and' between the two bounds")
            high = self._sum()
            return _Between(left, low, high, negated, left.pos, high.end)
        if self._accept("keyword", "in"):
            if not self._accept("op", "("):
                raise self._expected("'(' to start the list")
            items = [self._sum()]
            while self._accept("op", ","):
                items.append(self._sum())
            if not (close := self._accept("op", ")")):
                raise self._expected("',' or ')'")
            return _In(left, tuple(items), negated, left.pos, close.end)
        if self._accept("keyword", "is"):
            negated = self._accept("keyword", "not") is not None
            if not (null := self._accept("keyword", "null")):
                raise self._expected("'null' or 'not null'")
            return _IsNull(left, negated, left.pos, null.end)
        if self._peek.kind == "end" or self._at("keyword", "and", "or") or self._at("op", ")"):
            return left  # a true/false feature on its own, or a parenthesised condition
        raise self._expected("a comparison operator")

    def _sum(self) -> object:
        return self._chain(("+", "-"), self._product)

    def _product(self) -> object:
        return self._chain(("*", "/"), self._unary)

    def _chain(self, ops: tuple[str, ...], operand) -> object:
        first, rest = operand(), []
        while op := self._accept("op", *ops):
            rest.append((op, operand()))
        return _Arith(first, tuple(rest), first.pos, rest[-1][1].end) if rest else first

    def _unary(self) -> object:
        if token := self._accept("op", "-"):
            self._deeper(token)
            operand = self._unary()
            self.depth -= 1
            return _Negate(operand, token.pos, operand.end)
        return self._primary()

    def _primary(self) -> object:
        token = self._peek
        if token.kind in ("number", "text"):
            self._next()
            return _Literal(token.value, token.kind, token.pos, token.end)
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            self._next()
            type_ = "null" if token.value == "null" else "boolean"
            return _Literal(token.value == "true", type_, token.pos, token.end)
        if token.kind == "name":
            self._next()
            return _Feature(token.value, token.pos, token.end)
        if self._accept("op", "("):
            self._deeper(token)
            inner = self._or()
            self.depth -= 1
            if not (close := self._accept("op", ")")):
                raise self._expected(
                    f"')' to close the '(' at column {self._column(token.pos)}", say_after=False
                )
            return replace(inner, pos=token.pos, end=close.end)  # the span includes the parentheses
        raise self._expected("a feature name or a value")

    def _column(self, position: int) -> int:
        return position - (self.text.rfind("\n", 0, position) + 1) + 1

    # --- types and SQL: _value for any expression, _condition where true/false is required

    def _value(self, node) -> tuple[str, str]:
        match node:
            case _Literal(type="null"):
                raise self._error(
                    node.pos, "expected a value, found null (test for a missing value with 'is null')"
                )
            case _Literal(type="number"):
                return (
                    format(node.value, "f") if isinstance(node.value, Decimal) else str(node.value)
                ), "number"
            case _Literal(type="text"):
                return self._quote_text(node.value), "text"
            case _Literal(type="boolean"):
                return ("true" if node.value else "false"), "boolean"
            case _Feature():
                return self._feature(node)
            case _Negate():
                return f"(-{self._number(node.operand, '-')})", "number"
            case _Arith():
                parts = [self._number(node.first, node.rest[0][0].text)]
                for op, operand in node.rest:
                    sql = self._number(operand, op.text)
                    # nullif: no division-by-zero error (Spark in ANSI mode raises one); no value instead
                    parts.append(f"/ nullif({sql}, 0)" if op.text == "/" else f"{op.text} {sql}")
                return f"({' '.join(parts)})", "number"
            case _:
                return self._condition(node), "boolean"

    def _condition(self, node) -> str:
        match node:
            case _Logic():
                return "(" + f" {node.op} ".join(self._condition(item) for item in node.items) + ")"
            case _Not():
                return f"(not {self._condition(node.operand)})"
            case _Compare():
                (left, right), type_ = self._same_type([node.left, node.right])
                op = "<>" if node.op.text == "!=" else node.op.text
                if op not in ("=", "<>") and type_ not in _ORDERED:
                    raise self._error(
                        node.op.pos, f"expected numbers, text or dates around '{op}', found {_A[type_]}"
                    )
                return f"coalesce({left} {op} {right}, false)"
            case _Between():
                (operand, low, high), type_ = self._same_type([node.operand, node.low, node.high])
                if type_ not in _ORDERED:
                    raise self._error(
                        node.pos, f"expected numbers, text or dates for 'between', found {_A[type_]}"
                    )
                negated = "not " if node.negated else ""
                return f"coalesce({operand} {negated}between {low} and {high}, false)"
            case _In():
                (operand, *items), _ = self._same_type([node.operand, *node.items])
                negated = "not " if node.negated else ""
                return f"coalesce({operand} {negated}in ({', '.join(items)}), false)"
            case _IsNull():
                sql, _ = self._value(node.operand)
                return f"({sql} is {'not ' if node.negated else ''}null)"
            case _:
                sql, type_ = self._value(node)
                if type_ != "boolean":
                    raise self._error(
                        node.pos, f"expected a true/false condition, found {_A[type_]} {self._snippet(node)}"
                    )
                return sql if isinstance(node, _Literal) else f"coalesce({sql}, false)"

    def _feature(self, node: _Feature) -> tuple[str, str]:
        type_ = self.features.get(node.name)
        if type_ is None:
            hint = did_you_mean(node.name, self.features)
            raise self._error(node.pos, f"expected a feature name, found unknown feature '{node.name}'{hint}")
        self.used[node.name] = None
        # the name matched a catalogue entry exactly, and catalogue names are plain [A-Za-z0-9_] words
        if self.dialect == "spark":
            return f"`{node.name}`", type_
        return f'"{node.name}"', type_

    def _number(self, node, op: str) -> str:
        sql, type_ = self._value(node)
        if type_ != "number":
            raise self._error(
                node.pos, f"expected a number for '{op}', found {_A[type_]} {self._snippet(node)}"
            )
        return sql

    def _same_type(self, nodes: list) -> tuple[list[str], str]:
        """Compile operands that must share a type; text literals next to a date feature become dates."""
        compiled = [self._value(node) for node in nodes]
        temporal = next((type_ for _, type_ in compiled if type_ in ("date", "timestamp")), None)
        if temporal:
            compiled = [
                (self._temporal(node, temporal), temporal)
                if isinstance(node, _Literal) and type_ == "text"
                else (sql, type_)
                for node, (sql, type_) in zip(nodes, compiled, strict=True)
            ]
        first_type = compiled[0][1]
        for node, (_, type_) in zip(nodes[1:], compiled[1:], strict=True):
            if type_ != first_type:
                raise self._error(
                    node.pos,
                    f"expected {_A[first_type]} to compare with {self._snippet(nodes[0])}, "
                    f"found {_A[type_]} {self._snippet(node)}",
                )
        return [sql for sql, _ in compiled], first_type

    def _temporal(self, node: _Literal, type_: str) -> str:
        try:
            if type_ == "date":
                return f"date '{dt.date.fromisoformat(node.value).isoformat()}'"
            moment = dt.datetime.fromisoformat(node.value)
        except ValueError:
            example = "'2026-01-31'" if type_ == "date" else "'2026-01-31 18:30:00'"
            raise self._error(
                node.pos, f"expected {_A[type_]} like {example}, found {node.value!r}"
            ) from None
        if moment.tzinfo is not None:  # timestamps in the warehouse are UTC
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return f"timestamp '{moment.isoformat(sep=' ')}'"

    def _quote_text(self, value: str) -> str:
        if self.dialect == "spark":  # Spark reads backslash escapes and has no '' escape
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"

    def _snippet(self, node) -> str:
        source = self.text[node.pos : node.end]
        source = source if len(source) <= 40 else source[:37] + "..."
        return source if isinstance(node, _Literal) and node.type == "text" else f"'{source}'"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the choices closest to word, e.g. " (did you mean 'a' or 'b'?)"; "" if none is close."""
    close = [f"'{choice}'" for choice in difflib.get_close_matches(word, list(choices), n=3)]
    if not close:
        return ""
    return f" (did you mean {close[0] if len(close) == 1 else ', '.join(close[:-1]) + ' or ' + close[-1]}?)"


def _quoted(token: _Token) -> str:
    return token.text if token.kind == "text" else f"'{token.text}'"  # text comes with its quotes


def _show(char: str) -> str:
    if char.isascii() and char.isprintable():
        return f"'{char}'"
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"
