"""Payload limits: AWS's 256 KiB cap on what a state receives and what it produces.

AWS fails a state with ``States.DataLimitExceeded`` when a task's result, a state's
input after ``Parameters`` / ``ItemSelector``, or a state's output is larger than
262,144 bytes of UTF-8 JSON.  Serialising every value on every transition would cost
more than the transition itself, so :class:`Sizes` works with *upper bounds*:

* a value built by a payload template is bounded by the template's constant part, plus
  for each definite path the bound of the value the paths read (a definite path selects
  a sub-value, whose JSON text is a substring), plus the context object's size for each
  ``$$`` path; only intrinsic results, variables and wildcard paths are measured;
* a ResultPath merge is bounded by the input's bound plus the result's;
* a Map or Parallel result by the sum of its elements' bounds.

A bound is replaced by the exact size (one ``json.dumps``) only when it is over the
limit, so exact figures are computed near the limit and almost never otherwise.  Bounds
are remembered by object identity for the most recent values (values are never mutated
once produced), which is how a state finds the bound of the input it was given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from stepfn import errors
from stepfn.asl.paths import ROOT_DATA
from stepfn.errors import StatesError

MAX_PAYLOAD = 262_144
_CONTEXT = 4096  # ids, names, timestamps and a task token in the context object
_RECENT = 32  # how many recent values keep their bound
_SCALAR = 32  # no number, boolean or null is longer than this as JSON


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps with options builds an encoder per call; this one is built once (values here
# are trees, so the circular-reference check is left out).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_CHUNKS = (
    None if _c_make_encoder is None
    else _c_make_encoder(None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, True)
)


def payload_size(value: Any) -> int:
    """Bytes of a JSON value as compact UTF-8 text (what AWS's 256 KiB limit counts)."""
    if type(value) is dict and len(value) <= _FLAT_KEYS:
        size = _flat_size(value)
        if size >= 0:
            return size
    text = _ENCODER.encode(value) if _CHUNKS is None else "".join(_CHUNKS(value, 0))
    return len(text) if text.isascii() else len(text.encode())


_FLAT_KEYS = 8


def _flat_size(obj: dict[Any, Any]) -> int:
    """The size of a small object of plain members without encoding it, or -1.

    Plain: keys and string values of printable ASCII without ``"`` or ``\\`` (written as
    they are, between quotes), integers, finite floats (both as their ``repr``, which
    is what ``json`` writes), booleans and null.  Anything else (-1) is encoded.
    """
    if not obj:
        return 2
    size = 1 + 2 * len(obj)  # the braces, the commas and the colons
    for key, v in obj.items():
        if type(key) is not str or not key.isascii() or not key.isprintable() or '"' in key or "\\" in key:
            return -1
        t = type(v)
        if t is int:
            size += len(key) + 2 + len(repr(v))
        elif t is str:
            if not v.isascii() or not v.isprintable() or '"' in v or "\\" in v:
                return -1
            size += len(key) + len(v) + 4
        elif t is bool:
            size += len(key) + (6 if v else 7)
        elif v is None:
            size += len(key) + 6
        elif t is float and v - v == 0.0:
            size += len(key) + 2 + len(repr(v))
        else:
            return -1
    return size


def exceeded(name: str) -> StatesError:
    """AWS's failure for a result (of a task resource or a state) over the limit."""
    return StatesError(
        errors.DATA_LIMIT_EXCEEDED,
        f"The state/task '{name}' returned a result with a size exceeding "
        "the maximum number of bytes service limit.",
    )


class Shape(NamedTuple):
    """Where a payload template's output gets its size from."""

    const: int  # bytes of everything the template itself spells out
    refs: tuple[tuple[Any, ...], ...]  # output locations filled by definite paths into the data
    disjoint: bool  # no data path is a prefix of another: together they select at most the data
    context: tuple[tuple[Any, ...], ...]  # output locations filled by definite ``$$`` paths
    measured: tuple[tuple[Any, ...], ...]  # locations to measure: intrinsics, variables, wildcards


def template_shape(template: Any) -> Shape:
    """The :class:`Shape` of a payload template (``Parameters``, ``ResultSelector``...)."""
    const = [0]
    refs: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    context: list[tuple[Any, ...]] = []
    measured: list[tuple[Any, ...]] = []
    _walk(template, (), const, refs, context, measured)
    steps = [s for _, s in refs]
    disjoint = all(a[: len(b)] != b and b[: len(a)] != a for i, a in enumerate(steps) for b in steps[i + 1 :])
    return Shape(const[0], tuple(w for w, _ in refs), disjoint, tuple(context), tuple(measured))


def _walk(
    node: Any,
    where: tuple[Any, ...],
    const: list[int],
    refs: list[tuple[tuple[Any, ...], tuple[Any, ...]]],
    context: list[tuple[Any, ...]],
    measured: list[tuple[Any, ...]],
) -> None:
    if isinstance(node, dict):
        const[0] += 2
        for key, value in node.items():
            if key.endswith(".$") and isinstance(value, str):
                name = key[:-2]
                const[0] += payload_size(name) + 2
                kind, steps = _reference(value)
                if kind == "data":
                    refs.append(((*where, name), steps))
                elif kind == "context":
                    context.append((*where, name))
                else:
                    measured.append((*where, name))
            else:
                const[0] += payload_size(key) + 2
                _walk(value, (*where, key), const, refs, context, measured)
    elif isinstance(node, list):
        const[0] += 2 + len(node)
        for i, value in enumerate(node):
            _walk(value, (*where, i), const, refs, context, measured)
    else:
        const[0] += payload_size(node)


def _reference(text: str) -> tuple[str, tuple[Any, ...]]:
    """``data`` / ``context`` and the steps of a definite path; ``measure`` for the rest."""
    if not text.startswith("$"):
        return "measure", ()  # an intrinsic function
    is_context = text.startswith("$$")
    rest = text[2:] if is_context else text[1:]
    if rest and rest[0] not in ".[":
        return "measure", ()  # a variable: its value is not part of the data
    try:
        from stepfn.asl.paths import compile_path

        path = compile_path(text)
    except Exception:  # noqa: BLE001 - a path that does not compile never runs
        return "measure", ()
    if not path.definite:
        return "measure", ()
    return ("context" if is_context else "data"), tuple(path.steps)


def _spec_at(definition: Mapping[str, Any], pointer: str) -> Any:
    node: Any = definition
    for part in pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(key)]
        else:
            node = node[key]
    return node


def _get(value: Any, where: tuple[Any, ...]) -> Any:
    for step in where:
        value = value[step]
    return value


_MACHINES: dict[int, tuple[Any, dict[Any, Any]]] = {}


def _machine_cache(machine: Any) -> dict[Any, Any]:
    """Shapes and constant sizes of one machine, shared by all its runs (a few machines kept)."""
    entry = _MACHINES.get(id(machine))
    if entry is None or entry[0] is not machine:
        if len(_MACHINES) >= 64:
            del _MACHINES[next(iter(_MACHINES))]
        entry = _MACHINES[id(machine)] = (machine, {})
    return entry[1]


def _scalar_bound(value: Any, t: type) -> int:
    if t is str:
        return 6 * len(value) + 2  # every character escaped as \uXXXX at worst
    return _SCALAR


class Sizes:
    """Size bounds of one execution's values, and the limit checks that use them."""

    __slots__ = ("_cache", "_recent", "_machine", "input_size")

    def __init__(self, machine: Any, input: Any) -> None:
        self._machine = machine
        if machine is None:
            self._cache: dict[Any, Any] = {}
        else:
            entry = _MACHINES.get(id(machine))
            self._cache = entry[1] if entry is not None and entry[0] is machine else _machine_cache(machine)
        t = type(input)
        if t is dict or t is list or t is str:
            self.input_size = size = payload_size(input)
            self._recent: dict[int, tuple[Any, int]] = {id(input): (input, size)}
        else:
            self.input_size = 4 if input is None else payload_size(input)
            self._recent = {}

    @property
    def definition(self) -> Any:
        return getattr(self._machine, "definition", None) or {}

    def note(self, value: Any, size: int) -> None:
        """Remember an upper bound of ``value``'s size."""
        t = type(value)
        if t is dict or t is list or t is str:
            recent = self._recent
            recent[id(value)] = (value, size)
            if len(recent) > 2 * _RECENT:
                self._trim()

    def _trim(self) -> None:
        # keep the newest half: amortised O(1) per note, and the current data stays known
        self._recent = dict(list(self._recent.items())[-_RECENT:])

    def bound(self, value: Any) -> int:
        """An upper bound of ``value``'s size (measured and remembered when unknown)."""
        t = type(value)
        if t is dict or t is list or t is str:
            hit = self._recent.get(id(value))
            if hit is not None and hit[0] is value:
                return hit[1]
            size = payload_size(value)
            self.note(value, size)
            return size
        return _SCALAR

    def part(self, value: Any, container: Any) -> int:
        """A bound of ``value``, a part of ``container``, without measuring either when
        ``container``'s bound is known."""
        hit = self._recent.get(id(container))
        base = hit[1] if hit is not None and hit[0] is container else self.bound(container)
        return self._within(value, base)

    def _within(self, value: Any, base: int) -> int:
        """A bound of a sub-value of something ``base`` bounds, without measuring it."""
        t = type(value)
        if t is dict or t is list:
            hit = self._recent.get(id(value))
            if hit is not None and hit[0] is value:
                return min(hit[1], base)
            return base
        if t is str and len(value) > 512:
            return min(self.bound(value), base)
        return _scalar_bound(value, t)

    def constant(self, name: str, key: str, value: Any) -> int:
        """Check a value spelled out in the definition (a Pass ``Result``); its exact size."""
        cache = self._cache
        size = cache.get(key)
        if size is None:
            size = cache[key] = payload_size(value)
        if size > MAX_PAYLOAD:
            raise exceeded(name)
        self.note(value, size)
        return size

    def check(self, name: str, value: Any, bound: int) -> int:
        """Fail when ``value`` is over the limit; ``bound`` is exact only when it must be."""
        if bound > MAX_PAYLOAD:
            bound = payload_size(value)
            if bound > MAX_PAYLOAD:
                raise exceeded(name)
        self.note(value, bound)
        return bound

    def shape(self, pointer: str, field: str) -> Shape:
        shapes = self._cache.get(field)
        if shapes is None:
            shapes = self._cache[field] = {}
        shape = shapes.get(pointer)
        if shape is None:
            try:
                spec = _spec_at(self.definition, pointer)
                template = spec.get(field)
                if template is None and field == "ItemSelector":
                    template = spec.get("Parameters")  # the field's name before ItemSelector
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                template = None
            shape = template_shape(template) if template is not None else Shape(0, (), True, (), ((),))
            shapes[pointer] = shape
        return shape

    def made(self, name: str, pointer: str, field: str, value: Any, data: Any, base: int = -1) -> int:
        """Check the output of the template ``field`` of the state at ``pointer``.

        ``data`` is what the template's paths read (or pass ``base``, a bound of it).
        Returns a bound of the output: first one from the shape alone; when that is over
        the limit, one that looks at what each path picked; only then the exact size.
        """
        try:
            const, refs, disjoint, context, measured = self._cache[field][pointer]
        except KeyError:
            const, refs, disjoint, context, measured = self.shape(pointer, field)
        recent = self._recent
        bound: int = const
        if refs or context:
            if base < 0:
                hit = recent.get(id(data))
                base = hit[1] if hit is not None and hit[0] is data else self.bound(data)
            if refs:
                bound += base if disjoint else len(refs) * base
            if context:
                bound += len(context) * (self.input_size + base + _CONTEXT)
        for where in measured:  # a bound for scalars (an intrinsic's number), the size of the rest
            part = _get(value, where)
            t = type(part)
            bound += payload_size(part) if t is dict or t is list else _scalar_bound(part, t)
        if bound > MAX_PAYLOAD:
            bound = const + sum(payload_size(_get(value, where)) for where in measured)
            picked = sum(self._within(_get(value, where), base) for where in refs)
            bound += min(picked, base) if disjoint else picked
            whole = self.input_size + base + _CONTEXT
            bound += sum(self._within(_get(value, where), whole) for where in context)
            if bound > MAX_PAYLOAD:
                bound = payload_size(value)
                if bound > MAX_PAYLOAD:
                    raise exceeded(name)
        self.note(value, bound)
        return bound

    def merged(
        self, name: str, result_path: Any, raw: Any, result_bound: int, output: Any, output_path: Any = None
    ) -> None:
        """Check a state's output: a result of ``result_bound`` placed into ``raw`` by a
        ResultPath with steps, then ``output_path`` (None: ``$``) applied."""
        recent = self._recent
        hit = recent.get(id(raw))
        raw_bound = hit[1] if hit is not None and hit[0] is raw else self.bound(raw)
        bound = raw_bound + result_bound + 2 * len(result_path.text) + 16
        if bound > MAX_PAYLOAD and output_path is not None:
            bound = min(bound, self._kept(result_path, output_path, raw, raw_bound, result_bound))
        if bound > MAX_PAYLOAD:
            bound = payload_size(output)
            if bound > MAX_PAYLOAD:
                raise exceeded(name)
        self.note(output, bound)

    def _kept(self, result_path: Any, output_path: Any, raw: Any, raw_bound: int, result_bound: int) -> int:
        """A bound of the part of a ResultPath merge that a narrower OutputPath keeps."""
        out_steps = output_path.steps
        if not out_steps or not output_path.definite or output_path.root != ROOT_DATA:
            return MAX_PAYLOAD + 1  # no narrowing to take into account
        steps = result_path.steps
        if steps[: len(out_steps)] == out_steps:  # the result lands inside what is kept
            if len(steps) == len(out_steps):
                return result_bound
            try:
                kept = output_path.get(raw, None)
            except LookupError:  # created by the merge: holds the result alone
                return result_bound + 2 * len(result_path.text) + 16
            return self._within(kept, raw_bound) + result_bound + 2 * len(result_path.text) + 16
        if out_steps[: len(steps)] == steps:  # part of the result is kept
            return result_bound
        return raw_bound  # part of the input the merge did not touch

    def array(self, items: list[Any]) -> int:
        """A bound of a list built from values (Map and Parallel results)."""
        bound = 2 + len(items)
        for item in items:
            bound += self.bound(item)
        return bound
