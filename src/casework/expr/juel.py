"""JUEL / Unified EL front end: lexer, recursive-descent parser and closure compiler.

Flowable and Camunda models carry conditions such as ``${amount > 1000}``. The text between ``${`` (or ``#{``)
and ``}`` is parsed into a small AST which is then turned into a tree of closures, so evaluation is a chain of
plain Python calls with no dispatch on node kinds and no ``eval``.

Identifiers resolve first in the ``local`` mapping (e.g. ``repetitionCounter``) and then in the case variables;
an unknown identifier is ``null`` (``None``), as in Flowable. The only method calls accepted are
``caseInstance.getVariable(name)`` and ``caseInstance.hasVariable(name)``; anything else is rejected at compile time
so that a model cannot call into Python objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from casework.expr import el_coercion as el
from casework.expr.errors import EvaluationError, ExpressionError, excerpt

__all__ = ["CASE_INSTANCE", "IMPLICIT_LOCALS", "WILDCARD", "Evaluator", "JuelProgram", "compile_juel", "is_juel"]

Evaluator = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]

CASE_INSTANCE: Final = "caseInstance"
# Names the engine supplies through ``local``; they are not case variables, so they must not index re-evaluation.
IMPLICIT_LOCALS: Final = frozenset({CASE_INSTANCE, "repetitionCounter"})
WILDCARD: Final = "*"

# Deep nesting would otherwise surface as RecursionError while parsing or, worse, while evaluating.
_MAX_NESTING: Final = 64
_MAX_DEPTH: Final = 200

_KEYWORD_OPERATORS: Final = {
    "and": "&&",
    "or": "||",
    "not": "!",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "empty": "empty",
}
_LITERAL_KEYWORDS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}
_RESERVED: Final = frozenset({"instanceof"})
_SYMBOLS: Final = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", "[",
                   "]", "(", ")", ",")
_BINARY_PRECEDENCE: Final = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
_CASE_METHODS: Final = frozenset({"getVariable", "hasVariable"})


def is_juel(source: str) -> bool:
    """Whether ``source`` is written in the EL ``${...}``/``#{...}`` syntax rather than CEL."""
    text = source.strip()
    return text.startswith(("${", "#{"))


# ---------------------------------------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num", "str", "ident", "op", "lit", "eof"
    value: Any
    pos: int  # offset into the full source, for error messages


class _Failure(Exception):
    """Internal: carries an offset so the public error can render a column."""

    def __init__(self, pos: int, problem: str) -> None:
        super().__init__(problem)
        self.pos = pos
        self.problem = problem


def _tokenize(text: str, start: int, end: int) -> list[_Token]:
    tokens: list[_Token] = []
    i = start
    while i < end:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if _is_digit(ch) or (ch == "." and i + 1 < end and _is_digit(text[i + 1])):
            i = _lex_number(text, i, end, tokens)
            continue
        if ch in "'\"":
            i = _lex_string(text, i, end, tokens)
            continue
        if ch.isalpha() or ch in "_$":
            j = i + 1
            while j < end and (text[j].isalnum() or text[j] in "_$"):
                j += 1
            word = text[i:j]
            if word in _LITERAL_KEYWORDS:
                tokens.append(_Token("lit", _LITERAL_KEYWORDS[word], i))
            elif word in _KEYWORD_OPERATORS:
                tokens.append(_Token("op", _KEYWORD_OPERATORS[word], i))
            elif word in _RESERVED:
                raise _Failure(i, f"'{word}' is not supported")
            else:
                tokens.append(_Token("ident", word, i))
            i = j
            continue
        if ch == "}":
            raise _Failure(i, "unexpected '}' (composite text such as '${a} ${b}' is not supported)")
        for symbol in _SYMBOLS:
            if text.startswith(symbol, i, end):
                tokens.append(_Token("op", symbol, i))
                i += len(symbol)
                break
        else:
            raise _Failure(i, f"unexpected character {ch!r}")
    tokens.append(_Token("eof", None, end))
    return tokens


def _is_digit(ch: str) -> bool:
    # str.isdigit() also accepts non-ASCII digits, which EL does not.
    return "0" <= ch <= "9"


def _lex_number(text: str, i: int, end: int, tokens: list[_Token]) -> int:
    j = i
    while j < end and _is_digit(text[j]):
        j += 1
    is_float = False
    if j < end and text[j] == "." and (j + 1 >= end or not (text[j + 1].isalpha() or text[j + 1] in "_$")):
        is_float = True
        j += 1
        while j < end and _is_digit(text[j]):
            j += 1
    if j < end and text[j] in "eE":
        k = j + 1
        if k < end and text[k] in "+-":
            k += 1
        if k < end and _is_digit(text[k]):
            is_float = True
            j = k
            while j < end and _is_digit(text[j]):
                j += 1
    literal = text[i:j]
    try:
        value: int | float = float(literal) if is_float else int(literal)
    except ValueError:  # Python refuses to parse integers with thousands of digits
        raise _Failure(i, f"number literal is too long ({len(literal)} digits)") from None
    tokens.append(_Token("num", value, i))
    return j


def _lex_string(text: str, i: int, end: int, tokens: list[_Token]) -> int:
    quote = text[i]
    chars: list[str] = []
    j = i + 1
    while j < end:
        ch = text[j]
        if ch == "\\" and j + 1 < end and text[j + 1] in (quote, "\\"):
            chars.append(text[j + 1])
            j += 2
            continue
        if ch == quote:
            tokens.append(_Token("str", "".join(chars), i))
            return j + 1
        chars.append(ch)
        j += 1
    raise _Failure(i, "unterminated string literal")


# ------------------------------------------------------------------------------------------------------------ AST


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # "lit", "ident", "member", "index", "unary", "binary", "and", "or", "cond", "call"
    value: Any = None  # literal value, identifier/property/method name, or operator
    children: tuple[_Node, ...] = ()
    depth: int = 1


def _node(kind: str, value: Any, *children: _Node) -> _Node:
    return _Node(kind, value, children, 1 + max((c.depth for c in children), default=0))


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._nesting = 0

    @property
    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "eof":
            self._index += 1
        return token

    def _is_op(self, symbol: str) -> bool:
        token = self._peek
        return token.kind == "op" and token.value == symbol

    def _expect_op(self, symbol: str, context: str) -> _Token:
        if not self._is_op(symbol):
            raise _Failure(self._peek.pos, f"expected '{symbol}' {context} but found {_show(self._peek)}")
        return self._advance()

    def _checked(self, node: _Node, pos: int) -> _Node:
        if node.depth > _MAX_DEPTH:
            raise _Failure(pos, f"expression is nested more than {_MAX_DEPTH} levels deep")
        return node

    def parse(self) -> _Node:
        if self._peek.kind == "eof":
            raise _Failure(self._peek.pos, "empty expression")
        node = self._expression()
        if self._peek.kind != "eof":
            raise _Failure(self._peek.pos, f"unexpected {_show(self._peek)} after a complete expression")
        return node

    def _expression(self) -> _Node:
        self._nesting += 1
        if self._nesting > _MAX_NESTING:
            raise _Failure(self._peek.pos, f"expression is nested more than {_MAX_NESTING} levels deep")
        try:
            start = self._peek.pos
            condition = self._binary(1)
            if not self._is_op("?"):
                return condition
            self._advance()
            then = self._expression()
            self._expect_op(":", "in conditional expression 'a ? b : c'")
            otherwise = self._expression()
            return self._checked(_node("cond", None, condition, then, otherwise), start)
        finally:
            self._nesting -= 1

    def _binary(self, min_precedence: int) -> _Node:
        left = self._unary()
        while True:
            token = self._peek
            precedence = _BINARY_PRECEDENCE.get(token.value) if token.kind == "op" else None
            if precedence is None or precedence < min_precedence:
                return left
            self._advance()
            right = self._binary(precedence + 1)
            op = token.value
            kind = "and" if op == "&&" else "or" if op == "||" else "binary"
            left = self._checked(_node(kind, op, left, right), token.pos)

    def _unary(self) -> _Node:
        token = self._peek
        if token.kind == "op" and token.value in ("-", "!", "empty"):
            self._advance()
            self._nesting += 1
            if self._nesting > _MAX_NESTING:
                raise _Failure(token.pos, f"expression is nested more than {_MAX_NESTING} levels deep")
            try:
                operand = self._unary()
            finally:
                self._nesting -= 1
            if token.value == "-" and operand.kind == "lit" and el.is_number(operand.value):
                return _node("lit", -operand.value)
            return self._checked(_node("unary", token.value, operand), token.pos)
        return self._postfix()

    def _postfix(self) -> _Node:
        node = self._primary()
        while True:
            token = self._peek
            if self._is_op("."):
                self._advance()
                name_token = self._advance()
                if name_token.kind != "ident":
                    raise _Failure(name_token.pos, f"expected a property name after '.' but found {_show(name_token)}")
                name = name_token.value
                if self._is_op("("):
                    node = self._method_call(node, name, name_token.pos)
                else:
                    node = _node("member", name, node)
            elif self._is_op("["):
                self._advance()
                key = self._expression()
                self._expect_op("]", "to close '['")
                node = _node("index", None, node, key)
            else:
                return node
            self._checked(node, token.pos)

    def _method_call(self, receiver: _Node, name: str, pos: int) -> _Node:
        if receiver.kind != "ident" or receiver.value != CASE_INSTANCE or name not in _CASE_METHODS:
            raise _Failure(pos, f"method call '{name}(...)' is not supported; only caseInstance.getVariable(name) "
                                "and caseInstance.hasVariable(name) may be called")
        self._expect_op("(", "")
        if self._is_op(")"):
            raise _Failure(self._peek.pos, f"caseInstance.{name} expects exactly one argument")
        argument = self._expression()
        if not self._is_op(")"):
            raise _Failure(self._peek.pos, f"caseInstance.{name} expects exactly one argument")
        self._advance()
        return _node("call", name, argument)

    def _primary(self) -> _Node:
        token = self._advance()
        if token.kind in ("num", "str", "lit"):
            return _node("lit", token.value)
        if token.kind == "ident":
            if self._is_op("("):
                raise _Failure(token.pos, f"function call '{token.value}(...)' is not supported")
            return _node("ident", token.value)
        if token.kind == "op" and token.value == "(":
            inner = self._expression()
            self._expect_op(")", "to close '('")
            return inner
        if token.kind == "eof":
            raise _Failure(token.pos, "unexpected end of expression, expected an operand")
        raise _Failure(token.pos, f"unexpected {_show(token)}, expected an operand")


def _show(token: _Token) -> str:
    if token.kind == "eof":
        return "end of expression"
    if token.kind == "str":
        return f"string {token.value!r}"
    if token.kind == "lit":
        return "null" if token.value is None else str(token.value).lower()
    return f"'{token.value}'"


# ------------------------------------------------------------------------------------------------------- analysis


def _read_variables(node: _Node) -> frozenset[str]:
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current.kind == "ident":
            names.add(current.value)
        elif current.kind == "call":
            argument = current.children[0]
            if argument.kind == "lit" and isinstance(argument.value, str):
                names.add(argument.value)
            else:
                return frozenset({WILDCARD})
        stack.extend(current.children)
    return frozenset(names - IMPLICIT_LOCALS)


# ------------------------------------------------------------------------------------------------------- compiler


def _compile(node: _Node) -> Evaluator:
    kind = node.kind
    if kind == "lit":
        return _constant(node.value)
    if kind == "ident":
        return _identifier(node.value)
    if kind == "call":
        return _case_call(node.value, node.children[0])
    if kind == "member":
        return _member(_compile(node.children[0]), node.value)
    if kind == "index":
        return _index(_compile(node.children[0]), _compile(node.children[1]))
    if kind == "unary":
        return _unary(node.value, _compile(node.children[0]))
    if kind == "and":
        return _and(_compile(node.children[0]), _compile(node.children[1]))
    if kind == "or":
        return _or(_compile(node.children[0]), _compile(node.children[1]))
    if kind == "cond":
        return _conditional(*(_compile(child) for child in node.children))
    return _binary(node.value, node.children[0], node.children[1])


def _constant(value: Any) -> Evaluator:
    def constant(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return value

    return constant


def _identifier(name: str) -> Evaluator:
    def identifier(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        if local and name in local:
            return local[name]
        return variables.get(name)

    return identifier


def _case_call(method: str, argument: _Node) -> Evaluator:
    if argument.kind == "lit" and isinstance(argument.value, str):
        name: str = argument.value
        if method == "getVariable":

            def get_literal(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
                return variables.get(name)

            return get_literal

        def has_literal(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return name in variables

        return has_literal

    compute = _compile(argument)
    if method == "getVariable":

        def get_dynamic(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return variables.get(el.to_str(compute(variables, local)))

        return get_dynamic

    def has_dynamic(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.to_str(compute(variables, local)) in variables

    return has_dynamic


def _member(base: Evaluator, name: str) -> Evaluator:
    def member(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        value = base(variables, local)
        if type(value) is dict:
            return value.get(name)
        return el.get_property(value, name)

    return member


def _index(base: Evaluator, key: Evaluator) -> Evaluator:
    def index(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.get_index(base(variables, local), key(variables, local))

    return index


def _unary(op: str, operand: Evaluator) -> Evaluator:
    if op == "!":

        def logical_not(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return not el.to_bool(operand(variables, local))

        return logical_not
    if op == "empty":

        def empty(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return el.is_empty(operand(variables, local))

        return empty

    def negate(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.negate(operand(variables, local))

    return negate


def _and(left: Evaluator, right: Evaluator) -> Evaluator:
    def logical_and(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.to_bool(left(variables, local)) and el.to_bool(right(variables, local))

    return logical_and


def _or(left: Evaluator, right: Evaluator) -> Evaluator:
    def logical_or(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.to_bool(left(variables, local)) or el.to_bool(right(variables, local))

    return logical_or


def _conditional(condition: Evaluator, then: Evaluator, otherwise: Evaluator) -> Evaluator:
    def conditional(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        if el.to_bool(condition(variables, local)):
            return then(variables, local)
        return otherwise(variables, local)

    return conditional


def _binary(op: str, left_node: _Node, right_node: _Node) -> Evaluator:
    if op in ("==", "!="):
        return _equality(op == "!=", left_node, right_node)
    left, right = _compile(left_node), _compile(right_node)
    if op in ("<", ">", "<=", ">="):
        if right_node.kind == "lit" and type(right_node.value) in (int, float):
            return _compare_constant(op, left, right_node.value)

        def relational(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return el.compare(op, left(variables, local), right(variables, local))

        return relational
    if op == "/":

        def divide(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return el.divide(left(variables, local), right(variables, local))

        return divide
    if op == "%":

        def modulo(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return el.modulo(left(variables, local), right(variables, local))

        return modulo

    def arithmetic(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.arith(op, left(variables, local), right(variables, local))

    return arithmetic


def _equality(negated: bool, left_node: _Node, right_node: _Node) -> Evaluator:
    # `x == null` is by far the most common comparison in imported models, so it skips the coercion machinery.
    null_side = right_node if _is_null(left_node) else left_node if _is_null(right_node) else None
    if null_side is not None:
        operand = _compile(null_side)
        if negated:

            def is_not_null(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
                return operand(variables, local) is not None

            return is_not_null

        def is_null(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            return operand(variables, local) is None

        return is_null

    left, right = _compile(left_node), _compile(right_node)

    def equality(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        return el.equals(left(variables, local), right(variables, local)) is not negated

    return equality


def _is_null(node: _Node) -> bool:
    return node.kind == "lit" and node.value is None


def _compare_constant(op: str, left: Evaluator, constant: float) -> Evaluator:
    # Specialised per operator so the common `amount > 1000` costs one variable lookup and one native comparison.
    if op == "<":

        def less(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            value = left(variables, local)
            if type(value) is int or type(value) is float:
                return value < constant
            return el.compare(op, value, constant)

        return less
    if op == ">":

        def greater(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            value = left(variables, local)
            if type(value) is int or type(value) is float:
                return value > constant
            return el.compare(op, value, constant)

        return greater
    if op == "<=":

        def less_equal(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
            value = left(variables, local)
            if type(value) is int or type(value) is float:
                return value <= constant
            return el.compare(op, value, constant)

        return less_equal

    def greater_equal(variables: Mapping[str, Any], local: Mapping[str, Any]) -> Any:
        value = left(variables, local)
        if type(value) is int or type(value) is float:
            return value >= constant
        return el.compare(op, value, constant)

    return greater_equal


# ----------------------------------------------------------------------------------------------------- public API


@dataclass(frozen=True, slots=True)
class JuelProgram:
    evaluate: Evaluator
    evaluate_bool: Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
    variables: frozenset[str]


def compile_juel(source: str) -> JuelProgram:
    """Compile ``${...}``/``#{...}`` text; raises :class:`ExpressionError` naming the column of the problem."""
    try:
        start, end = _body_bounds(source)
        root = _Parser(_tokenize(source, start, end)).parse()
        evaluate = _compile(root)
    except _Failure as failure:
        raise ExpressionError(
            f"invalid EL expression {excerpt(source, failure.pos)!r} at column {failure.pos + 1}: {failure.problem}"
        ) from None

    def evaluate_bool(variables: Mapping[str, Any], local: Mapping[str, Any]) -> bool:
        value = evaluate(variables, local)
        if value is True or value is False:
            return value
        try:
            return el.to_bool(value)
        except EvaluationError:
            raise EvaluationError(f"expected a boolean result but got {el.describe(value)}") from None

    return JuelProgram(evaluate, evaluate_bool, _read_variables(root))


def _body_bounds(source: str) -> tuple[int, int]:
    """Offsets of the text between the delimiters, so token positions stay relative to the original source."""
    stripped_left = len(source) - len(source.lstrip())
    start = stripped_left + 2
    end = len(source.rstrip())
    if end <= start or source[end - 1] != "}":
        raise _Failure(end, f"missing closing '}}' for '{source[stripped_left:start]}'")
    return start, end - 1
