"""Starts `moeen sandbox` (or reads its captured output) and exposes each stand-in's base URL
and working settings to the contract tests.

Environment:
  MOEEN_SANDBOX_OUTPUT  a file holding the output of a running `moeen sandbox` (no process is started)
  MOEEN_SANDBOX_CMD     the command to start, default `moeen sandbox --port-base 0`
  MOEEN_SPECS_DIR       the provider specs, default `../shared/specs` relative to the repository
"""
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

SPECS = Path(os.environ.get("MOEEN_SPECS_DIR") or Path(__file__).resolve().parents[2] / ".." / "shared" / "specs")


def parse_sandbox_lines(lines):
    """`TYPE URL` lines, each followed by indented `key=value` settings."""
    endpoints = {}
    current = None
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("  ") and "=" in line and current:
            key, value = line.strip().split("=", 1)
            endpoints[current]["settings"][key] = value
            continue
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("http"):
            current = parts[0]
            endpoints[current] = {"url": parts[1], "settings": {}}
    return endpoints


@pytest.fixture(scope="session")
def sandbox():
    captured = os.environ.get("MOEEN_SANDBOX_OUTPUT")
    if captured:
        yield parse_sandbox_lines(Path(captured).read_text().splitlines())
        return
    command = shlex.split(os.environ.get("MOEEN_SANDBOX_CMD", "moeen sandbox --port-base 0"))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 120
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Stand-ins running") or time.monotonic() > deadline:
                break
        endpoints = parse_sandbox_lines(lines)
        assert len(endpoints) == 7, "".join(lines)
        yield endpoints
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def specs_dir():
    return SPECS.resolve()
