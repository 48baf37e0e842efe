"""Shared fixtures: ``browser``, a headless Chromium driven by selenium, for the HTML report and the console.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and selenium
(the ``test`` extra); skips, saying why, only where they cannot be found.  No browser is
downloaded: the system's binary is used (``$STEPFN_CHROMIUM`` / ``$STEPFN_CHROMEDRIVER`` override).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,1000",
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = os.environ.get("STEPFN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = os.environ.get("STEPFN_CHROMEDRIVER") or shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium not found: apt-get install chromium chromium-driver (as .ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the [test] extra)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="stepfn-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
