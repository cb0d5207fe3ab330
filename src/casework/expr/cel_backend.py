"""CEL front end on top of the ``common-expression-language`` Rust binding (import name ``cel``).

The program is compiled once; each evaluation passes only the variables the expression references, which keeps
the per-call conversion into CEL values small and means an unrelated, non-convertible case variable cannot break
a condition. Unlike JUEL, CEL has no implicit null: a referenced variable that is absent from both ``local`` and
the case variables makes evaluation raise :class:`EvaluationError` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from casework.expr.errors import EvaluationError, ExpressionError, excerpt

__all__ = ["CelProgram", "cel_identifiers"]

WILDCARD: Final = "*"

# Keywords, literals and reserved words never denote a variable. Function names (`size(x)`) are recognised by the
# following parenthesis instead of by a list, so a variable that happens to be called e.g. `list` is still reported.
_NOT_VARIABLES: Final = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
        "import", "let", "loop", "package", "namespace", "return", "var", "void", "while",
    }
)
_TOKEN_RE: Final = re.compile(
    r"""(?P<string>[rRbB]{0,2}(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"))"""
    # A comment runs to the end of its line; read as tokens, `L.// x` + newline + `map(...)` hid a macro from the
    # counts below, and its comprehensions ran unbounded.
    r"""|(?P<comment>//[^\n]*)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<dot>\.)|(?P<other>\S)""",
    re.DOTALL,
)


def _tokens(source: str) -> Iterator[re.Match[str]]:
    """The expression's tokens, without its comments."""
    return (match for match in _TOKEN_RE.finditer(source) if match.lastgroup != "comment")
# Comprehension macros iterate over a list; nested in each other they multiply, and seven levels of one small
# literal list took 76 s and 1.5 GB. Conditions need one, seldom two.
_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
MAX_MACRO_NESTING: Final = 2
# Side by side, or within those two levels, the work is still the product of what each one repeats: `L.map(x,
# L.map(y, L))` with L a 100-item literal list built a million values in 26 s (and 10,000 characters fit 1,600-item
# lists), and `[1].map(a, [a, a])` written 18 times over built 2^18 values in a second, each more doubling it. So
# an expression holds at most MAX_MACROS comprehensions, and beside one its list and map literals hold at most
# MAX_LITERAL_ITEMS_WITH_MACROS items together: at worst 16^4 values. Case data is not bounded here: a
# comprehension over it costs what it holds.
MAX_MACROS: Final = 4
MAX_LITERAL_ITEMS_WITH_MACROS: Final = 64
_UNDEFINED_RE: Final = re.compile(r"Undefined variable or function: '([^']*)'")
_FATAL: Final = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


def cel_identifiers(source: str) -> frozenset[str]:
    """Free identifiers of a CEL expression, found lexically; a fallback when the binding cannot say.

    Comprehension variables (``x`` in ``list.exists(x, x > 0)``) are included: over-reporting only costs an extra
    re-evaluation, whereas under-reporting would miss one.
    """
    names: set[str] = set()
    after_dot = False
    for match in _tokens(source):
        kind = match.lastgroup
        if (
            kind == "ident"
            and not after_dot
            and match.group() not in _NOT_VARIABLES
            and not source[match.end():].lstrip().startswith("(")
        ):
            names.add(match.group())
        after_dot = kind == "dot"
    return frozenset(names)


def _macro_nesting(source: str) -> tuple[int, int]:
    """How deep comprehension macros (`list.all(x, ...)`) nest inside each other's parentheses, and how many there
    are, found lexically."""
    depth = deepest = count = 0
    open_macros: list[int] = []  # the parenthesis depth at which each open macro's argument list began
    after_dot = False
    pending = False  # a macro name was just read: the next "(" opens its arguments
    for match in _tokens(source):
        kind, text = match.lastgroup, match.group()
        if text == "(":
            depth += 1
            if pending:
                count += 1
                open_macros.append(depth)
                deepest = max(deepest, len(open_macros))
        elif text == ")":
            if open_macros and open_macros[-1] == depth:
                open_macros.pop()
            depth -= 1
        pending = kind == "ident" and after_dot and text in _MACROS
        after_dot = kind == "dot"
    return deepest, count


def _literal_items(source: str) -> int:
    """How many items the list and map literals of the expression hold together, counted lexically."""
    total = 0
    open_brackets: list[list[int]] = []  # per open bracket: [is a list or map, commas seen, any item seen]
    for match in _tokens(source):
        text = match.group()
        if text in ("[", "{", "("):
            if open_brackets:
                open_brackets[-1][2] = 1
            open_brackets.append([int(text != "("), 0, 0])
        elif text in ("]", "}", ")"):
            if open_brackets:
                literal, commas, seen = open_brackets.pop()
                if literal and seen:
                    total += commas + 1
        elif open_brackets:
            if text == ",":
                open_brackets[-1][1] += 1
            else:
                open_brackets[-1][2] = 1
    return total


class CelProgram:
    """A compiled CEL expression; call it with ``(variables, local)``."""

    __slots__ = ("_names", "_program", "_source", "variables")

    def __init__(self, source: str) -> None:
        if not source.strip():
            raise ExpressionError("invalid CEL expression '': the expression is empty")
        nesting, macros = _macro_nesting(source)
        if macros > MAX_MACROS:
            raise ExpressionError(
                f"invalid CEL expression {excerpt(source)!r}: it holds {macros} comprehensions (all, exists, "
                f"exists_one, map, filter), each of which can multiply the work of the others; at most {MAX_MACROS} "
                "are allowed"
            )
        if nesting > MAX_MACRO_NESTING:
            raise ExpressionError(
                f"invalid CEL expression {excerpt(source)!r}: comprehensions (all, exists, exists_one, map, filter) "
                f"are nested {nesting} deep; at most {MAX_MACRO_NESTING} are allowed"
            )
        if macros:
            items = _literal_items(source)
            if items > MAX_LITERAL_ITEMS_WITH_MACROS:
                raise ExpressionError(
                    f"invalid CEL expression {excerpt(source)!r}: its list and map literals hold {items} items beside "
                    f"a comprehension (all, exists, exists_one, map, filter), which repeats them; at most "
                    f"{MAX_LITERAL_ITEMS_WITH_MACROS} are allowed"
                )
        # Imported at the first CEL expression: the package's own __init__ loads its command line and prompt_toolkit
        # (0.2 s), which every casework command paid whether or not a model holds CEL.
        import cel

        try:
            self._program = cel.compile(source)
        except _FATAL:
            raise
        except BaseException as exc:  # the binding may surface Rust panics as BaseException subclasses
            raise ExpressionError(f"invalid CEL expression {excerpt(source)!r}: {_first_line(exc)}") from None
        self._source = source
        names = self._static_variables()
        self._names: tuple[str, ...] | None = None if WILDCARD in names else tuple(sorted(names))
        self.variables: frozenset[str] = names

    def _static_variables(self) -> frozenset[str]:
        analyse = getattr(self._program, "variables", None)
        if analyse is None:
            return cel_identifiers(self._source)
        try:
            return frozenset(str(name) for name in analyse())
        except Exception:
            return frozenset({WILDCARD})

    def __call__(self, variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        context: dict[str, Any]
        if self._names is None:
            context = {**variables, **local}
        else:
            context = {}
            for name in self._names:
                if name in local:
                    context[name] = local[name]
                elif name in variables:
                    context[name] = variables[name]
        try:
            return self._program.execute(context)
        except _FATAL:
            raise
        except KeyError as exc:
            raise EvaluationError(f"no such key: {exc}") from None
        except BaseException as exc:
            message = _first_line(exc)
            undefined = _UNDEFINED_RE.search(message)
            if undefined:
                name = undefined.group(1)
                if re.search(rf"\b{re.escape(name)}\s*\(", self._source):
                    # The binding says the same of a function it lacks and of one given arguments of the wrong type.
                    message = f"function {name!r} does not exist or cannot take these arguments (their types)"
                else:
                    message = f"variable {name!r} is not defined (CEL has no implicit null)"
            raise EvaluationError(message) from None

    def evaluate_bool(self, variables: Mapping[str, Any], local: Mapping[str, Any]) -> bool:
        value = self(variables, local)
        if value is True or value is False:
            return value
        raise EvaluationError(f"expected a boolean result but got {value!r} ({type(value).__name__})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _parse_error(text) if "<input>:" in text else text.splitlines()[0]


def _parse_error(text: str) -> str:
    # The binding renders "Failed to parse ...: ERROR: <input>:L:C: Syntax error: ..." plus a caret diagram; keep
    # the position and the problem, drop the echoed source.
    match = re.search(r"<input>:(\d+):(\d+): (.*)", text)
    if match is None:
        return text.splitlines()[0]
    line, column, problem = match.groups()
    return f"{problem} at line {line}, column {column}"
