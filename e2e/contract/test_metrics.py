"""`GET /metrics` of a running `moeen serve`, read by the standard Prometheus parser (`prometheus_client`):
it parses, its counters move with traffic (an API request, an SMS sent through the dispatcher to the Twilio
stand-in, a forged and a valid webhook), it answers 401 without the token when one is set, and with
LOG_FORMAT=json every line the server logs is one JSON object.

Environment: MOEEN_BIN (the `moeen` executable, default .build/debug/moeen)."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
MOEEN = os.environ.get("MOEEN_BIN") or str(ROOT / ".build" / "debug" / "moeen")
METRICS_TOKEN = "e2e-metrics-token"
RECIPIENT = "+966551234567"
TEXT = "Reminder: physiotherapy tomorrow at 9"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def read_until(process, predicate, deadline_seconds):
    lines = []
    deadline = time.monotonic() + deadline_seconds
    for line in process.stdout:
        lines.append(line)
        if predicate(line):
            return lines
        if time.monotonic() > deadline:
            break
    raise AssertionError("expected output did not appear:\n" + "".join(lines))


@pytest.fixture(scope="module")
def hub():
    """`moeen serve` with a metrics token and JSON logs, an admin token, and where its log goes."""
    workdir = tempfile.mkdtemp(prefix="moeen-metrics-")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "MOEEN_SQLITE_PATH": os.path.join(workdir, "moeen.sqlite"),
        "MOEEN_ALLOW_PRIVATE_TARGETS": "true",
        "MOEEN_OUTBOUND_ALLOWLIST": "127.0.0.0/8,::1,localhost",
        "MOEEN_BCRYPT_COST": "10",
        "MOEEN_METRICS_TOKEN": METRICS_TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    })
    env.pop("DATABASE_URL", None)
    env.pop("MOEEN_PUBLIC_URL", None)
    log_path = Path(workdir) / "server.log"
    log = open(log_path, "w")
    process = subprocess.Popen([MOEEN, "serve", "--hostname", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=workdir)
    try:
        read_until(process, lambda line: "/setup?token=" in line, 120)
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

        def moeen(*args, stdin=None):
            done = subprocess.run([MOEEN, *args], input=stdin, capture_output=True, text=True, env=env, cwd=workdir, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        moeen("users", "create", "--email", "ops@example.org", "--name", "Ops", "--role", "admin", "--password-stdin",
              stdin="correct horse battery staple\n")
        token = moeen("tokens", "create", "--email", "ops@example.org", "--name", "metrics").strip().splitlines()[-1]
        yield {"base": base, "port": port, "token": token, "log": log_path}
    finally:
        stop(process)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def scrape(hub, token=METRICS_TOKEN):
    """Every sample as (name, labels, value), after a strict parse by prometheus_client."""
    answer = requests.get(hub["base"] + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = []
    for family in text_string_to_metric_families(answer.text):
        assert family.type in {"counter", "gauge", "histogram"}, family
        for sample in family.samples:
            samples.append((sample.name, dict(sample.labels), sample.value))
    return samples


def value(samples, name, **labels):
    matching = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    return sum(matching) if matching else 0.0


def api(hub, method, path, body=None):
    answer = requests.request(method, hub["base"] + path, json=body, timeout=30,
                              headers={"Authorization": f"Bearer {hub['token']}"})
    return answer


def twilio_signature(url, params, auth_token):
    data = url + "".join(key + value for key, value in sorted(params.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_metrics_need_the_token(hub):
    assert requests.get(hub["base"] + "/metrics", timeout=10).status_code == 401
    wrong = requests.get(hub["base"] + "/metrics", headers={"Authorization": "Bearer not-it"}, timeout=10)
    assert wrong.status_code == 401
    assert "moeen_" not in wrong.text
    assert value(scrape(hub), "moeen_http_requests_total", route="/metrics", status="401") >= 2


def test_counters_move_with_traffic(hub, sandbox):
    before = scrape(hub)
    settings = dict(sandbox["sms"]["settings"], rate_limit_per_second="unlimited")
    created = api(hub, "POST", "/api/integrations", {"integration_type": "sms", "name": "SMS (metrics)", "is_enabled": True,
                                                      "config": settings})
    assert created.status_code == 201, created.text
    integration = created.json()["public_id"]
    sent = api(hub, "POST", "/api/messages", {"channel": "sms", "to": RECIPIENT, "text": TEXT})
    assert sent.status_code == 202, sent.text
    message = sent.json()["public_id"]
    deadline = time.monotonic() + 60
    while api(hub, "GET", f"/api/messages/{message}").json()["status"] != "sent":
        assert time.monotonic() < deadline, "the message was not sent"
        time.sleep(0.2)

    path = f"/webhooks/twilio/{integration}"
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "AccountSid": settings.get("account_sid", "AC00")}
    url = f"http://127.0.0.1:{hub['port']}{path}"
    forged = requests.post(hub["base"] + path, data=params, timeout=10,
                           headers={"X-Twilio-Signature": twilio_signature(url, params, "not-the-auth-token")})
    assert forged.status_code == 401, forged.text
    valid = requests.post(hub["base"] + path, data=params, timeout=10,
                          headers={"X-Twilio-Signature": twilio_signature(url, params, settings["auth_token"])})
    assert valid.status_code == 200, valid.text

    after = scrape(hub)
    moved = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)
    assert moved("moeen_http_requests_total", route="/api/messages", method="POST", status="202") == 1
    assert moved("moeen_http_requests_total", route="/api/messages/:id", method="GET", status="200") >= 1
    assert moved("moeen_http_request_duration_seconds_count", route="/api/messages", method="POST") == 1
    assert moved("moeen_dispatch_attempts_total", channel="sms", outcome="sent") == 1
    assert moved("moeen_dispatch_attempt_duration_seconds_count", channel="sms", outcome="sent") == 1
    assert moved("moeen_webhooks_rejected_total", provider="twilio") == 1
    assert moved("moeen_webhooks_received_total", provider="twilio") == 1
    assert value(after, "moeen_messages", channel="sms", status="sent") >= 1
    assert value(after, "moeen_integration_delivery_state", public_id=integration, state="active") == 1
    assert value(after, "moeen_metrics_database_up") == 1
    for _, labels, _ in after:
        for label in labels.values():
            assert "551234567" not in label and TEXT not in label and "@" not in label, labels
            assert message not in label and settings["auth_token"] not in label, labels


def test_logs_are_json_lines(hub):
    requests.get(hub["base"] + "/health", timeout=10)
    lines = [line for line in hub["log"].read_text().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    objects = [json.loads(line) for line in lines]
    for entry in objects:
        assert {"time", "level", "message", "label", "source"} <= set(entry), entry
        assert entry["time"].endswith("Z") and "." in entry["time"], entry
    assert any("request_id" in entry for entry in objects), "no line carries a request id"
