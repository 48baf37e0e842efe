"""Loading a definition: parse → validate → compile into a frozen ``StateMachine``.

``parse_document`` reads JSON (duplicate keys refused, syntax errors with line and
column) or YAML.  ``validate`` returns every problem without raising.  ``compile_machine``
turns each state into its model class, compiling every path, template, intrinsic,
Choice rule and JSONata expression once; a failure there becomes a Problem with the JSON
Pointer of the field.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Callable, Mapping

from stepfn.asl import model as m
from stepfn.asl.paths import compile_path
from stepfn.asl.templates import compile_template
from stepfn.asl.values import MAX_DEFINITION_DEPTH, NotJson, TooDeep, own, parse_float
from stepfn.errors import DefinitionError, ExpressionError, Problem, StepfnError

DEFAULT = compile_path("$")


# --------------------------------------------------------------------------- parsing


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _duplicate_position(text: str, key: str) -> tuple[int, int] | None:
    """Line and column of the second ``"key":`` within one object (best effort)."""
    stack: list[set[str] | None] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            stack.append(set())
        elif c == "[":
            stack.append(None)
        elif c in "}]":
            if stack:
                stack.pop()
        elif c == '"':
            try:
                s, end = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            except ValueError:
                return None
            j = end
            while j < n and text[j] in " \t\r\n":
                j += 1
            keys = stack[-1] if stack else None
            if j < n and text[j] == ":" and keys is not None:
                if s == key and s in keys:
                    return _line_col(text, i)
                keys.add(s)
            i = end
            continue
        i += 1
    return None


def parse_document(text: str, source: str = "<definition>", yaml: bool | None = None) -> Any:
    """Parse JSON (or YAML) text; raise ``DefinitionError`` saying where it is wrong."""
    if yaml is None:
        yaml = source.endswith((".yaml", ".yml"))
    if yaml:
        return _own_document(_parse_yaml(text, source), source)
    try:
        doc = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=parse_float
        )
    except RecursionError:
        raise DefinitionError([_too_deep(source)]) from None
    except NotJson as exc:
        raise DefinitionError([Problem("", "json.syntax", f"{source}: {exc}")]) from None
    except _Duplicate as dup:
        where = _duplicate_position(text, dup.key)
        at = f"line {where[0]}, column {where[1]}: " if where else ""
        raise DefinitionError(
            [Problem("", "json.duplicate-key", f"{source}: {at}duplicate key {dup.key!r}")]
        ) from None
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise DefinitionError([Problem("", "json.syntax", f"{source}: {exc}")]) from None
        raise DefinitionError(
            [Problem("", "json.syntax", f"{source}: line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    return _own_document(doc, source)


def _too_deep(source: str) -> Problem:
    return Problem(
        "",
        "definition.too-deep",
        f"{source}: arrays and objects nest more than {MAX_DEFINITION_DEPTH} levels deep (the limit)",
    )


def _own_document(doc: Any, source: str) -> Any:
    """The document as JSON of bounded depth (a copy nobody else holds), else a DefinitionError."""
    try:
        return own(doc, MAX_DEFINITION_DEPTH)
    except TooDeep:
        raise DefinitionError([_too_deep(source)]) from None
    except NotJson as exc:
        raise DefinitionError([Problem("", "definition.not-json", f"{source}: {exc}")]) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml as pyyaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        raise DefinitionError([Problem("", "yaml.unavailable", "PyYAML is not installed")]) from None

    class _Loader(pyyaml.SafeLoader):
        pass

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in out:
                mark = key_node.start_mark
                raise DefinitionError(
                    [Problem("", "yaml.duplicate-key",
                             f"{source}: line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r}")]
                )
            out[key] = loader.construct_object(value_node, deep=deep)
        return out

    _Loader.add_constructor(pyyaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(_INT_TAG, _construct_core_int)
    _Loader.yaml_implicit_resolvers = _core_schema_resolvers(pyyaml.SafeLoader.yaml_implicit_resolvers)
    try:
        return pyyaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except pyyaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise DefinitionError([Problem("", "yaml.syntax", f"{source}: {where}{exc.problem}")]) from None
    except pyyaml.YAMLError as exc:  # the reader's errors (control characters, bad encoding) carry no mark
        raise DefinitionError([Problem("", "yaml.syntax", f"{source}: {' '.join(str(exc).split())}")]) from None
    except RecursionError:
        raise DefinitionError([_too_deep(source)]) from None


# YAML 1.2 core schema scalars (what the tools that deploy YAML definitions read):
# ``yes``/``no``/``on``/``off`` are strings, ``010`` is ten, ``1_000`` and ``1:30`` are strings.
# Timestamps stay strings as well (JSON has no dates).
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_CORE = {
    _BOOL_TAG: (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    _INT_TAG: (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    _FLOAT_TAG: (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
}


def _core_schema_resolvers(resolvers: Mapping[Any, Any]) -> dict[Any, Any]:
    """PyYAML's YAML 1.1 implicit resolvers with bool, int and float as YAML 1.2's core schema has them."""
    import re

    replaced = {*_CORE, "tag:yaml.org,2002:timestamp"}
    out: dict[Any, Any] = {
        first: [(tag, regexp) for tag, regexp in entries if tag not in replaced]
        for first, entries in resolvers.items()
    }
    for tag, (pattern, firsts) in _CORE.items():
        regexp = re.compile(pattern)
        for first in firsts:
            out.setdefault(first, []).append((tag, regexp))
    return out


def _construct_core_int(loader: Any, node: Any) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


#: The largest definition file read (AWS takes definitions of up to 1 MiB of JSON; YAML is wordier).
MAX_FILE_BYTES = 8 * 1024 * 1024


def read_document(
    source: Any = None, *, text: str | bytes | None = None, path: str | os.PathLike[str] | None = None
) -> tuple[Any, str]:
    """A definition and its name, from exactly one of: ``text`` (JSON or YAML), ``path`` (a
    file), or ``source`` (a dict; a path object; a string, read as text when it starts with
    ``{`` or ``[`` or spans lines, else as a path)."""
    if (source is not None) + (text is not None) + (path is not None) != 1:
        raise DefinitionError([Problem("", "usage.source", "give exactly one of a source, text= or path=")])
    if path is not None:
        return _read_path(path)
    if text is not None:
        return _parse_text(text, yaml=None), "StateMachine"
    if isinstance(source, Mapping):
        return _own_document(source, "<definition>"), "StateMachine"
    if isinstance(source, (bytes, bytearray)):
        return _parse_text(bytes(source), yaml=False), "StateMachine"
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith(("{", "["))
                                          and "\n" not in source):
        return _read_path(source)
    if not isinstance(source, str):
        raise DefinitionError([Problem("", "usage.source", f"a definition cannot be a {type(source).__name__}")])
    return _parse_text(source, yaml=False), "StateMachine"


def _parse_text(text: str | bytes, yaml: bool | None, source: str = "<definition>") -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError([Problem("", "file.encoding", f"{source}: not UTF-8 text ({exc.reason} at byte "
                                                                f"{exc.start})")]) from None
    if yaml is None:
        yaml = not text.lstrip().startswith(("{", "["))
    return parse_document(text, source, yaml=yaml)


def _read_path(source: str | os.PathLike[str]) -> tuple[Any, str]:
    from pathlib import Path as FsPath

    try:
        path = FsPath(source)
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        shown = repr(os.fspath(source)) if "\x00" in os.fspath(source) else os.fspath(source)
        raise DefinitionError([Problem("", "file.unreadable", f"cannot read {shown}: {reason}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError([Problem("", "file.too-large", f"{path}: larger than {MAX_FILE_BYTES} bytes")])
    return _parse_text(data, path.name.endswith((".yaml", ".yml")), str(path)), path.stem.replace(".asl", "")


# --------------------------------------------------------------------------- validation


def validate(
    source: Any = None,
    *,
    text: str | bytes | None = None,
    path: str | os.PathLike[str] | None = None,
    machine_type: str = "STANDARD",
) -> list[Problem]:
    """Every problem with a definition (shape, graph, fields, expressions); never raises.

    The definition is ``text=`` (JSON or YAML), ``path=`` (a file), or ``source``: a dict,
    a path object, or a string taken as text when it starts with ``{`` or ``[`` or spans
    lines and as a file path otherwise.
    """
    try:
        doc, _ = read_document(source, text=text, path=path)
        return check_document(doc, machine_type=machine_type)
    except DefinitionError as exc:
        return list(exc.problems)
    except RecursionError:
        return [_too_deep("<definition>")]


def check_document(doc: Any, *, machine_type: str = "STANDARD") -> list[Problem]:
    """Every problem with a parsed document in one pass: its shape, graph and field rules, and
    every path, template and expression that does not compile.  A shape problem never hides
    another one: expressions are compiled even when the shape is wrong, and a compile problem
    is dropped only when a shape problem already names the same place."""
    problems = _structural(doc, machine_type)
    if not isinstance(doc, dict):
        return problems
    compiler = _Compiler()
    try:
        compiler.machine(doc)
    except Exception:  # noqa: BLE001 - a malformed document the shape checks already report
        if not problems:
            raise
    named = {p.pointer for p in problems}
    seen: set[Problem] = set()
    out: list[Problem] = []
    for problem in [*problems, *(p for p in compiler.problems if p.pointer not in named)]:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


def _structural(doc: Any, machine_type: str) -> list[Problem]:
    from stepfn.asl.validation import validate_document

    return list(validate_document(doc, machine_type=machine_type))


# --------------------------------------------------------------------------- compiling


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.tasks: list[m.Task] = []

    def guard(self, pointer: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ExpressionError as exc:
            self.problems.append(Problem(pointer, "expression.invalid", exc.describe()))
        except DefinitionError as exc:
            self.problems.extend(exc.problems)
        return None

    # -- fields
    def path(self, spec: Mapping[str, Any], key: str, pointer: str, default: Any = DEFAULT) -> Any:
        if key not in spec:
            return default
        value = spec[key]
        if value is None:
            return None
        return self.guard(f"{pointer}/{key}", lambda: compile_path(value))

    def template(self, spec: Mapping[str, Any], key: str, pointer: str) -> Any:
        if key not in spec:
            return None
        return self.guard(f"{pointer}/{key}", lambda: compile_template(spec[key]))

    def jsonata(self, spec: Mapping[str, Any], key: str, pointer: str) -> Any:
        if key not in spec:
            return None
        try:
            from stepfn.asl.jsonata import compile_template as compile_jsonata
        except ImportError:
            self.problems.append(Problem(
                f"{pointer}/{key}", "jsonata.unavailable",
                "JSONata needs the jsonata2py engine (Python 3.11 or later): pip install jsonata2py",
            ))
            return None
        return self.guard(f"{pointer}/{key}", lambda: compile_jsonata(spec[key], key))

    def assign(self, spec: Mapping[str, Any], pointer: str, language: str) -> Any:
        if "Assign" not in spec:
            return None
        if language == m.JSONATA:
            return self.jsonata(spec, "Assign", pointer)
        return self.template(spec, "Assign", pointer)

    def number_or_expr(self, spec: Mapping[str, Any], key: str, pointer: str, language: str) -> Any:
        value = spec.get(key)
        if isinstance(value, str) and language == m.JSONATA:
            return self.jsonata(spec, key, pointer)
        return value

    # -- structure
    def machine(self, doc: Mapping[str, Any], name: str = "stepfn") -> m.StateMachine | None:
        language = doc.get("QueryLanguage", m.JSONPATH)
        scope = self.scope(doc, "", language)
        if scope is None:
            return None
        return m.StateMachine(
            scope=scope,
            definition=doc,
            timeout_seconds=doc.get("TimeoutSeconds"),
            query_language=language,
            comment=doc.get("Comment"),
            name=name,
            tasks=tuple(self.tasks),
        )

    def scope(self, spec: Mapping[str, Any], pointer: str, language: str) -> m.Scope | None:
        states: dict[str, m.State] = {}
        for name, state_spec in spec.get("States", {}).items():
            state = self.state(name, state_spec, f"{pointer}/States/{_escape(name)}", language)
            if state is not None:
                states[name] = state
        sync = all(s.type in ("Pass", "Choice", "Succeed", "Fail") for s in states.values())
        return m.Scope(start_at=spec.get("StartAt", ""), states=states, pointer=pointer, sync=sync)

    def state(self, name: str, spec: Mapping[str, Any], pointer: str, outer: str) -> m.State | None:
        kind = spec.get("Type")
        language = spec.get("QueryLanguage", outer)
        common: dict[str, Any] = {
            "name": name,
            "type": kind,
            "pointer": pointer,
            "next": spec.get("Next"),
            "end": bool(spec.get("End", False)),
            "query_language": language,
            "comment": spec.get("Comment"),
            "assign": self.assign(spec, pointer, language),
        }
        if language == m.JSONATA:
            common["output"] = self.jsonata(spec, "Output", pointer)
            if kind in ("Task", "Parallel", "Map") or "Arguments" in spec:
                common["arguments"] = self.jsonata(spec, "Arguments", pointer)
        elif kind not in ("Fail",):
            common["input_path"] = self.path(spec, "InputPath", pointer)
            if kind != "Choice" and kind != "Succeed":
                common["result_path"] = self.path(spec, "ResultPath", pointer)
            common["output_path"] = self.path(spec, "OutputPath", pointer)
            if kind in ("Pass", "Task", "Parallel", "Map"):
                params_key = "Parameters" if kind != "Map" else None
                if params_key:
                    common["parameters"] = self.template(spec, params_key, pointer)
            if kind in ("Task", "Parallel", "Map"):
                common["result_selector"] = self.template(spec, "ResultSelector", pointer)
        if kind in ("Task", "Parallel", "Map"):
            common["retry"] = tuple(
                self.retrier(r, f"{pointer}/Retry/{i}") for i, r in enumerate(spec.get("Retry", []))
            )
            common["catch"] = tuple(
                self.catcher(c, f"{pointer}/Catch/{i}", language) for i, c in enumerate(spec.get("Catch", []))
            )
        builder = getattr(self, f"state_{kind}", None)
        if builder is None:
            self.problems.append(Problem(f"{pointer}/Type", "state.unknown-type", f"unknown state type {kind!r}"))
            return None
        result: m.State | None = builder(spec, pointer, language, common)
        return result

    def retrier(self, spec: Mapping[str, Any], pointer: str) -> m.Retrier:
        return m.Retrier(
            errors=frozenset(spec.get("ErrorEquals", ())),
            interval=spec.get("IntervalSeconds", 1),
            max_attempts=spec.get("MaxAttempts", 3),
            backoff=spec.get("BackoffRate", 2.0),
            max_delay=spec.get("MaxDelaySeconds"),
            jitter=spec.get("JitterStrategy", "NONE"),
            pointer=pointer,
        )

    def catcher(self, spec: Mapping[str, Any], pointer: str, language: str) -> m.Catcher:
        if language == m.JSONATA:
            return m.Catcher(
                errors=frozenset(spec.get("ErrorEquals", ())),
                next=spec.get("Next", ""),
                result_path=DEFAULT,
                assign=self.assign(spec, pointer, language),
                output=self.jsonata(spec, "Output", pointer),
                pointer=pointer,
                query_language=m.JSONATA,
            )
        return m.Catcher(
            errors=frozenset(spec.get("ErrorEquals", ())),
            next=spec.get("Next", ""),
            result_path=self.path(spec, "ResultPath", pointer),
            assign=self.assign(spec, pointer, language),
            pointer=pointer,
        )

    # -- one builder per state type
    def state_Pass(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        return m.Pass(**common, result=spec.get("Result"), has_result="Result" in spec)

    def state_Succeed(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        return m.Succeed(**common)

    def state_Fail(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        error: Any = spec.get("Error")
        cause: Any = spec.get("Cause")
        if language == m.JSONATA:
            error = self.number_or_expr(spec, "Error", pointer, language)
            cause = self.number_or_expr(spec, "Cause", pointer, language)
        else:
            if "ErrorPath" in spec:
                error = self.guard(f"{pointer}/ErrorPath", lambda: _dynamic("ErrorPath", spec["ErrorPath"]))
            if "CausePath" in spec:
                cause = self.guard(f"{pointer}/CausePath", lambda: _dynamic("CausePath", spec["CausePath"]))
        return m.Fail(**common, error=error, cause=cause)

    def state_Choice(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        rules = []
        for i, rule in enumerate(spec.get("Choices", [])):
            rp = f"{pointer}/Choices/{i}"
            condition_text = None
            if language == m.JSONATA:
                pred = self.jsonata(rule, "Condition", rp)
                output = self.jsonata(rule, "Output", rp)
                condition = rule.get("Condition")
                condition_text = condition[2:-2].strip() if isinstance(condition, str) else str(condition)
            else:
                pred = self.guard(rp, functools.partial(_compile_rule, rule, rp))
                output = None
            rules.append(
                m.ChoiceRule(
                    predicate=pred or (lambda d, e: False),
                    next=rule.get("Next", ""),
                    assign=self.assign(rule, rp, language),
                    output=output,
                    pointer=rp,
                    condition_text=condition_text,
                )
            )
        return m.Choice(**common, choices=tuple(rules), default=spec.get("Default"))

    def state_Wait(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        seconds = self.number_or_expr(spec, "Seconds", pointer, language)
        timestamp = self.number_or_expr(spec, "Timestamp", pointer, language)
        return m.Wait(
            **common,
            seconds=seconds,
            timestamp=timestamp,
            seconds_path=self.path(spec, "SecondsPath", pointer, None),
            timestamp_path=self.path(spec, "TimestampPath", pointer, None),
        )

    def state_Task(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        task = m.Task(
            **common,
            resource=spec.get("Resource", ""),
            timeout=self.number_or_expr(spec, "TimeoutSeconds", pointer, language),
            heartbeat=self.number_or_expr(spec, "HeartbeatSeconds", pointer, language),
            timeout_path=self.path(spec, "TimeoutSecondsPath", pointer, None),
            heartbeat_path=self.path(spec, "HeartbeatSecondsPath", pointer, None),
            credentials=spec.get("Credentials"),
        )
        self.tasks.append(task)
        return task

    def state_Parallel(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        branches = []
        for i, branch in enumerate(spec.get("Branches", [])):
            scope = self.scope(branch, f"{pointer}/Branches/{i}", branch.get("QueryLanguage", language))
            if scope is not None:
                branches.append(scope)
        return m.Parallel(**common, branches=tuple(branches))

    def state_Map(self, spec: Any, pointer: str, language: str, common: dict[str, Any]) -> m.State:
        key = "ItemProcessor" if "ItemProcessor" in spec else "Iterator"
        proc_spec = spec.get(key, {})
        processor = self.scope(proc_spec, f"{pointer}/{key}", proc_spec.get("QueryLanguage", language))
        config = proc_spec.get("ProcessorConfig", {}) or {}
        if language == m.JSONATA:
            selector = self.jsonata(spec, "ItemSelector", pointer)
            items_path = None
            items = spec.get("Items")
            if isinstance(items, list):
                items = self.jsonata(spec, "Items", pointer)
            elif isinstance(items, str):
                from stepfn.asl.jsonata import compile_expression

                items = self.guard(f"{pointer}/Items", lambda: compile_expression(spec["Items"], "Items"))
        else:
            sel_key = "ItemSelector" if "ItemSelector" in spec else "Parameters"
            selector = self.template(spec, sel_key, pointer)
            items_path = self.path(spec, "ItemsPath", pointer)
            items = None
        return m.Map(
            **common,
            processor=processor,
            items_path=items_path,
            items=items,
            item_selector=selector,
            max_concurrency=self.number_or_expr(spec, "MaxConcurrency", pointer, language) or 0,
            max_concurrency_path=self.path(spec, "MaxConcurrencyPath", pointer, None),
            mode=config.get("Mode", "INLINE"),
            execution_type=config.get("ExecutionType"),
            label=spec.get("Label"),
            tolerated_count=self.number_or_expr(spec, "ToleratedFailureCount", pointer, language),
            tolerated_count_path=self.path(spec, "ToleratedFailureCountPath", pointer, None),
            tolerated_percentage=self.number_or_expr(spec, "ToleratedFailurePercentage", pointer, language),
            tolerated_percentage_path=self.path(spec, "ToleratedFailurePercentagePath", pointer, None),
            item_reader=self.item_source(spec, "ItemReader", pointer, language),
            item_batcher=self.batcher(spec, pointer, language),
            result_writer=self.item_source(spec, "ResultWriter", pointer, language),
        )

    def item_source(self, spec: Any, key: str, pointer: str, language: str) -> m.ItemSource | None:
        """``ItemReader`` / ``ResultWriter`` with its Parameters/Arguments and MaxItems compiled."""
        field = spec.get(key)
        if not isinstance(field, Mapping):
            return None
        here = f"{pointer}/{key}"
        if language == m.JSONATA:
            parameters = self.jsonata(field, "Arguments", here)
        else:
            parameters = self.template(field, "Parameters", here)
        config = field.get("ReaderConfig")
        config = config if isinstance(config, Mapping) else {}
        return m.ItemSource(
            resource=str(field.get("Resource", "")),
            spec=field,
            parameters=parameters,
            max_items=self.number_or_expr(config, "MaxItems", f"{here}/ReaderConfig", language),
            max_items_path=self.path(config, "MaxItemsPath", f"{here}/ReaderConfig", None),
        )

    def batcher(self, spec: Any, pointer: str, language: str) -> m.Batcher | None:
        field = spec.get("ItemBatcher")
        if not isinstance(field, Mapping):
            return None
        here = f"{pointer}/ItemBatcher"
        compile_input = self.jsonata if language == m.JSONATA else self.template
        batch_input = compile_input(field, "BatchInput", here)
        return m.Batcher(
            max_items=self.number_or_expr(field, "MaxItemsPerBatch", here, language),
            max_items_path=self.path(field, "MaxItemsPerBatchPath", here, None),
            max_bytes=self.number_or_expr(field, "MaxInputBytesPerBatch", here, language),
            max_bytes_path=self.path(field, "MaxInputBytesPerBatchPath", here, None),
            batch_input=batch_input,
        )


def _dynamic(field: str, text: Any) -> Any:
    from stepfn.asl.templates import compile_dynamic

    return compile_dynamic(field, text)


def _compile_rule(rule: Mapping[str, Any], pointer: str) -> Any:
    from stepfn.asl.choice import compile_rule

    return compile_rule(dict(rule), pointer)


def load(
    source: Any = None,
    *,
    text: str | bytes | None = None,
    path: str | os.PathLike[str] | None = None,
    machine_type: str = "STANDARD",
    name: str | None = None,
) -> m.StateMachine:
    """Load a definition; raise ``DefinitionError`` listing every problem if it is invalid.

    The definition is ``text=`` (JSON or YAML), ``path=`` (a file), or ``source``: a dict,
    a path object, or a string taken as text when it starts with ``{`` or ``[`` or spans
    lines and as a file path otherwise.
    """
    doc, stem = read_document(source, text=text, path=path)
    problems = _structural(doc, machine_type)
    if problems:
        raise DefinitionError(problems)
    compiler = _Compiler()
    try:
        machine = compiler.machine(doc, name or stem)
    except RecursionError:
        raise DefinitionError([_too_deep("<definition>")]) from None
    if compiler.problems or machine is None:
        raise DefinitionError(compiler.problems)
    return machine


__all__ = ["load", "validate", "parse_document", "read_document", "StepfnError"]
