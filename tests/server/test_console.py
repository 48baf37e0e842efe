"""The console at ``/`` of `stepfn serve`: pages, live execution view in Chromium, guarded actions."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from .conftest import InProcess, create, finished

GATE_TIMEOUT = 30


@pytest.fixture
def console() -> Iterator[tuple[InProcess, threading.Event, Any]]:
    from stepfn.server.console import Console

    gate = threading.Event()

    def slow(payload: Any, ctx: Any) -> Any:
        gate.wait(GATE_TIMEOUT)  # the test opens the gate once it has seen RUNNING
        return {"done": payload.get("order")}

    def broken(payload: Any, ctx: Any) -> Any:
        raise ValueError("nothing to ship")

    guard = Console("127.0.0.1")
    running = InProcess({"slow": slow, "broken": broken}, routes=guard.routes())
    yield running, gate, guard
    gate.set()
    running.stop()


FN = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINE = {
    "Comment": "<b>orders</b>",
    "StartAt": "Work",
    "States": {"Work": {"Type": "Task", "Resource": FN + "slow", "Assign": {"seen": True}, "End": True}},
}


def _get(url: str) -> tuple[int, str, Any]:
    return _get_with(url, {})


def _get_with(url: str, headers: dict[str, str]) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as answer:
            return answer.status, answer.read().decode(), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_pages_list_machines_and_filter_executions(console: Any) -> None:
    server, gate, _ = console
    sfn = server.client()
    gate.set()
    arn = create(sfn, "orders", MACHINE)
    done = [sfn.start_execution(stateMachineArn=arn, name=f"run-{i}", input='{"order": 1}')["executionArn"]
            for i in range(3)]
    for e in done:
        assert finished(sfn, e)["status"] == "SUCCEEDED"
    status, page, headers = _get(server.url + "/")
    assert status == 200 and "orders" in page and "default-src 'none'" in headers["Content-Security-Policy"]
    status, page, _ = _get(server.url + "/console/machine?" + urlencode({"arn": arn}))
    assert status == 200 and "<svg" in page and "run-2" in page
    assert "<b>orders</b>" not in page and "&lt;b&gt;orders&lt;/b&gt;" in page  # the Comment, escaped
    status, page, _ = _get(server.url + "/console/executions?" + urlencode({"arn": arn, "name": "run-1"}))
    assert "run-1" in page and "run-2" not in page
    status, page, _ = _get(server.url + "/console/executions?" + urlencode({"arn": arn, "status": "FAILED"}))
    assert "No executions." in page
    status, page, _ = _get(server.url + "/console/execution?arn=arn:aws:states:us-east-1:123456789012:execution:x:y")
    assert status == 404
    # a second page of executions
    import stepfn.server.console as c

    old, c.PAGE_SIZE = c.PAGE_SIZE, 2
    try:
        status, page, _ = _get(server.url + "/console/executions?" + urlencode({"arn": arn}))
        assert 'class="next"' in page and page.count("/console/execution?") == 2
    finally:
        c.PAGE_SIZE = old


def test_actions_refuse_cross_site_requests(console: Any) -> None:
    server, gate, guard = console
    sfn = server.client()
    arn = create(sfn, "orders", MACHINE)
    run = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    csrf = guard.csrf
    url = server.url + "/console/action"
    body = {"action": "stop", "arn": run}
    assert _post(url, body, {})[0] == 403  # no token: a form of another site cannot send one
    assert _post(url, body, {"X-Stepfn-Csrf": "guess"})[0] == 403
    assert _post(url, body, {"X-Stepfn-Csrf": csrf, "Origin": "http://evil.example"})[0] == 403
    assert _post(url, body, {"X-Stepfn-Csrf": csrf, "Sec-Fetch-Site": "cross-site"})[0] == 403
    rebound = {"X-Stepfn-Csrf": csrf, "Host": "evil.example:1234", "Origin": "http://evil.example:1234"}
    assert _post(url, body, rebound)[0] == 403  # a DNS name of another site rebound to this machine
    assert _get_with(server.url + "/", {"Host": "evil.example"})[0] == 403
    assert sfn.describe_execution(executionArn=run)["status"] == "RUNNING"
    status, answer = _post(url, body, {"X-Stepfn-Csrf": csrf, "Origin": server.url})
    assert (status, answer) == (200, {"ok": True})
    assert finished(sfn, run)["status"] == "ABORTED"


def test_off_loopback_the_console_is_read_only_unless_a_token_is_given() -> None:
    from stepfn.server.console import Console

    for token, allowed in ((None, False), ("s3cret", True)):
        guard = Console("0.0.0.0", token)
        server = InProcess(routes=guard.routes())
        try:
            assert "beyond this machine" in _get(server.url + "/")[1]
            headers = {"X-Stepfn-Csrf": guard.csrf, "X-Stepfn-Token": "s3cret"}
            status, _ = _post(server.url + "/console/action", {"action": "stop", "arn": "x"}, headers)
            assert (status != 403) == allowed
            if token:
                headers["X-Stepfn-Token"] = "wrong"
                assert _post(server.url + "/console/action", {"action": "stop", "arn": "x"}, headers)[0] == 403
        finally:
            server.stop()


def test_an_execution_goes_from_running_to_succeeded_without_a_reload(
    console: Any, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, gate, _ = console
    sfn = server.client()
    arn = create(sfn, "orders", MACHINE)
    run = sfn.start_execution(stateMachineArn=arn, name="live", input='{"order": 7}')["executionArn"]
    browser.get(server.url + "/")
    browser.find_element(By.LINK_TEXT, "orders").click()
    browser.find_element(By.LINK_TEXT, "live").click()
    status = browser.find_element(By.ID, "status")
    assert status.text == "RUNNING"
    assert browser.find_element(By.ID, "stop").is_enabled()
    browser.execute_script("window.stillHere = true")
    browser.save_screenshot(str(tmp_path / "console-running.png"))
    gate.set()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "status").text == "SUCCEEDED")
    assert browser.execute_script("return window.stillHere") is True  # the page was not reloaded
    assert not browser.find_element(By.ID, "stop").is_enabled()

    def report_done(d: Any) -> bool:
        d.switch_to.frame(d.find_element(By.ID, "report"))
        try:
            return "SUCCEEDED" in d.find_element(By.TAG_NAME, "header").text
        finally:
            d.switch_to.default_content()

    WebDriverWait(browser, 20).until(report_done)  # the report in the frame followed
    browser.switch_to.frame(browser.find_element(By.ID, "report"))
    assert "seen" in browser.find_element(By.ID, "timeline").text  # what Work assigned
    browser.switch_to.default_content()
    browser.save_screenshot(str(tmp_path / "console-succeeded.png"))
    assert sfn.describe_execution(executionArn=run)["status"] == "SUCCEEDED"
