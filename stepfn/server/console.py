"""The console: HTML pages at ``GET /`` beside the API, to watch state machines and executions.

Pages: ``/`` lists the state machines (of a region), ``/console/machine`` shows one (its graph
and recent executions), ``/console/executions`` lists a machine's executions (filter by status
and name, paging), ``/console/execution`` shows one execution: its status updates in place
while it runs (the page polls ``/console/status``) and its report (``/console/report``, the
HTML report of ``stepfn render``) refreshes in a frame as events arrive.

Stop and Redrive are ``POST /console/action`` requests that carry the page's anti-forgery
token in a header (a page of another site can neither read the token nor set the header) and
are refused when ``Origin`` or ``Sec-Fetch-Site`` says the request comes from elsewhere.  On a
loopback address the console answers only requests addressed to a loopback name (a rebound DNS
name of another site gets nothing) and that is all; bound to any other address the console is read-only unless the
server was given a token, which every action must then carry too.  Every page is sent with a
Content-Security-Policy that allows nothing from outside the page, and every user string in it
is escaped.  The pages talk to the service through the same operations as API clients.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from stepfn.history.dot import esc
from stepfn.history.graph import COLORS, STATUS_OUTCOME
from stepfn.history.report import badge, duration, script_json, svg_inline
from stepfn.server.arns import Caller
from stepfn.server.protocol import ApiError

PAGE_SIZE = 50
MAX_EVENTS = 25_000  # history events a report is drawn from, at the most
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
_TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Console:
    """The console's routes and what guards them: where the server listens, the optional token."""

    def __init__(self, host: str = "127.0.0.1", token: str | None = None) -> None:
        self.host = host
        self.token = token or None
        self.loopback = is_loopback(host)
        self.csrf = secrets.token_urlsafe(24)

    @property
    def writable(self) -> bool:
        return self.loopback or self.token is not None

    def routes(self) -> list[BaseRoute]:
        pages = (
            ("/", self.machines, "GET"),
            ("/console/machine", self.machine, "GET"),
            ("/console/executions", self.executions, "GET"),
            ("/console/execution", self.execution, "GET"),
            ("/console/report", self.report, "GET"),
            ("/console/status", self.status, "GET"),
            ("/console/action", self.action, "POST"),
        )
        return [Route(path, self._guard(endpoint), methods=[method]) for path, endpoint, method in pages]

    def _guard(self, endpoint: Any) -> Any:
        """On loopback, answer only requests addressed to a loopback name (no DNS rebinding)."""

        async def guarded(request: Request) -> Response:
            if self.loopback:
                host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
                if not is_loopback(host):
                    return JSONResponse({"message": "this console answers on loopback names only"}, status_code=403)
            response: Response = await endpoint(request)
            return response

        return guarded

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _call(request: Request, operation: str, body: dict[str, Any], caller: Caller | None = None) -> Any:
        service = request.app.state.service
        return await service.call(operation, body, caller or service.caller)

    @staticmethod
    def _caller_of_arn(request: Request, arn: str) -> Caller:
        parts = arn.split(":")
        default: Caller = request.app.state.service.caller
        if len(parts) >= 5 and parts[3] and parts[4]:
            return Caller(parts[4], parts[3])
        return default

    def _page(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        notice = ""
        if not self.loopback:
            notice = (
                f'<div class="notice">This console is served on {esc(self.host)}, beyond this machine: '
                + ("Stop and Redrive need the server's console token."
                   if self.token else "it is read-only (start the server with --console-token to allow Stop and "
                   "Redrive).")
                + "</div>"
            )
        html = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)} - stepfn</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
            f'<header><a href="/">stepfn</a> <span>{esc(title)}</span></header>{notice}'
            f"<main>{body}</main></body></html>"
        )
        return HTMLResponse(html, status_code=status, headers=_headers())

    def _error_page(self, exc: ApiError) -> HTMLResponse:
        status = 404 if "DoesNotExist" in exc.code else 400
        return self._page("Not found" if status == 404 else "Bad request",
                          f'<section><h2>{esc(exc.code)}</h2><p>{esc(exc.message)}</p></section>', status)

    # ------------------------------------------------------------------ pages

    async def machines(self, request: Request) -> Response:
        service = request.app.state.service
        region = request.query_params.get("region") or service.caller.region
        caller = Caller(service.caller.account, region)
        body: dict[str, Any] = {"maxResults": PAGE_SIZE}
        if request.query_params.get("next"):
            body["nextToken"] = request.query_params["next"]
        try:
            found = await self._call(request, "ListStateMachines", body, caller)
        except ApiError as exc:
            return self._error_page(exc)
        rows = "".join(
            f'<tr><td><a href="/console/machine?{urlencode({"arn": m["stateMachineArn"]})}">{esc(m["name"])}</a></td>'
            f'<td>{esc(m.get("type", ""))}</td><td>{_when(m.get("creationDate"))}</td>'
            f'<td><a href="/console/executions?{urlencode({"arn": m["stateMachineArn"]})}">executions</a></td></tr>'
            for m in found.get("stateMachines", [])
        )
        more = _next_link("/", found.get("nextToken"), {"region": region})
        html = (
            f'<section><h2>State machines</h2><form method="get" action="/" class="filters">'
            f'<label>Region <input name="region" value="{esc(region)}" size="14"></label> '
            f'<button>Show</button></form>'
            f"<table><thead><tr><th>Name</th><th>Type</th><th>Created</th><th></th></tr></thead>"
            f'<tbody>{rows or "<tr><td colspan=4>No state machines in this region yet.</td></tr>"}</tbody></table>'
            f"{more}</section>"
        )
        return self._page("State machines", html)

    async def machine(self, request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        caller = self._caller_of_arn(request, arn)
        try:
            described = await self._call(request, "DescribeStateMachine", {"stateMachineArn": arn}, caller)
            listed: dict[str, Any] = {"executions": []}
            if described.get("type") != "EXPRESS":
                listed = await self._call(
                    request, "ListExecutions", {"stateMachineArn": arn, "maxResults": 10}, caller
                )
        except ApiError as exc:
            return self._error_page(exc)
        graph = await _graph_svg(described.get("definition", "{}"), str(described.get("name", "")))
        html = (
            f'<section><h2>{esc(described.get("name", ""))} <span class="kind">{esc(described.get("type", ""))}'
            f'</span></h2><p class="arn">{esc(arn)}</p><div class="graph">{graph}</div></section>'
            f"<section><h2>Recent executions</h2>{_execution_table(listed.get('executions', []))}"
            f'<p><a href="/console/executions?{urlencode({"arn": arn})}">all executions</a></p></section>'
        )
        return self._page(str(described.get("name", "")), html)

    async def executions(self, request: Request) -> Response:
        q = request.query_params
        arn, status, name = q.get("arn", ""), q.get("status", ""), q.get("name", "").strip()
        caller = self._caller_of_arn(request, arn)
        body: dict[str, Any] = {"stateMachineArn": arn, "maxResults": PAGE_SIZE}
        if status:
            body["statusFilter"] = status
        if q.get("next"):
            body["nextToken"] = q["next"]
        try:
            found = await self._call(request, "ListExecutions", body, caller)
        except ApiError as exc:
            return self._error_page(exc)
        items = found.get("executions", [])
        if name:  # the API has no name filter: the page's executions whose name holds the text
            items = [e for e in items if name.lower() in str(e.get("name", "")).lower()]
        options = "".join(
            f'<option value="{s}"{" selected" if s == status else ""}>{s or "any status"}</option>'
            for s in ("", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
        )
        machine_name = arn.rsplit(":", 1)[-1]
        html = (
            f'<section><h2>Executions of <a href="/console/machine?{urlencode({"arn": arn})}">{esc(machine_name)}</a>'
            f'</h2><form method="get" action="/console/executions" class="filters">'
            f'<input type="hidden" name="arn" value="{esc(arn)}">'
            f'<label>Status <select name="status">{options}</select></label> '
            f'<label>Name <input name="name" value="{esc(name)}" size="24"></label> <button>Filter</button></form>'
            f"{_execution_table(items)}"
            f'{_next_link("/console/executions", found.get("nextToken"), {"arn": arn, "status": status, "name": name})}'
            f"</section>"
        )
        return self._page(f"Executions of {machine_name}", html)

    async def execution(self, request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        caller = self._caller_of_arn(request, arn)
        try:
            described = await self._call(request, "DescribeExecution", {"executionArn": arn}, caller)
        except ApiError as exc:
            return self._error_page(exc)
        status = str(described.get("status", ""))
        query = urlencode({"arn": arn})
        buttons = ""
        if self.writable:
            buttons = (
                '<button id="stop" data-action="stop">Stop</button> '
                '<button id="redrive" data-action="redrive">Redrive</button>'
            )
        sm_arn = str(described.get("stateMachineArn", ""))
        stopped = " &middot; stopped " + _when(described["stopDate"]) if described.get("stopDate") else ""
        config = {"arn": arn, "csrf": self.csrf, "token": self.token is not None, "status": status}
        html = (
            f'<section class="exec"><h2>{esc(described.get("name", ""))} '
            f'<span id="status">{_status_badge(status)}</span> <span class="actions">{buttons}</span>'
            f'<span id="message"></span></h2>'
            f'<p class="arn">{esc(arn)} &middot; <a href="/console/machine?{urlencode({"arn": sm_arn})}">'
            f"{esc(sm_arn.rsplit(':', 1)[-1])}</a> &middot; started {_when(described.get('startDate'))}"
            f'<span id="stopped">{stopped}</span></p></section>'
            f'<iframe id="report" title="execution report" src="/console/report?{query}"></iframe>'
            f'<script type="application/json" id="console-data">{script_json(config)}</script>'
            f"<script>{_JS}</script>"
        )
        return self._page(str(described.get("name", "")), html)

    async def report(self, request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        caller = self._caller_of_arn(request, arn)
        try:
            machine = await self._call(request, "DescribeStateMachineForExecution", {"executionArn": arn}, caller)
            events: list[dict[str, Any]] = []
            body: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
            while len(events) < MAX_EVENTS:
                page = await self._call(request, "GetExecutionHistory", body, caller)
                events.extend(page.get("events", []))
                if not page.get("nextToken"):
                    break
                body["nextToken"] = page["nextToken"]
        except ApiError as exc:
            return self._error_page(exc)
        import anyio

        from stepfn.errors import StepfnError
        from stepfn.history.rendering import render

        definition = machine.get("definition", "{}")
        try:
            html = await anyio.to_thread.run_sync(
                lambda: render(_named(definition, machine), {"events": events}, "html")
            )
        except StepfnError as exc:
            return self._page("Cannot draw this execution", f"<section><p>{esc(exc)}</p></section>", 500)
        return HTMLResponse(html, headers=_headers())

    async def status(self, request: Request) -> Response:
        arn = request.query_params.get("arn", "")
        caller = self._caller_of_arn(request, arn)
        try:
            described = await self._call(
                request, "DescribeExecution", {"executionArn": arn, "includedData": "METADATA_ONLY"}, caller
            )
            history = await self._call(
                request, "GetExecutionHistory",
                {"executionArn": arn, "maxResults": 1, "reverseOrder": True, "includeExecutionData": False}, caller,
            )
        except ApiError as exc:
            return JSONResponse({"error": exc.code, "message": exc.message}, status_code=404, headers=_headers())
        last = history.get("events") or [{}]
        status = str(described.get("status", ""))
        return JSONResponse(
            {
                "status": status,
                "outcome": _outcome(status),
                "stopped": _when(described["stopDate"]) if described.get("stopDate") else "",
                "lastEvent": last[0].get("id", 0),
            },
            headers=_headers(),
        )

    async def action(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return JSONResponse({"message": refused}, status_code=403, headers=_headers())
        try:
            body = json.loads(await request.body())
            action, arn = body["action"], str(body["arn"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"message": "expected {\"action\": ..., \"arn\": ...}"}, status_code=400)
        operation = {"stop": "StopExecution", "redrive": "RedriveExecution"}.get(action)
        if operation is None:
            return JSONResponse({"message": f"unknown action {action!r}"}, status_code=400)
        request_body: dict[str, Any] = {"executionArn": arn}
        if action == "stop":
            request_body.update(error="Console.Stopped", cause="Stopped from the stepfn console")
        try:
            await self._call(request, operation, request_body, self._caller_of_arn(request, arn))
        except ApiError as exc:
            return JSONResponse({"message": f"{exc.code}: {exc.message}"}, status_code=400, headers=_headers())
        return JSONResponse({"ok": True}, headers=_headers())

    def _refuse(self, request: Request) -> str | None:
        """Why an action must not run (another site's request, a missing token, a read-only console)."""
        if not self.writable:
            return "this console is read-only: start the server with --console-token to allow actions"
        given = request.headers.get("x-stepfn-csrf", "")
        if not hmac.compare_digest(given.encode(), self.csrf.encode()):
            return "missing or wrong anti-forgery token: reload the page"
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "cross-site request refused"
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
            return "cross-site request refused"
        if self.token is not None:
            token = request.headers.get("x-stepfn-token", "")
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                return "this action needs the console token"
        return None


# ----------------------------------------------------------------------------- pieces


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _when(value: Any) -> str:
    if value is None:
        return ""
    from datetime import datetime, timezone

    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, datetime):
        moment = value
    else:
        return esc(value)
    return esc(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _outcome(status: str) -> str:
    return STATUS_OUTCOME.get(status, "running")


def _status_badge(status: str) -> str:
    return badge(_outcome(status), status)


def _execution_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return '<p class="hint">No executions.</p>'
    rows = []
    for e in items:
        took = ""
        if e.get("stopDate") is not None and e.get("startDate") is not None:
            try:
                took = duration(float(e["stopDate"]) - float(e["startDate"]))
            except (TypeError, ValueError):
                took = ""
        rows.append(
            f'<tr><td><a href="/console/execution?{urlencode({"arn": e["executionArn"]})}">{esc(e["name"])}</a></td>'
            f'<td>{_status_badge(str(e.get("status", "")))}</td><td>{_when(e.get("startDate"))}</td>'
            f"<td>{took}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Name</th><th>Status</th><th>Started</th><th>Duration</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _next_link(path: str, token: str | None, params: dict[str, str]) -> str:
    if not token:
        return ""
    query = urlencode({**{k: v for k, v in params.items() if v}, "next": token})
    return f'<p><a class="next" href="{path}?{esc(query)}">next page</a></p>'


def _named(definition: str, machine: dict[str, Any]) -> Any:
    from stepfn.asl.loader import load

    return load(definition, name=str(machine.get("name") or "StateMachine"))


async def _graph_svg(definition: str, name: str) -> str:
    import anyio

    from stepfn.errors import StepfnError
    from stepfn.history.rendering import render

    try:
        svg = await anyio.to_thread.run_sync(lambda: render(_named(definition, {"name": name}), None, "svg"))
    except StepfnError as exc:
        return f'<p class="hint">cannot draw the graph: {esc(exc)}</p>'
    return svg_inline(str(svg).encode("utf-8"))


_CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#16191f;background:#f2f3f3;
font-size:14px}
header{background:#232f3e;color:#fff;padding:12px 24px;font-size:16px}
header a{color:#fff;font-weight:bold;text-decoration:none;margin-right:12px}
.notice{background:#fff8e1;border-bottom:1px solid #f2c8a5;padding:8px 24px}
main{padding:16px 24px}
section{background:#fff;border:1px solid #d5dbdb;border-radius:8px;margin:0 0 16px;padding:12px 16px}
h2{font-size:17px;margin:0 0 8px}
a{color:#0972d3;text-decoration:none}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e9ebed;padding:6px 8px;text-align:left}
th{background:#fafafa}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;border:1px solid}
.kind,.arn,.hint{color:#687078;font-size:12px}
.filters{margin-bottom:10px}
.graph{overflow:auto;text-align:center}
.graph svg{max-width:100%;height:auto}
.actions button{margin-left:6px;padding:3px 12px;border-radius:14px;border:1px solid #0972d3;background:#fff;
color:#0972d3;cursor:pointer}
.actions button[disabled]{opacity:.4;cursor:default}
#message{margin-left:10px;font-size:13px;color:#d13212}
iframe#report{width:100%;height:calc(100vh - 190px);min-height:600px;border:1px solid #d5dbdb;border-radius:8px;
background:#fff}
""" + "".join(f".o-{o}{{background:{f};border-color:{b};color:{c}}}" for o, (f, b, c) in COLORS.items())

_JS = """
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("console-data").textContent);
  var frame = document.getElementById("report"), badge = document.getElementById("status");
  var message = document.getElementById("message"), stopped = document.getElementById("stopped");
  var status = cfg.status, last = -1, terminal = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
  function buttons() {
    var stop = document.getElementById("stop"), redrive = document.getElementById("redrive");
    if (stop) { stop.disabled = status !== "RUNNING"; }
    if (redrive) { redrive.disabled = ["FAILED", "TIMED_OUT", "ABORTED"].indexOf(status) < 0; }
  }
  function poll() {
    fetch("/console/status?arn=" + encodeURIComponent(cfg.arn), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.error) { return; }
        var changed = s.lastEvent !== last && last !== -1;
        if (s.status !== status) {
          status = s.status;
          var b = document.createElement("span");
          b.className = "badge o-" + s.outcome; b.textContent = s.status;
          badge.textContent = ""; badge.appendChild(b);
          stopped.textContent = s.stopped ? " \\u00b7 stopped " + s.stopped : "";
          buttons();
        }
        if (changed) { frame.src = frame.src.split("#")[0]; }
        last = s.lastEvent;
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, terminal.indexOf(status) >= 0 ? 5000 : 1000); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-action]"), function (b) {
    b.addEventListener("click", function () {
      var headers = {"Content-Type": "application/json", "X-Stepfn-Csrf": cfg.csrf};
      if (cfg.token) {
        var t = sessionStorage.getItem("stepfn-token") || window.prompt("Console token");
        if (!t) { return; }
        sessionStorage.setItem("stepfn-token", t); headers["X-Stepfn-Token"] = t;
      }
      message.textContent = "";
      fetch("/console/action", {method: "POST", headers: headers, credentials: "same-origin",
        body: JSON.stringify({action: b.dataset.action, arn: cfg.arn})})
        .then(function (r) { return r.json(); })
        .then(function (a) { if (!a.ok) { message.textContent = a.message || "refused"; } });
    });
  });
  buttons();
  poll();
})();
"""
