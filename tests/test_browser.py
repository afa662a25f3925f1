"""report.html opened in headless Chromium, as a reader would: no script or console errors, every image
decodes and says what it shows, the verdicts are on the page, and the page reads at 1400 and at 375
pixels wide (a phone) without the text scrolling sideways.

Chromium is driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages
separated by NUL bytes on file descriptors 3 and 4), so the test needs nothing beyond the standard
library and Debian's `chromium`. Without it the test skips, except under CI=true, where it fails
(.ci/run installs it).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pytest

from bench.reporting.report import build
from bench.reporting.write import write_report
from tests.hand_made import write_decisions

GOLDEN = Path(__file__).parent / "data" / "golden"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs chromium for the browser test (.ci/run installs Debian's `chromium`)")
    pytest.skip("needs chromium (Debian: apt-get install chromium)")


class Browser:
    """One headless Chromium and one page, over the DevTools protocol on a pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # Chromium reads commands on fd 3 and answers on fd 4; numbers above 9 keep the dup2 safe.
        child_in = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
        os.close(to_child)
        os.close(from_child)

        def place_fds() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
        args = [executable, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4), preexec_fn=place_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(child_in)
        os.close(child_out)
        self._id, self._buffer = 0, b""
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", page=True)

    def _message(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, page: bool = False, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if page:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._message(timeout)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer["result"])
            self.events.append(answer)

    def open(self, url: str, width: int, height: int, mobile: bool) -> None:
        self.call("Emulation.setDeviceMetricsOverride", page=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)  # fmt: skip
        self.events.clear()
        self.call("Page.navigate", page=True, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._message(60))

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", page=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error log entries (a resource that failed)."""
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params["exceptionDetails"].get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found

    def screenshot(self) -> np.ndarray:
        """The whole page, however long, as an RGB(A) array."""
        shot = self.call("Page.captureScreenshot", page=True, format="png", captureBeyondViewport=True)
        return np.asarray(mpimg.imread(io.BytesIO(base64.b64decode(shot["data"])), format="png"))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._read)
        os.close(self._write)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(chromium(), tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


def decisions_csv(folder: Path) -> None:
    """A hand-made decisions.csv: one pair over three looks, its interval narrowing until it decides."""
    write_decisions(
        folder,
        [
            ("encoder", "bert", 1, -5.0, -30.0, 20.0, "inconclusive"),
            ("encoder", "bert", 2, 4.0, -12.0, 20.0, "inconclusive"),
            ("encoder", "bert", 3, 8.0, 2.0, 14.0, "worth it"),
        ],
    )


# What the page reports of itself: its images, its width, the text outside tables that sticks out.
PROBE = """(() => {
  const width = document.documentElement.clientWidth;
  const text = [...document.querySelectorAll('h1, h2, p, li, figcaption')];
  return {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    images: [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                             shown: i.getBoundingClientRect().right <= width + 1})),
    overflowing: text.filter(e => e.getBoundingClientRect().right > width + 1)
                     .map(e => e.textContent.slice(0, 60)),
    text: document.body.innerText,
    firstFigure: (document.querySelector('h2 + figure img') || {}).alt || '',
  };
})()"""


def not_blank(image: np.ndarray) -> float:
    """The share of pixels that are not the page's white background."""
    rgb = image[..., :3].astype(float)
    return float((rgb.min(axis=-1) < 0.9).mean())


def test_report_reads_in_a_browser_at_desktop_and_phone_widths(browser: Browser, tmp_path: Path) -> None:
    basic = shutil.copytree(GOLDEN / "basic", tmp_path / "basic")
    sweep = shutil.copytree(GOLDEN / "sweep", tmp_path / "sweep")
    decisions_csv(basic)
    page = write_report([basic, sweep], "html")
    assert page is not None
    sentences = list(build([basic, sweep]).pairs["sentence"])
    assert sentences
    for width, mobile in ((1400, False), (375, True)):
        browser.open(page.as_uri(), width, 900, mobile)
        found = browser.evaluate(PROBE)
        assert browser.errors() == [], f"console errors at {width} px"
        assert found["innerWidth"] == width  # the page declares a viewport: a phone lays it out at 375
        assert len(found["images"]) == len(list((basic / "plots").glob("*.png")))  # every plot is shown
        for image in found["images"]:
            assert image["complete"] and image["width"] > 0, "an image does not decode"
            assert len(image["alt"]) > 20, "an image without a description"
            assert image["shown"], "an image wider than the page"
        assert "For each pair of models" in found["firstFigure"]  # the verdicts' picture comes first
        text = " ".join(found["text"].split())
        for sentence in sentences:
            assert " ".join(sentence.split()) in text
        assert found["scrollWidth"] <= width, f"the page scrolls sideways at {width} px"
        assert found["overflowing"] == [], f"text sticks out of the page at {width} px"
        shot = browser.screenshot()
        assert shot.shape[1] == width
        assert shot.shape[0] > 900  # the whole page, not the first screen
        assert 0.02 < not_blank(shot) < 0.9, f"a blank (or black) screenshot at {width} px"
