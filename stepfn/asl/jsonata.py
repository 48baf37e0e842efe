"""JSONata expressions for states in JSONata mode: compile once, evaluate many times.

This module owns the ``{% expression %}`` strings of JSONata states: recognising them
(:func:`is_expression`), compiling one expression (:func:`compile_expression`) or a whole
JSON value with expressions nested anywhere (:func:`compile_template`), the functions
Step Functions adds to JSONata, and AWS's ``States.QueryEvaluationError`` cause texts.

Engine: ``jsonata2py`` translates each expression to Python source once; evaluation then
reads our Python values directly (no conversion to a native representation), which made
it the fastest candidate measured and the most faithful one (it passes the upstream
JSONata test suite).  AWS runs JSONata 2.0.6.

Evaluation.  ``Expression.evaluate(input_value, bindings, runtime=None)`` binds each key of
``bindings`` (any mapping; names without ``$``) as a variable, e.g.
``{"states": {"input": ..., "context": ...}, "myVar": 3}``, and returns the result or
:data:`UNDEFINED`.  In Step Functions the input document (``$``) is undefined; pass
:data:`UNDEFINED` (the default) as ``input_value``.  Templates are called as
``template(bindings, runtime=None)``.

Clock and randomness.  ``runtime`` is a :class:`JsonataRuntime`: ``clock`` is a
zero-argument callable returning an aware ``datetime`` or epoch seconds, and ``rng`` a
``random.Random``.  ``$now()`` and ``$millis()`` read the clock (once per evaluation, as
JSONata freezes time within an evaluation); ``$random()`` and ``$uuid()`` draw from the
rng; ``$random(seed)`` is deterministic for a seed.  Without a runtime the wall clock and
a process-wide generator are used.  Create one runtime per execution, e.g.
``JsonataRuntime(clock.now, rng)``.

Step Functions functions: ``$partition``, ``$range``, ``$hash``, ``$random([seed])``,
``$uuid``, ``$parse``; ``$eval`` is not available (calling it is T1006, as for any
unknown function).

Failures.  A syntax error raises :class:`~stepfn.errors.ExpressionError` at compile time
(``position`` is an offset into the expression text, without the ``{%``/``%}``).  At run
time every failure is ``StatesError("States.QueryEvaluationError", cause)`` whose cause is
AWS's text *without* the per-state prefix ("An error occurred while executing the state
'X' (entered at the event id #N). "), which the interpreter prepends:

* ``The JSONata expression 'E' specified for the field 'F' returned nothing (undefined).``
* ``The JSONata expression 'E' specified for the field 'F' threw an error during
  evaluation. T1006: Attempted to invoke a non-function``
* ``... returned an unexpected result type. Expected 'array', but was 'boolean' for value:
  true`` (raise it with :func:`type_error`).

Runaway expressions are stopped after :data:`TIME_LIMIT_SECONDS` (checked between steps, in
the loops of built-in functions and in every function call); user-function recursion is
limited by the engine (100 nested calls); a built-in that would build a string or array over
the payload limit, and an evaluation during which memory grows too much, fail before they
allocate (see :mod:`stepfn.asl.jsonata_bounds`).  All of these fail the evaluation.

Variable names are kept as written: ``$𝔘`` and ``$U`` are two variables (the engine's
generated Python would fold them into one identifier, so names that are not ASCII are
spelled in ASCII before translation and read back when looked up in the bindings).

A workflow variable named like a built-in (``count``) wins when read as a value
(``$count + 1``), as in JSONata; a call (``$count(x)``) always reaches the built-in.

Templates share their constant parts with the definition: never mutate a result in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random as _random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from jsonata2py import MISSING, JsonataError, JsonataEvaluationError, bound_function
from jsonata2py.expression import CompiledExpression
from jsonata2py.loader.loader import ExpressionLoader
from jsonata2py.optimizer.optimizer import optimize
from jsonata2py.parser import ast_nodes as ast
from jsonata2py.parser.parser import BUILTIN_NAMES, Parser
from jsonata2py.runtime import context as _engine
from jsonata2py.runtime.core import JLambda, PackedArgs, fn_fromMillis
from jsonata2py.translator.translator import Translator

from stepfn.asl import jsonata_bounds as _bounds
from stepfn.errors import QUERY_EVALUATION_ERROR, ExpressionError, StatesError

__all__ = [
    "TIME_LIMIT_SECONDS",
    "UNDEFINED",
    "Expression",
    "JsonataRuntime",
    "Template",
    "compile_expression",
    "compile_template",
    "expression_text",
    "is_expression",
    "json_type",
    "type_error",
]

#: JSONata's "no result" (the engine's own sentinel, returned as is).
UNDEFINED: Any = MISSING

#: Wall-clock budget of one evaluation.
TIME_LIMIT_SECONDS = 5.0

# A result larger than this (as JSON) can be no state's payload; measuring it stops here, so a
# result holding one large part many times is refused before anything writes it out in full.
_RESULT_LIMIT = 4 * _bounds.MAX_VALUE

# The engine's loops call its time check every few dozen steps; ours adds the memory watchdog.
_engine.check_timeout = _bounds.watch

#: A compiled template: ``template(bindings, runtime=None) -> value``.
Template = Callable[..., Any]

_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_RANGE_LIMIT = 10_000_000

# jsonata-js message texts (what AWS prints after the error code) for codes whose engine
# wording differs; ``{}`` is filled with the JSON form of the operator or value.
_MESSAGES = {
    "T1006": "Attempted to invoke a non-function",
    "T1008": "Attempted to partially apply a non-function",
    "T2001": "The left side of the {} operator must evaluate to a number",
    "T2002": "The right side of the {} operator must evaluate to a number",
    "T2006": "The right side of the function application operator ~> must be a function",
    "D1001": "Number out of range: {}",
    "D1004": "Regular expression matches zero length string",
    "D3001": "Attempting to invoke string function on Infinity or NaN",
    "D3010": "Second argument of replace function cannot be an empty string",
    "D3030": "Unable to cast value to a number: {}",
}
_OPERATOR = re.compile(r"side of the (\S+) operator")
_POSITION_SUFFIX = re.compile(r"\s*\(position -?\d+\)$")
_CODE_PREFIX = re.compile(r"^[A-Z]\d{4}:\s*")


# --------------------------------------------------------------------------- recognising


def is_expression(value: Any) -> bool:
    """True for a string that is exactly ``{% ... %}`` (no surrounding whitespace)."""
    return type(value) is str and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def expression_text(value: str) -> str:
    """The JSONata source inside ``{% ... %}``, trimmed (the text AWS quotes in causes)."""
    return value[2:-2].strip()


# --------------------------------------------------------------------------- runtime


class JsonataRuntime:
    """Clock and randomness for ``$now``, ``$millis``, ``$random`` and ``$uuid``."""

    __slots__ = ("clock", "rng")

    def __init__(
        self, clock: Callable[[], datetime | float] = time.time, rng: _random.Random | None = None
    ) -> None:
        self.clock = clock
        self.rng = rng if rng is not None else _random.Random()

    def millis(self) -> int:
        now = self.clock()
        seconds = now.timestamp() if isinstance(now, datetime) else float(now)
        return math.floor(seconds * 1000)


_DEFAULT_RUNTIME = JsonataRuntime()


class _FunctionError(Exception):
    """A Step Functions function rejected its arguments."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Bindings:
    """One evaluation's view of variables and functions, in the engine's protocol."""

    __slots__ = ("_millis", "runtime", "values", "watch")

    def __init__(self, values: Mapping[str, Any], runtime: JsonataRuntime) -> None:
        self.values = values
        self.runtime = runtime
        self._millis: int | None = None
        self.watch = _bounds.Watch()

    def millis(self) -> int:
        if self._millis is None:
            self._millis = self.runtime.millis()
        return self._millis

    # -- the engine's bindings protocol
    def is_empty(self) -> bool:
        return False

    def get_values(self) -> dict[str, Any]:
        return dict(self.values)

    def get_functions(self) -> dict[str, Any]:
        return dict(_FUNCTIONS)

    def get_value(self, name: str) -> Any:
        if name.startswith(_SPELLED):
            name = _unspell(name)
        value = self.values.get(name, MISSING)
        if value is MISSING:
            original = _VALUE_ALIASES.get(name)
            if original is not None:
                value = self.values.get(original, MISSING)
                if value is MISSING and original not in _REDIRECTED:
                    value = _builtin_value(original)
        return value

    def get_function(self, name: str) -> Any:
        return _FUNCTIONS.get(name)


def _active() -> _Bindings:
    state = _engine.get_state()
    bindings = state.bindings if state is not None else None
    if isinstance(bindings, _Bindings):
        return bindings
    return _Bindings({}, _DEFAULT_RUNTIME)


def _signature_error(name: str, index: int) -> _FunctionError:
    return _FunctionError("T0410", f'Argument {index} of function "{name}" does not match function signature')


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _arguments(name: str, args: tuple[Any, ...], required: int, optional: int = 0) -> None:
    if len(args) < required or len(args) > required + optional:
        raise _signature_error(name, min(len(args), required + optional) + 1)


def _json_number(text: str) -> int | float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text}")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON token: {name}")


def _sfn_partition(*args: Any) -> Any:
    _arguments("partition", args, 2)
    array, size = args
    if array is MISSING:
        return MISSING
    if not _is_number(size) or size != int(size) or size <= 0:
        raise _FunctionError("D3137", "The chunk size of $partition must be a positive integer")
    items = array if isinstance(array, list) else [array]
    chunk = int(size)
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _sfn_range(*args: Any) -> Any:
    _arguments("range", args, 3)
    for index, value in enumerate(args, 1):
        if not _is_number(value):
            raise _signature_error("range", index)
    start, end, step = args
    if step == 0:
        raise _FunctionError("D3137", "The step of $range must not be zero")
    count = math.floor((end - start) / step) + 1
    if count <= 0:
        return []
    if count > _RANGE_LIMIT:
        raise _FunctionError("D2014", "The size of the sequence generated by $range is too large")
    values = [start + i * step for i in range(count)]
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]


def _sfn_hash(*args: Any) -> Any:
    _arguments("hash", args, 2)
    value, algorithm = args
    if value is MISSING:
        return MISSING
    if not isinstance(value, str):
        raise _signature_error("hash", 1)
    name = _ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        supported = ", ".join(_ALGORITHMS)
        raise _FunctionError(
            "D3137", f"Unsupported hash algorithm {json.dumps(algorithm)}; use one of {supported}"
        )
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


def _sfn_parse(*args: Any) -> Any:
    _arguments("parse", args, 1)
    text = args[0]
    if text is MISSING:
        return MISSING
    if not isinstance(text, str):
        raise _signature_error("parse", 1)
    try:
        return json.loads(text, parse_float=_json_number, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _FunctionError("D3137", f"$parse: the argument is not valid JSON: {exc}") from None


def _sfn_uuid(*args: Any) -> Any:
    _arguments("uuid", args, 0)
    return str(uuid.UUID(int=_active().runtime.rng.getrandbits(128), version=4))


def _sfn_random(*args: Any) -> Any:
    _arguments("random", args, 0, 1)
    seed: Any = args[0] if args else MISSING
    if seed is MISSING:
        return _active().runtime.rng.random()
    if not _is_number(seed):
        raise _signature_error("random", 1)
    return java_next_double(int(seed))


_JAVA_MULTIPLIER = 0x5DEECE66D
_JAVA_MASK = (1 << 48) - 1


def java_next_double(seed: int) -> float:
    """``new java.util.Random(seed).nextDouble()``: what AWS's seeded ``$random(seed)`` returns."""
    state = (seed ^ _JAVA_MULTIPLIER) & _JAVA_MASK

    def bits(n: int) -> int:
        nonlocal state
        state = (state * _JAVA_MULTIPLIER + 0xB) & _JAVA_MASK
        return state >> (48 - n)

    high = bits(26)
    return ((high << 27) + bits(27)) * 2.0**-53


def _sfn_millis(*args: Any) -> Any:
    _arguments("millis", args, 0)
    return _active().millis()


def _sfn_now(*args: Any) -> Any:
    _arguments("now", args, 0, 2)
    picture, timezone = (list(args) + [MISSING, MISSING])[:2]
    for index, value in enumerate((picture, timezone), 1):
        if value is not MISSING and not isinstance(value, str):
            raise _signature_error("now", index)
    return fn_fromMillis(_active().millis(), picture, timezone)


# Built-ins whose calls are redirected to the functions below (see _redirect).
_REDIRECTED = {"now": "__sfn_now", "millis": "__sfn_millis", "random": "__sfn_random", "eval": "__sfn_eval"}
# Built-in names read as values (``$count``, not ``$count(...)``) are looked up at run time,
# so that a workflow variable of that name wins, as it does in JSONata.
_VALUE_NAMES = {name: f"__sfn_var_{name}" for name in BUILTIN_NAMES if name not in _REDIRECTED}
_VALUE_ALIASES = {alias: name for name, alias in (_REDIRECTED | _VALUE_NAMES).items()}

# Arguments are checked by the functions themselves (a declared signature would make
# the engine coerce them, where JSONata rejects a mismatch with T0410).
_FUNCTIONS: dict[str, Any] = {
    "partition": bound_function()(_sfn_partition),
    "range": bound_function()(_sfn_range),
    "hash": bound_function()(_sfn_hash),
    "parse": bound_function()(_sfn_parse),
    "uuid": bound_function()(_sfn_uuid),
    "__sfn_random": bound_function()(_sfn_random),
    "__sfn_millis": bound_function()(_sfn_millis),
    "__sfn_now": bound_function()(_sfn_now),
    # "__sfn_eval" is deliberately absent: $eval is not available in Step Functions.
}


# --------------------------------------------------------------------------- compiling


def _map_tree(node: Any, visit: Callable[[Any], Any]) -> Any:
    """Rebuild a parse tree bottom-up, applying ``visit`` to every node."""
    if isinstance(node, list):
        items = [_map_tree(item, visit) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, list) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            new = _map_tree(value, visit)
            if new is not value:
                changes[field.name] = new
    if changes:
        node = dataclasses.replace(node, **changes)
    return visit(node)


# Names that are not ASCII are spelled ``__sfn_u_<hex of UTF-8>`` before translation (the
# engine makes each name a Python identifier, and Python NFKC-folds identifiers: ``$𝔘``
# would be ``$U``); so are ASCII names that start with ``__sfn_``, which keeps the spelling
# one-to-one and those names apart from the aliases below.
_SPELLED = "__sfn_u_"


def _spell(name: str) -> str:
    if name.isascii() and not name.startswith("__sfn_"):
        return name
    return _SPELLED + name.encode("utf-8", "surrogatepass").hex()


def _unspell(name: str) -> str:
    return bytes.fromhex(name[len(_SPELLED) :]).decode("utf-8", "surrogatepass")


def _spell_names(tree: Any) -> Any:
    """The tree with every variable and parameter name spelled by :func:`_spell`."""

    def rename(node: Any) -> Any:
        if isinstance(node, (ast.VariableRef, ast.VariableBinding, ast.PartialApplication)):
            spelled = _spell(node.name)
            return node if spelled == node.name else dataclasses.replace(node, name=spelled)
        if isinstance(node, ast.FunctionCall) and node.is_variable:
            spelled = _spell(node.name)
            return node if spelled == node.name else dataclasses.replace(node, name=spelled)
        if isinstance(node, (ast.PositionBinding, ast.ContextBinding)):
            spelled = _spell(node.var_name)
            return node if spelled == node.var_name else dataclasses.replace(node, var_name=spelled)
        if isinstance(node, ast.Lambda):
            params = [_spell(param) for param in node.params]
            return node if params == node.params else dataclasses.replace(node, params=params)
        return node

    return _map_tree(tree, rename)


def _redirect(tree: Any) -> Any:
    """Point calls of ``$now``/``$millis``/``$random``/``$eval`` at our functions,
    unless the expression binds that name itself."""
    bound: set[str] = set()

    def collect(node: Any) -> Any:
        if isinstance(node, ast.VariableBinding):
            bound.add(node.name)
        elif isinstance(node, ast.Lambda):
            bound.update(node.params)
        elif isinstance(node, (ast.PositionBinding, ast.ContextBinding)):
            bound.add(node.var_name)
        return node

    _map_tree(tree, collect)
    calls = {name: new for name, new in _REDIRECTED.items() if name not in bound}
    values = calls | {name: new for name, new in _VALUE_NAMES.items() if name not in bound}

    def rename(node: Any) -> Any:
        if isinstance(node, ast.FunctionCall) and node.is_variable and node.name in calls:
            return dataclasses.replace(node, name=calls[node.name])
        if isinstance(node, ast.PartialApplication) and node.name in calls:
            return dataclasses.replace(node, name=calls[node.name])
        if isinstance(node, ast.VariableRef) and node.name in values:
            return dataclasses.replace(node, name=values[node.name])
        return node

    return _map_tree(tree, rename)


def _syntax_message(exc: JsonataError) -> str:
    message = _POSITION_SUFFIX.sub("", str(exc.message or ""))
    message = _CODE_PREFIX.sub("", message)
    return f"{exc.error_code}: {message}" if exc.error_code else message


@cache
def _builtin_value(name: str) -> Any:
    """A built-in function as a value (what ``$name`` means when no variable shadows it)."""
    value = _engine_compile(f"${name}", redirect=False).evaluate(None)
    guarded = _bounds.GUARDED.get("fn_" + name)
    if guarded is None or not isinstance(value, JLambda):
        return value
    # the engine's value may call the unchecked function: the same shape, checked
    arity = value.arity

    def call(argument: Any) -> Any:
        if arity <= 1:
            return guarded(argument)
        # several arguments arrive packed; one array argument is that array, not its items
        args = list(argument) if isinstance(argument, PackedArgs) else [argument]
        args.extend([MISSING] * (arity - len(args)))
        return guarded(*args[:arity])

    return JLambda(call, arity)


@lru_cache(maxsize=4096)
def _engine_compile(text: str, redirect: bool = True) -> CompiledExpression:
    """Parse, redirect, optimise, translate and load one expression (cached by text)."""
    try:
        tree = _spell_names(Parser.parse(text))
        tree = optimize(_redirect(tree) if redirect else tree)
        source = Translator.translate(tree, text)
        entry_point, _ = ExpressionLoader().load(source)
        entry_point.__globals__.update(_bounds.GUARDED)  # this expression's own namespace
    except JsonataError as exc:
        position = getattr(exc, "position", None)
        if not isinstance(position, int) or position < 0:
            position = None
        raise ExpressionError(f"Invalid JSONata expression: {_syntax_message(exc)}", text, position) from None
    except RecursionError:
        raise ExpressionError("Invalid JSONata expression: too deeply nested", text) from None
    compiled = CompiledExpression(entry_point, text)
    compiled.set_timeout(int(TIME_LIMIT_SECONDS * 1000))
    return compiled


def _jsonata_message(code: str | None, message: str) -> str:
    """AWS's ``CODE: message`` text for an engine error."""
    message = _CODE_PREFIX.sub("", message or "")
    template = _MESSAGES.get(code or "")
    if template is not None:
        if "{}" in template:
            if code in ("T2001", "T2002"):
                found = _OPERATOR.search(message)
                fill = json.dumps(found.group(1)) if found else None
            elif code == "D3030":
                fill = json.dumps(message.rsplit(": ", 1)[-1]) if ": " in message else None
            else:
                fill = "null"
            message = template.format(fill) if fill is not None else message
        else:
            message = template
    return f"{code}: {message}" if code else message


class Expression:
    """One compiled JSONata expression; ``field`` names it in error causes."""

    __slots__ = ("_compiled", "_head", "field", "text")

    def __init__(self, text: str, field: str = "") -> None:
        self.text = text
        self.field = field
        self._compiled = _engine_compile(text)
        where = f" specified for the field '{field}'" if field else ""
        self._head = f"The JSONata expression '{text}'{where}"

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, field={self.field!r})"

    def evaluate(
        self,
        input_value: Any = UNDEFINED,
        bindings: Mapping[str, Any] | None = None,
        runtime: JsonataRuntime | None = None,
    ) -> Any:
        """The result, or :data:`UNDEFINED`; failures raise ``States.QueryEvaluationError``."""
        return self._run(input_value, _Bindings(bindings or {}, runtime or _DEFAULT_RUNTIME))

    def evaluate_defined(
        self,
        input_value: Any = UNDEFINED,
        bindings: Mapping[str, Any] | None = None,
        runtime: JsonataRuntime | None = None,
    ) -> Any:
        """As :meth:`evaluate`, but an undefined result is AWS's "returned nothing" failure."""
        result = self._run(input_value, _Bindings(bindings or {}, runtime or _DEFAULT_RUNTIME))
        if result is MISSING:
            raise self.undefined_error()
        return result

    def undefined_error(self) -> StatesError:
        return StatesError(QUERY_EVALUATION_ERROR, f"{self._head} returned nothing (undefined).")

    def _run(self, input_value: Any, bindings: _Bindings) -> Any:
        try:
            result = self._compiled.evaluate(input_value, bindings)  # type: ignore[arg-type]
        except JsonataEvaluationError as exc:
            raise self._failure(exc) from None
        except MemoryError:
            raise self._thrown(str(_bounds.MemoryExceeded())) from None
        t = type(result)
        if t is str or t is int or t is bool or result is None or result is MISSING:
            return result
        if t is float:
            if not math.isfinite(result):
                raise self._thrown(_jsonata_message("D1001", ""))
            return result
        try:
            # shared parts counted as often as they occur, as JSON would write them
            size = _bounds.measure(result, _RESULT_LIMIT, strict=True)
        except _bounds.NotJson as exc:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"{self._head} returned an unexpected result type. Expected a JSON value, but it holds {exc}",
            ) from None
        if size > _RESULT_LIMIT:
            raise self._thrown(f"The result is larger than {_RESULT_LIMIT} bytes of JSON")
        return result

    def _thrown(self, detail: str) -> StatesError:
        return StatesError(QUERY_EVALUATION_ERROR, f"{self._head} threw an error during evaluation. {detail}")

    def _failure(self, exc: JsonataEvaluationError) -> StatesError:
        code: str | None = exc.error_code
        message = str(exc.message or "")
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, _FunctionError):
                code, message = cause.code, cause.message
                break
            if isinstance(cause, (_bounds.ValueTooLarge, _bounds.MemoryExceeded)):
                return self._thrown(str(cause))
            if isinstance(cause, MemoryError):
                return self._thrown(str(_bounds.MemoryExceeded()))
            if isinstance(cause, TimeoutError):  # a regular expression ran into the deadline
                return self._thrown(_jsonata_message("U1001", "Expression evaluation timeout"))
            cause = cause.__cause__
        return self._thrown(_jsonata_message(code, message))


def compile_expression(text: str, field: str = "") -> Expression:
    """Compile one JSONata expression (``{% %}`` delimiters optional)."""
    if is_expression(text):
        text = expression_text(text)
    return Expression(text, field)


# --------------------------------------------------------------------------- templates


def json_type(value: Any) -> str:
    """JSONata/AWS name of a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "function"


def type_error(expression: Expression, expected: str, value: Any) -> StatesError:
    """AWS's failure for a result of the wrong type, e.g. ``expected="array"`` for Items."""
    try:
        shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        shown = str(value)
    return StatesError(
        QUERY_EVALUATION_ERROR,
        f"{expression._head} returned an unexpected result type. "
        f"Expected '{expected}', but was '{json_type(value)}' for value: {shown}",
    )


# A compiled node: either constant (kind False, the value) or dynamic (kind True, a
# function of the evaluation's bindings).
_Node = tuple[bool, Any]


def _node(value: Any, field: str) -> _Node:
    if is_expression(value):
        expression = Expression(expression_text(value), field)

        def run_expression(bindings: _Bindings) -> Any:
            result = expression._run(MISSING, bindings)
            if result is MISSING:
                raise expression.undefined_error()
            return result

        return True, run_expression
    if isinstance(value, (dict, list)):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        parts = [(key, _node(item, f"{field}/{key}" if field else str(key))) for key, item in pairs]
        slots = [(key, node[1]) for key, node in parts if node[0]]
        if not slots:
            return False, value
        # the constant parts in place, the expressions' places filled at each evaluation
        constant = [(key, None if node[0] else node[1]) for key, node in parts]
        skeleton: Any = dict(constant) if isinstance(value, dict) else [item for _, item in constant]

        def build(bindings: _Bindings) -> Any:
            out = skeleton.copy()
            for key, run in slots:
                out[key] = run(bindings)
            return out

        return True, build
    return False, value


def compile_template(value: Any, field: str = "") -> Template:
    """Compile a JSON value whose strings may be ``{% %}`` expressions at any depth.

    ``field`` is the ASL field name (``"Output"``, ``"Arguments"``, ``"Assign"``,
    ``"Items"``...) used in error causes, extended with ``/key`` and ``/index`` for nested
    expressions (``Output/result``).  Any expression yielding undefined fails the
    evaluation.  Returns ``template(bindings, runtime=None)``.
    """
    dynamic, node = _node(value, field)
    if not dynamic:

        def constant(bindings: Mapping[str, Any] | None = None, runtime: JsonataRuntime | None = None) -> Any:
            return node

        return constant

    def template(bindings: Mapping[str, Any] | None = None, runtime: JsonataRuntime | None = None) -> Any:
        return node(_Bindings(bindings if bindings is not None else {}, runtime or _DEFAULT_RUNTIME))

    return template
