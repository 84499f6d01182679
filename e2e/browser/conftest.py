"""Starts the provider stand-ins (`moeen sandbox`) and `moeen serve` on a free port with a temporary SQLite
file, and gives the tests a headless Chromium.

Environment: MOEEN_BIN (the `moeen` executable), MOEEN_E2E_ARTIFACTS (where screenshots and logs go,
default e2e/artifacts)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
MOEEN = os.environ.get("MOEEN_BIN") or str(ROOT / ".build" / "debug" / "moeen")
ARTIFACTS = Path(os.environ.get("MOEEN_E2E_ARTIFACTS") or ROOT / "e2e" / "artifacts")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process, predicate, deadline_seconds, lines):
    deadline = time.monotonic() + deadline_seconds
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if predicate(line):
            return line
        if time.monotonic() > deadline:
            break
    raise AssertionError("expected output did not appear:\n" + "".join(lines))


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def sandbox():
    """{type: {"url": base, "settings": {key: value}}} of the running stand-ins."""
    process = subprocess.Popen([MOEEN, "sandbox", "--port-base", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        read_until(process, lambda line: line.startswith("Stand-ins running"), 120, lines)
        endpoints, current = {}, None
        for line in lines:
            if line.startswith("  ") and "=" in line and current:
                key, value = line.strip().split("=", 1)
                endpoints[current]["settings"][key] = value
                continue
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("http"):
                current = parts[0]
                endpoints[current] = {"url": parts[1], "settings": {}}
        assert "whatsapp" in endpoints, "".join(lines)
        yield endpoints
    finally:
        stop(process)


class Server:
    def __init__(self, base, setup_link, env, workdir):
        self.base = base
        self.setup_link = setup_link
        self.env = env
        self.workdir = workdir

    def moeen(self, *args, stdin=None):
        return subprocess.run([MOEEN, *args], input=stdin, capture_output=True, text=True, env=self.env,
                              cwd=self.workdir, timeout=120)


def running_server(artifacts, name="server", extra_env=None):
    """Starts `moeen serve` on a free port with its own SQLite file (loopback-only outbound calls), waits for its
    setup link and /health, yields a Server, and stops it. `extra_env` adds or overrides settings."""
    workdir = tempfile.mkdtemp(prefix=f"moeen-e2e-{name}-")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "MOEEN_SQLITE_PATH": os.path.join(workdir, "moeen.sqlite"),
        "MOEEN_ALLOW_PRIVATE_TARGETS": "true",
        # No traffic may leave the machine: every outbound call is held to loopback.
        "MOEEN_OUTBOUND_ALLOWLIST": "127.0.0.0/8,::1,localhost",
        "MOEEN_BCRYPT_COST": "10",
        "LOG_LEVEL": "info",
    })
    env.update(extra_env or {})
    env.pop("DATABASE_URL", None)
    env.pop("MOEEN_PUBLIC_URL", None)
    log = open(artifacts / f"{name}.log", "w")
    process = subprocess.Popen([MOEEN, "serve", "--hostname", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=workdir)
    lines = []
    try:
        link = read_until(process, lambda line: "/setup?token=" in line, 120, lines).strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "server did not answer /health"
            time.sleep(0.2)
        yield Server(base, link, env, workdir)
    finally:
        stop(process)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def server(artifacts):
    yield from running_server(artifacts)


@pytest.fixture(scope="session")
def driver(artifacts):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1400", "--lang=ar"):
        options.add_argument(argument)
    binary = shutil.which("chromium")
    if binary:
        options.binary_location = binary
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    browser = webdriver.Chrome(service=service, options=options)
    browser.implicitly_wait(0)
    yield browser
    browser.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, keep a screenshot and the page's HTML in the artifacts folder."""
    outcome = yield
    report = outcome.get_result()
    browser = item.funcargs.get("driver") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and browser is not None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            browser.save_screenshot(str(ARTIFACTS / f"FAILED-{item.name}.png"))
            (ARTIFACTS / f"FAILED-{item.name}.html").write_text(browser.page_source)
        except Exception:  # the browser itself may be gone
            pass
