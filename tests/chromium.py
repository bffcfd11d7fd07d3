"""Open a page in headless Chromium and report what a person would see go wrong (tests' helper).

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
JSON messages ending in NUL on file descriptors 3 and 4), so no websocket
client and no network port are needed. `render(path)` loads a local file and
returns its images' load state, every console error, uncaught exception and
browser log error (broken resources, Content-Security-Policy refusals), the
result of an optional JavaScript expression and, optionally, a full-page PNG.

Debian's `chromium` package provides the browser (`.ci/run` installs it).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
         "--remote-debugging-pipe")
IMAGES = ("Array.from(document.images).map(i => ({src: i.src.slice(0, 40), alt: i.alt, complete: i.complete, "
          "width: i.naturalWidth, height: i.naturalHeight}))")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """One DevTools connection: commands out on one pipe, replies and events back on the other."""

    def __init__(self, browser: str, profile: str):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The browser expects the pipe on descriptors 3 (its input) and 4 (its output).
        command = ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}', browser, *FLAGS,
                   f"--user-data-dir={profile}", "--window-size=1100,900", "about:blank"]
        self.process = subprocess.Popen(command, pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium exited: {self.process.stderr.read().decode()[-2000:]}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self.process.stderr.close()


def render(path: str, *, expression: str | None = None, screenshot: str | None = None,
           timeout: float = 120) -> dict[str, Any]:
    """Load `path` (a local file) and report `images`, `errors`, `value` (of `expression`) and `title`."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="toolrm-chromium-") as profile:
        pipe = _Pipe(browser, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.events.clear()
            pipe.send("Page.navigate", {"url": "file://" + os.path.abspath(path)}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout=timeout)
            images = pipe.send("Runtime.evaluate", {"expression": IMAGES, "returnByValue": True},
                               session=session)["result"]["value"]
            value = None
            if expression:
                result = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   session=session)
                if "exceptionDetails" in result:
                    raise RuntimeError(f"check expression failed: {result['exceptionDetails']}")
                value = result["result"].get("value")
            if screenshot:
                metrics = pipe.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
                shot = pipe.send("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1}},
                    session=session)
                with open(screenshot, "wb") as handle:
                    handle.write(base64.b64decode(shot["data"]))
            title = pipe.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                              session=session)["result"]["value"]
        finally:
            pipe.close()
    return {"images": images, "errors": _errors(pipe.events), "value": value, "title": title}


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
    return errors
