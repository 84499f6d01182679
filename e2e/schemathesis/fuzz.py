"""Generated-input run of the whole HTTP API against its OpenAPI document (schemathesis 4).

Starts `moeen serve` on a free loopback port with a temporary SQLite file (outbound calls held to loopback,
no dispatcher), makes an admin and an API token with the command line, seeds a few rows through the API so
that `{id}` paths have something real to find, then runs schemathesis against the served `/openapi.yaml`
with a fixed seed and a bounded number of examples per operation, every check on. Exits non-zero on any
failure. Reports go to e2e/artifacts/schemathesis/.

Environment: MOEEN_BIN (the `moeen` executable), MOEEN_FUZZ_EXAMPLES (examples per operation, default 25),
MOEEN_FUZZ_SEED (default 20261129), MOEEN_FUZZ_POSTGRES_URL (a PostgreSQL server's admin URL: the run then uses
a database of its own there instead of SQLite, dropped afterwards).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
MOEEN = os.environ.get("MOEEN_BIN") or str(ROOT / ".build" / "debug" / "moeen")
ARTIFACTS = ROOT / "e2e" / "artifacts" / "schemathesis"
EXAMPLES = int(os.environ.get("MOEEN_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("MOEEN_FUZZ_SEED", "20261129"))
POSTGRES = os.environ.get("MOEEN_FUZZ_POSTGRES_URL")
ADMIN = "fuzz-admin@example.org"
PASSWORD = "fuzzing only, not a secret"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres(admin_url, statement):
    done = subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"fuzz: psql failed: {done.stderr.strip()}")


def moeen(env, workdir, *args, stdin=None):
    done = subprocess.run([MOEEN, *args], input=stdin, capture_output=True, text=True, env=env, cwd=workdir,
                          timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"fuzz: `moeen {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class Seeder:
    """Makes rows through the API and remembers their ids (UUID and public id) per kind."""

    def __init__(self, base, token):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.ids = {}

    def post(self, kind, path, body, expect=(200, 201, 202)):
        answer = self.session.post(self.base + path, json=body, timeout=30)
        if answer.status_code not in expect:
            raise SystemExit(f"fuzz: seeding {path} answered {answer.status_code}: {answer.text[:500]}")
        data = answer.json()
        if kind:
            self.ids.setdefault(kind, []).extend(v for v in (data.get("id"), data.get("public_id")) if v)
        return data

    def seed(self):
        loopback = f"http://127.0.0.1:{free_port()}"  # nothing listens there: a probe is refused at once
        self.post("integration", "/api/integrations", {
            "integration_type": "sms", "name": "Fuzz SMS", "is_enabled": True,
            "config": {"account_sid": "AC" + "0" * 32, "auth_token": "fuzz-token-not-a-secret",
                       "from_number": "+966500000001", "api_url": loopback},
        })
        self.post("integration", "/api/integrations", {
            "integration_type": "whatsapp", "name": "Fuzz WhatsApp", "is_enabled": True,
            "config": {"phone_number_id": "1065000000", "access_token": "fuzz-token-not-a-secret",
                       "webhook_verify_token": "fuzz-verify", "app_secret": "fuzz-app-secret", "api_url": loopback},
        })
        self.post("integration", "/api/integrations", {
            "integration_type": "email", "name": "Fuzz e-mail", "is_enabled": True,
            "config": {"api_key": "fuzz-key-not-a-secret", "from_email": "clinic@example.org", "api_url": loopback},
        })
        self.post("opt_out", "/api/opt-outs", {"channel": "sms", "address": "0559999999", "reason": "asked"})
        contact = self.post("contact", "/api/crm/contacts", {"first_name": "سارة", "last_name": "Fuzz",
                                                            "phone": "0551234500", "email": "sara@example.org"})
        self.post("activity", f"/api/crm/contacts/{contact['id']}/activities", {"activity_type": "note", "subject": "call back"})
        self.post("lead", "/api/crm/leads", {"name": "Fuzz lead", "phone": "0501234567", "value": "1250.00"})
        self.post("deal", "/api/crm/deals", {"title": "Fuzz deal", "contact_id": contact["id"], "value": "900.50"})
        patient = self.post("patient", "/api/patients", {"full_name": "محمد Fuzz", "phone": "0551234501",
                                                         "email": "patient@example.org", "preferred_channel": "sms"})
        program = self.post("training_program", "/api/training-programs", {"program_name": "Fuzz program", "duration_weeks": 4})
        base = f"/api/patients/{patient['id']}"
        self.post("goal", base + "/goals", {"goal_title": "Walk 20 m", "progress_percentage": 30})
        self.post("assessment", base + "/assessments", {"assessment_type": "motor", "assessment_date": "2026-11-01", "score": "7.50"})
        self.post("report", base + "/reports", {"report_title": "Monthly", "report_date": "2026-11-01"})
        self.post("training", base + "/training", {"program_id": program["id"], "completion_percentage": 10})
        self.post("family", base + "/family", {"name": "Fuzz parent", "relationship": "mother", "phone": "0551234502"})
        self.post("support_session", base + "/support-sessions", {"session_title": "Family support", "session_date": "2026-11-02"})
        self.post("resource", "/api/resources", {"resource_title": "Guide", "resource_type": "guide"})
        self.post("message", "/api/messages", {"channel": "sms", "to": "0551234567", "text": "موعدك غداً"})
        self.post("message", "/api/messages", {"channel": "email", "to": "family@example.org", "text": "Reminder"})
        self.post("message", "/api/messages", {"patient_id": patient["id"], "text": "Reminder for the patient"})
        self.post("message", "/api/messages", {"contact_id": contact["id"], "channel": "email", "text": "Thank you"})
        self.post("alert_rule", "/api/alert-rules", {"name": "Fuzz queue age", "kind": "queue_age", "threshold": 600,
                                                     "channels": []}, expect=(201,))
        return self.ids


# Which seeded ids each `{parameter}` (or body member) is offered from, per exact path.
BINDINGS = [
    (["/api/integrations/{id}", "/api/integrations/{id}/test", "/api/integrations/{id}/logs",
      "/api/integrations/{id}/health", "/api/integrations/{id}/webhook-events"], {"path.id": "integration"}),
    (["/api/messages/{id}", "/api/messages/{id}/retry", "/api/messages/{id}/cancel"], {"path.id": "message"}),
    (["/api/messages"], {"body.patient_id": "patient", "body.contact_id": "contact",
                         "body.integration_config_id": "integration"}),
    (["/api/opt-outs/{id}"], {"path.id": "opt_out"}),
    (["/api/crm/contacts/{id}", "/api/crm/contacts/{id}/activities"], {"path.id": "contact"}),
    (["/api/crm/contacts/{id}/activities/{item}"], {"path.id": "contact", "path.item": "activity"}),
    (["/api/crm/leads/{id}"], {"path.id": "lead"}),
    (["/api/crm/deals/{id}"], {"path.id": "deal", "body.contact_id": "contact"}),
    (["/api/crm/deals"], {"body.contact_id": "contact"}),
    (["/api/patients/{id}", "/api/patients/{id}/messages", "/api/patients/{id}/goals",
      "/api/patients/{id}/assessments", "/api/patients/{id}/reports", "/api/patients/{id}/family",
      "/api/patients/{id}/support-sessions"], {"path.id": "patient"}),
    (["/api/patients/{id}/training"], {"path.id": "patient", "body.program_id": "training_program"}),
    (["/api/patients/{id}/goals/{item}"], {"path.id": "patient", "path.item": "goal"}),
    (["/api/patients/{id}/assessments/{item}"], {"path.id": "patient", "path.item": "assessment"}),
    (["/api/patients/{id}/reports/{item}"], {"path.id": "patient", "path.item": "report"}),
    (["/api/patients/{id}/training/{item}"], {"path.id": "patient", "path.item": "training"}),
    (["/api/patients/{id}/family/{item}"], {"path.id": "patient", "path.item": "family"}),
    (["/api/patients/{id}/support-sessions/{item}"], {"path.id": "patient", "path.item": "support_session"}),
    (["/api/training-programs/{id}"], {"path.id": "training_program"}),
    (["/api/resources/{id}"], {"path.id": "resource"}),
    (["/api/alert-rules/{id}"], {"path.id": "alert_rule"}),
    (["/webhooks/whatsapp/{publicID}", "/webhooks/{provider}/{publicID}"], {"path.publicID": "webhook"}),
]


def write_config(path, ids):
    """schemathesis.toml: the seed, the examples per operation, and the seeded ids offered for `{id}`s."""
    lines = [f"seed = {SEED}", "", "[generation]", f"max-examples = {EXAMPLES}", ""]
    # Valid data may still be refused for what a schema cannot say: an id that must exist (404), a unique
    # name (409), a patient without a phone (422), a list cursor that must come from the previous page
    # (400 invalid_cursor). Never 415 or a 5xx.
    lines += ["[checks.positive_data_acceptance]", 'expected-statuses = ["2xx", 400, 401, 403, 404, 409, 422]', ""]
    for kind, values in sorted(ids.items()):
        quoted = ", ".join(f'"{v}"' for v in values)
        lines += [f"[dictionaries.{kind}]", f"values = [{quoted}]", ""]
    for paths, bindings in BINDINGS:
        used = {key: kind for key, kind in bindings.items() if kind in ids}
        if not used:
            continue
        listed = ", ".join(f'"{p}"' for p in paths)
        inner = ", ".join(f'"{key}" = {{ dictionary = "{kind}", probability = 0.6 }}' for key, kind in used.items())
        lines += ["[[operations]]", f"include-path = [{listed}]", f"parameters = {{ {inner} }}", ""]
    path.write_text("\n".join(lines))


def main():
    if not os.access(MOEEN, os.X_OK):
        raise SystemExit(f"fuzz: no moeen executable at {MOEEN} (run swift build first)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="moeen-fuzz-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    for name in ("DATABASE_URL", "MOEEN_PUBLIC_URL", "MOEEN_METRICS_TOKEN"):
        env.pop(name, None)
    env.update({
        "MOEEN_SQLITE_PATH": os.path.join(workdir, "moeen.sqlite"),
        # No traffic may leave the machine: fuzzed URLs are refused before any look-up unless loopback.
        "MOEEN_OUTBOUND_ALLOWLIST": "127.0.0.0/8,::1,localhost",
        "MOEEN_ALLOW_PRIVATE_TARGETS": "true",
        # Nothing is sent (accepted messages stay queued) and nothing runs in the background: this run is about
        # what requests can do, and SQLite takes one writer at a time.
        "MOEEN_DISPATCH": "false",
        "MOEEN_SCHEDULER": "false",
        "MOEEN_BCRYPT_COST": "10",
        "LOG_LEVEL": "info",
    })
    database = None
    if POSTGRES:
        database = f"moeen_fuzz_{os.getpid()}"
        postgres(POSTGRES, f"CREATE DATABASE {database}")
        env["DATABASE_URL"] = urllib.parse.urlunparse(urllib.parse.urlparse(POSTGRES)._replace(path="/" + database))
    log = open(ARTIFACTS / ("server-postgres.log" if POSTGRES else "server.log"), "w")
    server = subprocess.Popen([MOEEN, "serve", "--hostname", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("fuzz: the server did not start (see e2e/artifacts/schemathesis/server.log)")
            time.sleep(0.2)
        moeen(env, workdir, "users", "create", "--email", ADMIN, "--name", "Fuzz admin", "--role", "admin",
              "--password-stdin", stdin=PASSWORD + "\n")
        token = moeen(env, workdir, "tokens", "create", "--email", ADMIN, "--name", "schemathesis").strip().splitlines()[-1]
        ids = Seeder(base, token).seed()
        ids["webhook"] = [v for v in ids.get("integration", []) if v.startswith("int_")]
        config = Path(workdir) / "schemathesis.toml"
        write_config(config, ids)
        shutil.copy(config, ARTIFACTS / "schemathesis.toml")
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "--no-color",
            "run", base + "/openapi.yaml",
            "--checks", "all",
            "--header", f"Authorization: Bearer {token}",
            "--seed", str(SEED), "--max-examples", str(EXAMPLES),
            # One request at a time: on SQLite two concurrent writers may meet a busy lock, which the API
            # rightly answers 503 (retry); that is load, not input, and this run is about input.
            "--workers", "1",
            "--request-timeout", "30",
            # Nothing remembered between runs: the seed alone decides what is sent.
            "--generation-database", "none",
            "--report", "junit,ndjson", "--report-dir", str(ARTIFACTS),
        ]
        started = time.monotonic()
        status = subprocess.run(command, env=env, cwd=workdir, timeout=1200).returncode
        print(f"fuzz: schemathesis finished in {time.monotonic() - started:.0f} s with exit status {status}")
        return status
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
        if database:
            postgres(POSTGRES, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
