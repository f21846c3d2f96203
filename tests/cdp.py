"""Drive headless Chromium through the Chrome DevTools Protocol, with the standard library only.

    with Browser.start(profile_dir) as browser:
        page = browser.new_page()
        page.goto("file:///.../index.html")
        page.evaluate("document.title")
        page.requests          # every URL the page (and its workers and frames) asked for

Chromium is started with `--remote-debugging-pipe`: it reads protocol commands from file
descriptor 3 and writes replies and events to descriptor 4, each message JSON ended by a NUL
byte. That needs no WebSocket client and no open port.

Every request is seen: the page's session has the Network domain enabled, and auto-attach
(flattened sessions) enables it in every worker and frame the page starts, before they run.
`--host-resolver-rules` maps every host name to "not found", so while a test runs nothing can
actually leave the machine, yet the attempt is still recorded (Network.requestWillBeSent comes
before the name is resolved).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")


def find_browser() -> str | None:
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process and its protocol pipe."""

    def __init__(self, process: subprocess.Popen, to_browser: int, from_browser: int) -> None:
        self.process = process
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: queue.Queue = queue.Queue()  # (sessionId, method, params)
        self.pages: dict[str, Page] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, profile: Path, executable: str | None = None) -> Browser:
        executable = executable or find_browser()
        if executable is None:
            raise BrowserError("no Chromium or Chrome on PATH")
        # Our ends and the browser's: it reads commands on fd 3 and writes on fd 4. Its ends
        # are moved above 9 first, then a small Python trampoline puts them on 3 and 4 and
        # execs the browser (no preexec_fn: the test process may run threads).
        cmd_read, cmd_write = os.pipe()
        msg_read, msg_write = os.pipe()
        theirs = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_read, msg_write)]
        os.close(cmd_read)
        os.close(msg_write)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-quic",
            # Nothing leaves the machine: every host name resolves to "not found".
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        trampoline = (
            "import os, sys\n"
            "a, b = int(sys.argv[1]), int(sys.argv[2])\n"
            "os.dup2(a, 3); os.dup2(b, 4); os.close(a); os.close(b)\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", trampoline, *map(str, theirs), executable, *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=theirs,
        )
        for fd in theirs:
            os.close(fd)
        return cls(process, cmd_write, msg_read)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError, ValueError):  # it may be gone already
            self.send("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self._out, self._in):
            with contextlib.suppress(OSError):
                stream.close()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                self.events.put((None, "closed", {}))
                for waiting in list(self._replies.values()):
                    waiting.put({"error": {"message": "the browser closed the pipe"}})
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    waiting = self._replies.pop(message["id"], None)
                    if waiting is not None:
                        waiting.put(message)
                else:
                    self._event(message)

    def _event(self, message: dict) -> None:
        session, method, params = message.get("sessionId"), message["method"], message["params"]
        for page in self.pages.values():
            if session in page.sessions:
                page.record(method, params)
        if method == "Target.attachedToTarget":
            # A worker or a frame of one of our pages: watch its requests too, then let it run.
            child = params["sessionId"]
            for page in self.pages.values():
                if session in page.sessions:
                    page.sessions.add(child)
                    threading.Thread(target=self._watch, args=(child,), daemon=True).start()
        self.events.put((session, method, params))

    def _watch(self, session: str) -> None:
        for method in ("Network.enable", "Runtime.runIfWaitingForDebugger"):
            # The target may be gone already (a short-lived worker).
            with contextlib.suppress(BrowserError):
                self.send(method, session=session, timeout=10)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=30
    ) -> dict:
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            waiting: queue.Queue = queue.Queue()
            self._replies[message_id] = waiting
            message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            self._out.write(json.dumps(message).encode() + b"\0")
        try:
            reply = waiting.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"{method}: no reply in {timeout} s") from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"])
        self.pages[target] = page
        page.command("Network.enable")
        page.command("Page.enable")
        page.command("Runtime.enable")
        page.command(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
        )
        return page


class Page:
    """One tab: what it requested, what failed to load, what its scripts threw."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.sessions = {session}  # the page's and those of its workers and frames
        self.requests: list[str] = []
        self.failed: list[tuple[str, str]] = []  # (url, error text)
        self.exceptions: list[str] = []
        self._urls: dict[str, str] = {}
        self._loaded = threading.Event()
        self._last_request = time.monotonic()

    def command(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def record(self, method: str, params: dict) -> None:
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            self.requests.append(url)
            self._urls[params["requestId"]] = url
            self._last_request = time.monotonic()
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = self._urls.get(params["requestId"], "?")
            self.failed.append((url, params.get("errorText", "")))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.exceptions.append(text)
        elif method == "Page.loadEventFired":
            self._loaded.set()

    def goto(self, url: str, timeout: float = 60, settle: float = 1.0) -> None:
        """Open `url`, wait for its load event, then until no request came for `settle` s."""
        self._loaded.clear()
        reply = self.command("Page.navigate", {"url": url}, timeout=timeout)
        if reply.get("errorText"):
            raise BrowserError(f"could not open {url}: {reply['errorText']}")
        self.wait_for_load(timeout, settle)

    def wait_for_load(self, timeout: float = 60, settle: float = 1.0) -> None:
        if not self._loaded.wait(timeout):
            raise BrowserError(f"no load event in {timeout} s")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            quiet = time.monotonic() - self._last_request
            if quiet >= settle:
                return
            time.sleep(settle - quiet)

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        reply = self.command(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, selector: str, timeout: float = 60, settle: float = 1.0) -> None:
        """Click the element `selector` finds, and wait for the page it leads to."""
        self._loaded.clear()
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" if (!e) return false; e.click(); return true; }})()"
        )
        if not found:
            raise BrowserError(f"nothing matches {selector!r}")
        self.wait_for_load(timeout, settle)

    def external_requests(self) -> list[str]:
        """Every requested URL that is not on this machine (not file:, data:, blob: ...)."""
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]
