"""A headless Chromium driven through the DevTools protocol, with the standard library only.

    with Browser.start() as browser:              # None when no Chromium is installed
        browser.open("file:///tmp/index.html")
        browser.click("a.lecture")                # a real click on the first match
        browser.evaluate("document.title")
        browser.requests                          # every URL the pages asked for

Chromium is started with --remote-debugging-pipe: it reads commands from its file descriptor
3 and writes answers and events to 4, each a JSON message ended by a NUL byte
(https://chromedevtools.github.io/devtools-protocol/). No websocket library, no playwright.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


class Browser:
    def __init__(self, process: subprocess.Popen, to_browser: int, from_browser: int,
                 profile: tempfile.TemporaryDirectory) -> None:  # fmt: skip
        self.process, self._out, self._in, self._profile = (
            process,
            to_browser,
            from_browser,
            profile,
        )
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.session = ""
        self.timeout = 60.0

    @classmethod
    def start(cls, timeout: float = 60.0) -> Browser | None:
        binary = find_browser()
        if binary is None:
            return None
        profile = tempfile.TemporaryDirectory(prefix="gradschool-chromium-")
        commands_r, commands_w = os.pipe()  # we write, Chromium reads on fd 3
        answers_r, answers_w = os.pipe()  # Chromium writes on fd 4, we read

        def child_fds() -> None:
            # NOTE: copy first: a pipe may already be fd 3 or 4, and dup2 onto itself would
            # keep its close-on-exec flag (and overwrite the other before it is copied).
            reading, writing = os.dup(commands_r), os.dup(answers_w)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            f"--user-data-dir={profile.name}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        process = subprocess.Popen(
            [binary, *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,  # noqa: PLW1509 - only dup2 before exec
            close_fds=False,
        )
        os.close(commands_r)
        os.close(answers_w)
        browser = cls(process, commands_w, answers_r, profile)
        browser.timeout = timeout
        # The first answer can take a while: Chromium starts up.
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        browser.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Network", "Runtime"):
            browser.call(f"{domain}.enable")
        return browser

    # ---- the protocol --------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data) :]

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe (it exited)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for(self, event: str, since: int) -> dict[str, Any]:
        """The first `event` among the events from index `since` on (waiting for it)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for message in self.events[since:]:
                if message["method"] == event:
                    return message
            since = len(self.events)
            self._receive(deadline)

    # ---- what a test does ----------------------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", since)

    def click(self, selector: str) -> str:
        """Click the first element matching `selector` with the mouse, wait for the page it
        opens to load; return the href that was clicked."""
        box = self.evaluate(
            f"(() => {{ const a = document.querySelector({json.dumps(selector)});"
            " if (!a) return null; a.scrollIntoView({block: 'center'});"
            " const r = a.getClientRects()[0];"  # the first line of a link that wraps
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2, href: a.href}; })()"
        )
        if box is None:
            raise AssertionError(f"no element {selector!r} on {self.evaluate('location.href')}")
        since = len(self.events)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"],
                      button="left", clickCount=1)  # fmt: skip
        self.wait_for("Page.loadEventFired", since)
        return box["href"]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
