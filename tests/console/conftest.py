# Browser tests of the keygate console: real Chromium (Debian's package), real `keygate serve`.
# The test command (infra/test.sh) installs and runs them. By hand, after it has built .venv:
#      cargo build -p keygate-cli && .venv/bin/pytest tests/console
#   Env: KEYGATE_BIN (default target/debug/keygate), CHROMIUM (default /usr/bin/chromium).
#   Screenshots go to target/console/.
"""Fixtures: a fresh `keygate serve` per test, the console's URL, a browser page that
records console errors and dialogs, and a small client for the HTTP API."""

from __future__ import annotations

import json
import os
import re
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
KEYGATE_BIN = Path(os.environ.get("KEYGATE_BIN", REPO / "target" / "debug" / "keygate"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "target" / "console"
START_TIMEOUT_S = 20


def read_line_matching(process: subprocess.Popen, pattern: str, what: str) -> tuple[re.Match, list[str]]:
    """Reads the process's stdout until a line matches; fails if it exits or takes too long.
    A thread keeps draining stdout afterwards, so the process never blocks on a full pipe."""
    lines: queue.Queue[str | None] = queue.Queue()

    def drain():
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            pytest.fail(f"{what} exited (code {process.wait()}) before printing {pattern!r}")
        seen.append(line)
        if match := re.search(pattern, line):
            return match, seen
    pytest.fail(f"{what} printed no {pattern!r} within {START_TIMEOUT_S} s")


def stop(process: subprocess.Popen) -> None:
    """Stops one process we started, by its PID."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Keygate:
    url: str
    root_key: str


@pytest.fixture
def keygate(tmp_path) -> Keygate:
    """`keygate serve` on a fresh data dir; its first full-access key is read from stdout."""
    if not KEYGATE_BIN.is_file():
        pytest.fail(f"no keygate binary at {KEYGATE_BIN}: build it (cargo build) or set KEYGATE_BIN")
    process = subprocess.Popen(
        [str(KEYGATE_BIN), "serve", "--port", "0", "--data", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "keygate.stderr").open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        match, seen = read_line_matching(process, r"listening on (http://\S+)", "keygate serve")
        keys = [line for line in seen if line.startswith("kg_")]
        assert len(keys) == 1, "keygate serve printed no first key on an empty store"
        yield Keygate(url=match.group(1), root_key=keys[0])
    finally:
        stop(process)


@pytest.fixture
def console_url(keygate: Keygate) -> str:
    """Where the console is served: by `keygate serve` itself, at `/`."""
    return keygate.url


class Api:
    """The keygate HTTP API as a test uses it: urllib with X-API-Key."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key

    def call(self, method: str, path: str, body=None, key: str | None = None):
        """Returns (status, parsed JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("X-API-Key", key or self.key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw else None)

    def create_key(self, name: str, **fields) -> dict:
        status, body = self.call("POST", "/v1/api-keys", {"name": name, "key_type": "service", **fields})
        assert status == 201, body
        return body

    def get_key(self, key_id: str) -> dict:
        status, body = self.call("GET", f"/v1/api-keys/{key_id}")
        assert status == 200, body
        return body

    def works(self, key: str) -> bool:
        """Whether the authorizer lets `key` through (GET /v1/scopes needs no particular scope)."""
        status, _ = self.call("GET", "/v1/scopes", key=key)
        assert status in (200, 403), status
        return status == 200


@pytest.fixture
def api(keygate: Keygate) -> Api:
    return Api(keygate.url, keygate.root_key)


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@dataclass
class PageLog:
    """What the page said on its own: console errors, uncaught errors, alert/confirm dialogs."""

    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    page = context.new_page()
    page.set_default_timeout(10_000)

    def on_console(message):
        page_log.messages.append(message.text)
        if message.type == "error":
            page_log.errors.append(message.text)

    def on_dialog(dialog):
        page_log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_log.errors.append(f"uncaught: {error}"))
    page.on("dialog", on_dialog)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
