"""Pass, Choice and Succeed states compiled into one closure each, for the synchronous walk.

``instant_steps(scope)`` gives, for every state of a scope, ``(state, entered event type,
exited event type, step)``, where ``step(run, data, env) -> (output, next)`` does what
``Run._sync_step`` does for that state, with the fields it has decided once instead of
at every visit: no dispatch on the type, no call for a ``$`` InputPath or OutputPath, the
size of a constant ``Result`` measured once, a one-key ResultPath as a dict copy.  States
in JSONata mode, Fail states and anything else take ``Run._sync_step`` itself.  The
closures are made the first time a scope runs and kept for the scope (a bounded cache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from stepfn import errors
from stepfn.asl import model as m
from stepfn.asl.dataflow import ROOT, apply_result_path, select_input
from stepfn.asl.paths import ROOT_DATA
from stepfn.errors import StatesError
from stepfn.runtime.limits import _RECENT, MAX_PAYLOAD, exceeded, payload_size
from stepfn.runtime.queries import assign_jsonpath

if TYPE_CHECKING:
    from stepfn.runtime.frames import Env

Step = Callable[[Any, Any, "Env"], tuple[Any, "str | None"]]
Compiled = tuple[m.State, str, str, Step]

_SCOPES: dict[int, tuple[m.Scope, dict[str, Compiled]]] = {}
_KEEP = 4096  # scopes whose closures are kept (oldest dropped first)


def instant_steps(scope: m.Scope) -> dict[str, Compiled]:
    """The compiled states of ``scope`` (made on first use, then shared by every run)."""
    entry = _SCOPES.get(id(scope))
    if entry is None or entry[0] is not scope:
        if len(_SCOPES) >= _KEEP:
            del _SCOPES[next(iter(_SCOPES))]
        steps = {
            name: (s, s.type + "StateEntered", s.type + "StateExited", _compile(s)) for name, s in scope.states.items()
        }
        entry = _SCOPES[id(scope)] = (scope, steps)
    return entry[1]


def _compile(state: m.State) -> Step:
    if state.query_language != m.JSONATA:
        if isinstance(state, m.Pass):
            return _pass(state)
        if isinstance(state, m.Choice):
            return _choice(state)
        if isinstance(state, m.Succeed):
            return _succeed(state)
    return lambda run, data, env: run._sync_step(state, data, env)


def _pass(state: m.Pass) -> Step:
    name, pointer, nxt = state.name, state.pointer, state.next
    input_path, output_path, result_path = state.input_path, state.output_path, state.result_path
    whole_input, whole_output = input_path is ROOT, output_path is ROOT
    has_result, result, parameters, assign = state.has_result, state.result, state.parameters, state.assign
    result_size = payload_size(result) if has_result else -1
    merge = result_path is not None and bool(result_path.steps)
    one_key: str | None = None
    if result_path is not None and merge and result_path.definite and result_path.root == ROOT_DATA:
        steps = result_path.steps
        if len(steps) == 1 and type(steps[0]) is str:
            one_key = steps[0]

    def step(run: Any, data: Any, env: Env) -> tuple[Any, str | None]:
        effective = data if whole_input else select_input(input_path, data, env)
        sizes = run.sizes
        if has_result:
            if result_size > MAX_PAYLOAD:
                raise exceeded(name)
            sizes.note(result, result_size)
            value, bound = result, result_size
        elif parameters is not None:
            value = parameters(effective, env)
            bound = sizes.made(name, pointer, "Parameters", value, data)
        else:
            value, bound = effective, -1
        if assign is not None:
            assign_jsonpath(assign, value, env)
        if one_key is not None and type(data) is dict:
            out = dict(data)
            out[one_key] = value
        else:
            out = apply_result_path(result_path, data, value)
        if not whole_output:
            out = select_input(output_path, out, env)
        if merge:  # the output may grow
            sizes.merged(name, result_path, data, bound if bound >= 0 else sizes.bound(data), out, output_path)
        return out, nxt

    if not (has_result and one_key is not None and whole_input and whole_output and assign is None):
        return step
    if result_size > MAX_PAYLOAD:
        return step
    # The commonest Pass: a constant Result put under one key, ``$`` paths, no Assign.  What
    # ``Sizes.note`` and ``Sizes.merged`` do for it, inlined (the bound of the merge is the
    # input's bound plus a constant); a bound over the limit takes ``merged`` itself.
    key = one_key
    noted = type(result) in (dict, list, str)
    extra = result_size + 2 * len(result_path.text) + 16
    recent_max = 2 * _RECENT

    def constant_under_key(run: Any, data: Any, env: Env) -> tuple[Any, str | None]:
        if type(data) is not dict:
            return step(run, data, env)
        sizes = run.sizes
        recent = sizes._recent
        if noted:
            recent[id(result)] = (result, result_size)
            if len(recent) > recent_max:
                sizes._trim()
                recent = sizes._recent
        out = dict(data)
        out[key] = result
        hit = recent.get(id(data))
        bound = (hit[1] if hit is not None and hit[0] is data else sizes.bound(data)) + extra
        if bound > MAX_PAYLOAD:
            sizes.merged(name, result_path, data, result_size, out, None)
        else:
            recent[id(out)] = (out, bound)
            if len(recent) > recent_max:
                sizes._trim()
        return out, nxt

    return constant_under_key


def _choice(state: m.Choice) -> Step:
    input_path, output_path = state.input_path, state.output_path
    whole_input, whole_output = input_path is ROOT, output_path is ROOT
    rules = tuple((rule.predicate, rule.next, rule.assign, rule) for rule in state.choices)
    default, assign = state.default, state.assign

    def step(run: Any, data: Any, env: Env) -> tuple[Any, str | None]:
        effective = data if whole_input else select_input(input_path, data, env)
        for predicate, target, rule_assign, rule in rules:
            if predicate(effective, env):
                nxt = target
                if run.trace is not None:
                    run.trace("choice", state, rule)
                if rule_assign is not None:
                    assign_jsonpath(rule_assign, effective, env)
                break
        else:
            if default is None:
                raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
            if run.trace is not None:
                run.trace("choice", state, None)
            nxt = default
        if assign is not None:
            assign_jsonpath(assign, effective, env)
        return (effective if whole_output else select_input(output_path, effective, env)), nxt

    return step


def _succeed(state: m.Succeed) -> Step:
    input_path, output_path = state.input_path, state.output_path
    if input_path is ROOT and output_path is ROOT:
        return lambda run, data, env: (data, None)

    def step(run: Any, data: Any, env: Env) -> tuple[Any, str | None]:
        return select_input(output_path, select_input(input_path, data, env), env), None

    return step
