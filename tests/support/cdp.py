"""A minimal Chrome DevTools Protocol client for the article's browser test.

Launches headless Chromium with networking switched off, opens one page over the
browser's DevTools WebSocket (``websocket-client``) and records what the page does:
every request URL, console errors, uncaught exceptions and log entries of level error.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

#: Switches from the issue, plus two that make any attempt to reach a host fail at once.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    """Path of the Chromium binary (``/usr/bin/chromium`` or ``chromium`` on PATH), or None."""
    candidates = ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class CDPError(RuntimeError):
    """A DevTools command returned an error, or the browser did not answer in time."""


@dataclass
class PageRecord:
    """What the page did while loading (filled in by :class:`Page`)."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries, in one list."""
        return self.console_errors + self.exceptions + self.log_errors


class Page:
    """One page target, driven through a flat session on the browser WebSocket."""

    def __init__(self, ws: websocket.WebSocket, session_id: str, timeout_s: float) -> None:
        self._ws = ws
        self._session = session_id
        self._timeout_s = timeout_s
        self._next_id = 1000
        self.events: list[dict[str, Any]] = []
        self.record = PageRecord()

    # ------------------------------------------------------------------ protocol
    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CDPError("timed out waiting for the browser")
        self._ws.settimeout(remaining)
        try:
            msg = json.loads(self._ws.recv())
        except websocket.WebSocketTimeoutException:
            raise CDPError("timed out waiting for the browser") from None
        if "method" in msg and msg.get("sessionId") == self._session:
            self.events.append(msg)
            self._note(msg["method"], msg.get("params", {}))
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command to the page and return its result."""
        self._next_id += 1
        cid = self._next_id
        self._ws.send(
            json.dumps(
                {"id": cid, "method": method, "params": params or {}, "sessionId": self._session}
            )
        )
        deadline = time.monotonic() + self._timeout_s
        while True:
            msg = self._receive(deadline)
            if msg.get("id") == cid:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_for(self, event: str) -> dict[str, Any]:
        """Block until the page emits ``event`` (already received ones count)."""
        for msg in self.events:
            if msg["method"] == event:
                return msg.get("params", {})
        deadline = time.monotonic() + self._timeout_s
        while True:
            msg = self._receive(deadline)
            if msg.get("method") == event and msg.get("sessionId") == self._session:
                return msg.get("params", {})

    def settle(self, seconds: float) -> None:
        """Keep recording events for ``seconds`` (late console errors, lazy requests)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._receive(deadline)
        except CDPError:
            pass

    def _note(self, method: str, params: dict[str, Any]) -> None:
        rec = self.record
        if method == "Network.requestWillBeSent":
            rec.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            rec.console_errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            rec.exceptions.append(
                str(details.get("exception", {}).get("description") or details.get("text", ""))
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            rec.log_errors.append(
                f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}"
            )

    # ------------------------------------------------------------------ helpers
    def navigate(
        self, url: str, *, width_px: int = 1000, height_px: int = 1400, mobile: bool = False
    ) -> None:
        """Enable the recorded domains, load ``url`` and wait for its load event."""
        for domain in ("Network", "Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width_px, "height": height_px, "deviceScaleFactor": 1, "mobile": mobile},
        )
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression (returned by value; promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Write a PNG of the page (the whole document when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def _read_port(profile: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, str]:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CDPError(f"chromium exited with status {proc.returncode} before opening DevTools")
        if active.is_file():
            lines = active.read_text().split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        time.sleep(0.1)
    raise CDPError(f"chromium wrote no {active} within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the browser we started: its process group (it was made a group leader)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def open_page(binary: str, profile: Path, *, timeout_s: float = 60.0) -> Iterator[Page]:
    """Start Chromium with a fresh profile in ``profile``, yield a blank page, kill it after."""
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "DevToolsActivePort").unlink(missing_ok=True)  # left by an earlier run
    cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ws = None
    try:
        port, path = _read_port(profile, proc, timeout_s)
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{path}", timeout=timeout_s, suppress_origin=True
        )
        ws.send(
            json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}})
        )
        target = _reply(ws, 1)["targetId"]
        ws.send(
            json.dumps(
                {
                    "id": 2,
                    "method": "Target.attachToTarget",
                    "params": {"targetId": target, "flatten": True},
                }
            )
        )
        session = _reply(ws, 2)["sessionId"]
        yield Page(ws, session, timeout_s)
    finally:
        if ws is not None:
            ws.close()
        _stop(proc)


def _reply(ws: websocket.WebSocket, cid: int) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == cid:
            if "error" in msg:
                raise CDPError(str(msg["error"]))
            return msg["result"]
