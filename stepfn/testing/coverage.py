"""Workflow coverage: what the runs of a test session reached in each state machine.

For every machine it counts, out of what the definition offers: states entered,
transitions taken (``Next``, each Choice target and ``Default``, each ``Catch`` target),
Choice rules and Defaults taken, retriers that retried and catchers that caught.  States
and transitions come from the event history (a ``…StateExited`` immediately followed by
the successor's ``…StateEntered`` is one transition: the run loop appends the two with
nothing in between).  Which Choice rule matched and which retrier or catcher acted come
from the interpreter's decision trace, which the events do not carry.

Only the model and plain data are needed here, so the pytest plugin can import this
module without loading the interpreter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from stepfn.asl import model as m

Decision = tuple[str, str, "int | None"]  # (kind, state name, index; None = Choice Default)


def iter_states(scope: m.Scope) -> Iterator[m.State]:
    """Every state of ``scope`` and of the branches and Map processors inside it, in order."""
    for state in scope.states.values():
        yield state
        if isinstance(state, m.Parallel):
            for branch in state.branches:
                yield from iter_states(branch)
        elif isinstance(state, m.Map) and state.processor is not None:
            yield from iter_states(state.processor)


def fingerprint(machine: m.StateMachine) -> str:
    text = json.dumps(machine.definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def _resolve(doc: Any, pointer: str) -> Any:
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, list):
            doc = doc[int(token)]
        elif isinstance(doc, Mapping):
            doc = doc.get(token)
        else:
            return None
    return doc


def _errors(definition: Mapping[str, Any], pointer: str, fallback: Iterable[str]) -> list[str]:
    spec = _resolve(definition, pointer)
    if isinstance(spec, Mapping) and isinstance(spec.get("ErrorEquals"), list):
        return [str(e) for e in spec["ErrorEquals"]]
    return sorted(fallback)


class MachineCoverage:
    """What one state machine offers and what the recorded runs reached."""

    def __init__(self, label: str, machine: m.StateMachine) -> None:
        self.label = label
        self.machine = machine
        self.runs = 0
        self.states: list[str] = []
        self.transitions: list[tuple[str, str]] = []
        self.choices: list[tuple[str, int | None, str]] = []
        self.retriers: list[tuple[str, int, list[str]]] = []
        self.catchers: list[tuple[str, int, list[str], str]] = []
        self.successors: dict[str, set[str]] = {}
        definition = machine.definition
        for state in iter_states(machine.scope):
            name = state.name
            self.states.append(name)
            targets: list[str] = []
            if isinstance(state, m.Choice):
                for i, rule in enumerate(state.choices):
                    self.choices.append((name, i, rule.next))
                    targets.append(rule.next)
                if state.default is not None:
                    self.choices.append((name, None, state.default))
                    targets.append(state.default)
            elif state.next is not None:
                targets.append(state.next)
            for i, retrier in enumerate(state.retry):
                self.retriers.append((name, i, _errors(definition, retrier.pointer, retrier.errors)))
            for i, catcher in enumerate(state.catch):
                self.catchers.append((name, i, _errors(definition, catcher.pointer, catcher.errors), catcher.next))
                targets.append(catcher.next)
            seen = self.successors.setdefault(name, set())
            for target in targets:
                if target not in seen:
                    seen.add(target)
                    self.transitions.append((name, target))
        self.states_hit: set[str] = set()
        self.transitions_hit: set[tuple[str, str]] = set()
        self.choices_hit: set[tuple[str, int | None]] = set()
        self.retriers_hit: set[tuple[str, int]] = set()
        self.catchers_hit: set[tuple[str, int]] = set()

    def record(self, events: Sequence[Any], decisions: Iterable[Decision]) -> None:
        self.runs += 1
        exited: str | None = None
        successors = self.successors
        for event in events:
            kind = event.type
            if kind.endswith("StateEntered"):
                name = event.details["name"]
                self.states_hit.add(name)
                if exited is not None and name in successors.get(exited, ()):
                    self.transitions_hit.add((exited, name))
                exited = None
            elif kind.endswith("StateExited"):
                exited = event.details["name"]
            else:
                exited = None
        for kind, state, index in decisions:
            if kind == "choice":
                self.choices_hit.add((state, index))
            elif kind == "retry" and index is not None:
                self.retriers_hit.add((state, index))
            elif kind == "catch" and index is not None:
                self.catchers_hit.add((state, index))

    # ----------------------------------------------------------------- summaries
    def summary(self) -> dict[str, Any]:
        def part(total: int, covered: int, missed: list[Any]) -> dict[str, Any]:
            return {"covered": covered, "total": total, "missed": missed}

        return {
            "machine": self.label,
            "runs": self.runs,
            "states": part(len(self.states), sum(s in self.states_hit for s in self.states),
                           [s for s in self.states if s not in self.states_hit]),
            "transitions": part(
                len(self.transitions), sum(t in self.transitions_hit for t in self.transitions),
                [{"from": a, "to": b} for a, b in self.transitions if (a, b) not in self.transitions_hit]),
            "choice_rules": part(
                len(self.choices), sum((s, i) in self.choices_hit for s, i, _ in self.choices),
                [{"state": s, "rule": "Default" if i is None else i, "next": n}
                 for s, i, n in self.choices if (s, i) not in self.choices_hit]),
            "retriers": part(
                len(self.retriers), sum((s, i) in self.retriers_hit for s, i, _ in self.retriers),
                [
                    {"state": s, "index": i, "errors": e}
                    for s, i, e in self.retriers
                    if (s, i) not in self.retriers_hit
                ]),
            "catchers": part(
                len(self.catchers), sum((s, i) in self.catchers_hit for s, i, _, _ in self.catchers),
                [{"state": s, "index": i, "errors": e, "next": n}
                 for s, i, e, n in self.catchers if (s, i) not in self.catchers_hit]),
        }


COLUMNS = (("states", "States"), ("transitions", "Transitions"), ("choice_rules", "Choice rules"),
            ("retriers", "Retriers"), ("catchers", "Catchers"))


def cell_text(part: Mapping[str, Any]) -> str:
    total = part["total"]
    if not total:
        return "-"
    return f"{part['covered']}/{total} {100 * part['covered'] // total}%"


def missed_text(key: str, item: Any) -> str:
    if key == "states":
        return str(item)
    if key == "transitions":
        return f"{item['from']} -> {item['to']}"
    if key == "choice_rules":
        rule = "Default" if item["rule"] == "Default" else f"Choices[{item['rule']}]"
        return f"{item['state']} {rule} -> {item['next']}"
    if key == "retriers":
        return f"{item['state']} Retry[{item['index']}] [{', '.join(item['errors'])}]"
    return f"{item['state']} Catch[{item['index']}] [{', '.join(item['errors'])}] -> {item['next']}"


_MISSED_TITLES = {
    "states": "states never entered",
    "transitions": "transitions never taken",
    "choice_rules": "Choice rules never taken",
    "retriers": "retriers never used",
    "catchers": "catchers never used",
}


class Collector:
    """Coverage of every machine run in a session, keyed by definition."""

    def __init__(self) -> None:
        self.machines: dict[str, MachineCoverage] = {}
        self._keys: dict[int, tuple[m.StateMachine, str]] = {}

    def record(self, machine: m.StateMachine, label: str | None, events: Sequence[Any],
               decisions: Iterable[Decision]) -> None:
        known = self._keys.get(id(machine))
        if known is None or known[0] is not machine:
            known = (machine, fingerprint(machine))
            self._keys[id(machine)] = known
        key = known[1]
        cov = self.machines.get(key)
        if cov is None:
            cov = self.machines[key] = MachineCoverage(label or f"{machine.name} ({key[:8]})", machine)
        cov.record(events, decisions)

    def to_json(self) -> dict[str, Any]:
        machines = [cov.summary() for cov in sorted(self.machines.values(), key=lambda c: c.label)]
        totals = {key: {"covered": sum(s[key]["covered"] for s in machines),
                        "total": sum(s[key]["total"] for s in machines)} for key, _ in COLUMNS}
        return {"version": 1, "machines": machines, "totals": totals}

    def report_lines(self, show_missing: bool = True) -> list[str]:
        data = self.to_json()
        machines = data["machines"]
        if not machines:
            return ["no state machine was run through the sfn fixture"]
        header = ["Machine", "Runs"] + [title for _, title in COLUMNS]
        rows = [[s["machine"], str(s["runs"])] + [cell_text(s[key]) for key, _ in COLUMNS] for s in machines]
        if len(machines) > 1:
            rows.append(["TOTAL", str(sum(s["runs"] for s in machines))]
                        + [cell_text(data["totals"][key]) for key, _ in COLUMNS])
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def fmt(row: list[str]) -> str:
            return "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                             for i, cell in enumerate(row)).rstrip()

        lines = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]
        if show_missing:
            for summary in machines:
                missing = [(key, summary[key]["missed"]) for key, _ in COLUMNS if summary[key]["missed"]]
                if not missing:
                    continue
                lines.append("")
                lines.append(f"{summary['machine']}: not reached")
                for key, items in missing:
                    lines.append(f"  {_MISSED_TITLES[key]}: " + ", ".join(missed_text(key, i) for i in items))
        return lines

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh, indent=2)
            fh.write("\n")


__all__ = ["Collector", "MachineCoverage", "fingerprint", "iter_states"]
