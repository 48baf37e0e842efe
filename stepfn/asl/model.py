"""The compiled, frozen model of a state machine.

One dataclass per ASL concept: the eight state types, ``Retrier``, ``Catcher``,
``Scope`` (one ``States`` block) and ``StateMachine``.  Every path, template, intrinsic,
Choice rule and JSONata expression is already compiled to a callable here; the
interpreter only calls them.  ``definition`` keeps the source for rendering and tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

Evaluator = Callable[[Any, Any], Any]

JSONPATH = "JSONPath"
JSONATA = "JSONata"


@dataclass(frozen=True, slots=True)
class Retrier:
    errors: frozenset[str]
    interval: float = 1.0
    max_attempts: int = 3
    backoff: float = 2.0
    max_delay: float | None = None
    jitter: str = "NONE"
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Catcher:
    errors: frozenset[str]
    next: str
    result_path: Any = None  # Path | None (null) ; DEFAULT_PATH when absent
    assign: Any = None
    output: Any = None
    pointer: str = ""
    query_language: str = JSONPATH


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """Fields every state type has (unused ones stay at their defaults)."""

    name: str
    type: str
    pointer: str
    next: str | None = None
    end: bool = False
    query_language: str = JSONPATH
    input_path: Any = None
    output_path: Any = None
    result_path: Any = None
    parameters: Evaluator | None = None
    result_selector: Evaluator | None = None
    # JSONata-mode pipeline
    arguments: Any = None
    output: Any = None
    assign: Any = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    comment: str | None = None

    @property
    def terminal(self) -> bool:
        return self.next is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pass(State):
    result: Any = None
    has_result: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Succeed(State):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Fail(State):
    error: Any = None  # str | Evaluator | None
    cause: Any = None


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    predicate: Callable[[Any, Any], bool]
    next: str
    assign: Any = None
    output: Any = None
    pointer: str = ""
    condition_text: str | None = None  # JSONata rules: the Condition's text, for errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice(State):
    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait(State):
    seconds: Any = None  # number or Evaluator
    timestamp: Any = None  # str or Evaluator
    seconds_path: Any = None
    timestamp_path: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(State):
    resource: str = ""
    timeout: Any = None  # seconds, Evaluator or None
    heartbeat: Any = None
    timeout_path: Any = None
    heartbeat_path: Any = None
    credentials: Any = None


@dataclass(frozen=True, slots=True)
class Scope:
    """One ``States`` block: where to start and the states by name."""

    start_at: str
    states: Mapping[str, State]
    pointer: str = ""
    sync: bool = False  # every state runs without awaiting (Pass/Choice/Succeed/Fail)


@dataclass(frozen=True, slots=True, kw_only=True)
class Parallel(State):
    branches: tuple[Scope, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemSource:
    """A Distributed Map's ``ItemReader`` or ``ResultWriter``: its resource, the whole
    field as written, its ``Parameters`` (JSONPath template) or ``Arguments`` (JSONata)
    compiled, and the reader's ``MaxItems`` (a number or JSONata) / ``MaxItemsPath``."""

    resource: str
    spec: Mapping[str, Any]
    parameters: Any = None
    max_items: Any = None
    max_items_path: Any = None


@dataclass(frozen=True, slots=True)
class Batcher:
    """A Distributed Map's ``ItemBatcher``: limits as numbers, JSONata or paths, and ``BatchInput``."""

    max_items: Any = None
    max_items_path: Any = None
    max_bytes: Any = None
    max_bytes_path: Any = None
    batch_input: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Map(State):
    processor: Scope | None = None
    items_path: Any = None
    items: Any = None  # JSONata Items
    item_selector: Evaluator | None = None
    max_concurrency: Any = 0
    max_concurrency_path: Any = None
    mode: str = "INLINE"
    execution_type: str | None = None
    label: str | None = None
    tolerated_count: Any = None
    tolerated_count_path: Any = None
    tolerated_percentage: Any = None
    tolerated_percentage_path: Any = None
    item_reader: ItemSource | None = None
    item_batcher: Batcher | None = None
    result_writer: ItemSource | None = None


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A loaded, validated, compiled definition."""

    scope: Scope
    definition: Mapping[str, Any]
    timeout_seconds: float | None = None
    query_language: str = JSONPATH
    comment: str | None = None
    name: str = "stepfn"
    tasks: tuple[Task, ...] = field(default=())

    @property
    def start_at(self) -> str:
        return self.scope.start_at

    @property
    def states(self) -> Mapping[str, State]:
        return self.scope.states
