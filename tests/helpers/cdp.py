"""Headless Chromium driven over the Chrome DevTools protocol, for tests of the pages the project writes.

The system's ``chromium`` (Debian's package) runs with a fresh profile in a temporary folder, as a user's
browser would: its own localStorage, downloads into a folder of the test's. The protocol is spoken over a
websocket with ``websockets``' synchronous client; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Without the background-networking flags Chromium keeps trying to reach its update and sync hosts.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--disable-extensions", "--remote-debugging-port=0")


def chromium_binary() -> Optional[str]:
    """The first Chromium on PATH, or ``None``."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


class CDPError(RuntimeError):
    """The browser answered a command with an error, or a page script threw."""


class Session:
    """One websocket to a DevTools target (the browser or one page): commands and the events that come between."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self._stack = ExitStack()
        self.ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=10))
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, timeout: float = 20, **params) -> dict:
        self.next_id += 1
        msg_id = self.next_id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 10) -> dict:
        """The first event ``method`` seen (kept from earlier commands, or read now)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(i)["params"]
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if "method" in msg:
                self.events.append(msg)

    def close(self) -> None:
        self._stack.close()


class Page(Session):
    def js(self, expression: str) -> Any:
        """The value of ``expression`` in the page (promises awaited); a thrown error raises :class:`CDPError`."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            detail = res["exceptionDetails"]
            raise CDPError(f"{expression[:80]!r}: {detail.get('exception', {}).get('description') or detail['text']}")
        return res["result"].get("value")

    def js_until(self, expression: str, expected: Any, timeout: float = 5) -> Any:
        """The value of ``expression`` once it equals ``expected`` (events from other tabs arrive asynchronously),
        or its last value after ``timeout`` seconds."""
        import time

        end = time.monotonic() + timeout
        value = self.js(expression)
        while value != expected and time.monotonic() < end:
            time.sleep(0.05)
            value = self.js(expression)
        return value

    def open(self, url: str) -> None:
        self.send("Page.enable")
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")


class Chromium:
    """A headless Chromium with a profile of its own; downloads land in ``downloads``."""

    def __init__(self, folder: Path, binary: str):
        self.profile = folder / "profile"
        self.downloads = folder / "downloads"
        self.downloads.mkdir(parents=True)
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().split()) == 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{binary} did not open its DevTools port (exit code {self.proc.returncode})")
            time.sleep(0.1)
        port, path = port_file.read_text().split()
        self.http = f"http://127.0.0.1:{port}"
        self.browser = Session(f"ws://127.0.0.1:{port}{path}")
        self.browser.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(self.downloads))

    def new_tab(self, url: str) -> Page:
        """A new tab on ``url``, loaded."""
        target = self.browser.send("Target.createTarget", url="about:blank")["targetId"]
        with urllib.request.urlopen(f"{self.http}/json/list", timeout=10) as r:
            ws = next(t["webSocketDebuggerUrl"] for t in json.load(r) if t["id"] == target)
        page = Page(ws)
        page.open(url)
        return page

    def download(self, name: str, timeout: float = 15) -> Path:
        """The file ``name`` once the browser has finished writing it into :attr:`downloads`."""
        path = self.downloads / name
        deadline = time.monotonic() + timeout
        while not path.exists() or any(self.downloads.glob("*.crdownload")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no download {name} in {self.downloads} after {timeout:g} s "
                                   f"(found: {sorted(p.name for p in self.downloads.iterdir())})")
            time.sleep(0.1)
        return path

    def close(self) -> None:
        """End the browser and its helper processes (its own process group)."""
        try:
            self.browser.close()
        except Exception:  # the browser may be gone already
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
