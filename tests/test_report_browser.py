"""The HTML report opened in headless Chromium: timeline bars, picking the failed Map item, escaping.

The ``browser`` fixture (tests/conftest.py) skips, saying why, only where Chromium cannot be found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import stepfn
from tests.test_report import MACHINE, START, _hostile_machine, batch_run


def _open(browser: Any, path: Path) -> None:
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def test_failed_item_and_retry_in_the_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    page = stepfn.render(MACHINE, batch_run(), tmp_path / "run.html")
    _open(browser, page)
    # the timeline: one bar per visit, laid out along the track with real widths
    bars = browser.find_elements(By.CSS_SELECTOR, ".tl-row[id^=visit-] .tl-track > .bar")
    assert len(bars) == 14  # Prepare, Fetch, Each, 5 Charge, 4 Pause, Report, Done
    track = browser.find_element(By.CSS_SELECTOR, "#visit-3 .tl-track")
    widths = {
        row.get_attribute("id"): row.find_element(By.CSS_SELECTOR, ".tl-track > .bar").size["width"]
        for row in browser.find_elements(By.CSS_SELECTOR, ".tl-row[id^=visit-]")
    }
    pause = [
        r.find_element(By.CSS_SELECTOR, ".tl-track > .bar")
        for r in browser.find_elements(By.CSS_SELECTOR, ".tl-row[id^=visit-]")
        if r.find_element(By.CSS_SELECTOR, ".tl-name").text == "Pause"
    ]
    assert abs(pause[0].size["width"] - track.size["width"] * 3 / 8) <= 2  # a 3 s wait of an 8 s run
    assert max(widths.values()) <= track.size["width"] + 1
    fetch = browser.find_element(By.ID, "visit-1")
    assert "1 retry" in fetch.text
    assert len(fetch.find_elements(By.CSS_SELECTOR, ".piece.backoff")) == 1
    assert fetch.find_element(By.CSS_SELECTOR, ".tl-dur").text == "2 s"
    # the Map's items at a glance, then the failed one picked
    items = browser.find_element(By.ID, "items")
    assert "1 of 5 items failed, 1 aborted, 3 succeeded" in items.text
    chip = items.find_element(By.CSS_SELECTOR, '.chip[data-group="4"]')
    assert "failed" in chip.get_attribute("class")
    chip.click()
    panel = browser.find_element(By.ID, "detail")
    assert "Item 4 of Each" in panel.text
    assert "ValueError" in panel.text and "card declined for item 4" in panel.text
    assert "errorMessage" not in panel.text  # the full cause stays folded
    assert "Charge" in panel.find_element(By.CLASS_NAME, "path").text
    graph = browser.find_element(By.ID, "graph")
    assert "focus" in graph.get_attribute("class")  # the item's path stands out on the graph
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('#graph g.node.on title')).map(t => t.textContent)"
    )
    assert len(lit) == 2  # the Map and the Charge that failed; Pause did not run for item 4
    browser.save_screenshot(str(tmp_path / "failed-item.png"))
    # a timeline bar selects its visit: the details show what it assigned
    browser.find_element(By.ID, "visit-0").click()
    assert "ASSIGNED VARIABLES" in panel.text.upper() and "batch" in panel.text and '"b-1"' in panel.text
    # the events of a visit, and the failure filter
    browser.find_element(By.LINK_TEXT, "show its 2 events").click()
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "#events tbody tr") if r.is_displayed()]
    assert [r.find_element(By.CSS_SELECTOR, "td:nth-child(4)").text for r in shown] == [
        "PassStateEntered",
        "PassStateExited",
    ]
    browser.execute_script("document.querySelector('#f-visit a').click()")
    browser.find_element(By.ID, "f-fail").click()
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "#events tbody tr") if r.is_displayed()]
    assert shown and all("error" in r.get_attribute("class") for r in shown)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.set_window_size(1500, browser.execute_script("return document.body.scrollHeight") + 40)
    browser.save_screenshot(str(tmp_path / "report.png"))
    browser.set_window_size(1500, 1000)
    assert (tmp_path / "failed-item.png").stat().st_size > 10_000


def test_a_state_named_script_is_shown_never_run(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    machine = _hostile_machine()
    execution = stepfn.run(machine, {"k": "</script><b>"}, clock=stepfn.VirtualClock(START))
    page = stepfn.render(machine, execution, tmp_path / "hostile.html")
    browser.get(page.as_uri())
    assert browser.execute_script("return typeof window.alert") == "function"
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2
    assert browser.execute_script("return document.querySelectorAll('img, b > i').length") == 0
    row = browser.find_element(By.ID, "visit-0")
    assert "<script>alert(1)</script>" in row.text
    row.click()
    panel = browser.find_element(By.ID, "detail")
    assert "<script>alert(1)</script>" in panel.text and "</script><script>alert(3)</script>" in panel.text
    browser.save_screenshot(str(tmp_path / "hostile.png"))
