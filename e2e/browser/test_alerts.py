"""The Alerts tab (التنبيهات) in a real browser, on its own server started with MOEEN_HEALTH_INTERVAL=10s so the
scheduler's health checks and alert evaluation run without anyone pressing a button: an admin adds a rule from
the form (two failures in a row on the WhatsApp integration, notifying the Slack integration — both pointed at
the stand-ins of `moeen sandbox`), the WhatsApp token is broken and Test connection fails, the alert fires and
its row appears with data-state="open", and the admin acknowledges it from the keyboard. The tab is checked with
axe-core (WCAG 2.x A/AA) in Arabic and English when empty, with a refused form, and with the alert."""
import datetime
import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select

from axe import assert_no_violations
from page import by_testid, html_lang, wait
from conftest import running_server

ADMIN_EMAIL = "alerts-admin@example.org"
PASSWORD = "e2e alerts password"
RULE_NAME = "WhatsApp failing (e2e)"


def open_alerts(driver, base, lang):
    driver.get(f"{base}/settings/alerts?lang={lang}")
    wait(driver).until(EC.presence_of_element_located(by_testid("alerts-tab")))
    assert html_lang(driver) == lang


@pytest.fixture(scope="module")
def alerts_server(artifacts):
    """`moeen serve` with the scheduler checking every 10 s, on its own SQLite file (the shared server of the
    other suites keeps the default interval)."""
    yield from running_server(artifacts, "server-alerts", {"MOEEN_HEALTH_INTERVAL": "10s"})


class API:
    def __init__(self, base, token):
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, expect=200):
        res = requests.request(method, self.base + path, headers=self.headers, json=body, timeout=30)
        assert res.status_code == expect, f"{method} {path}: {res.status_code} {res.text}"
        return res.json() if res.content else None


@pytest.fixture(scope="module")
def setup(alerts_server, sandbox):
    """An admin (and a token), the seeded WhatsApp and Slack integrations pointed at the stand-ins and enabled."""
    created = alerts_server.moeen("users", "create", "--email", ADMIN_EMAIL, "--name", "Alerts admin", "--role", "admin",
                                  "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    issued = alerts_server.moeen("tokens", "create", "--email", ADMIN_EMAIL, "--name", "e2e alerts")
    assert issued.returncode == 0, issued.stderr
    api = API(alerts_server.base, issued.stdout.strip().splitlines()[-1])
    rows = api.call("GET", "/api/integrations?limit=200")["data"]
    ids = {}
    for kind in ("whatsapp", "slack"):
        seeded = [row for row in rows if row["integration_type"] == kind]
        assert seeded, f"no {kind} integration is seeded"
        ids[kind] = seeded[0]["public_id"]
        api.call("PATCH", f"/api/integrations/{ids[kind]}", {"config": sandbox[kind]["settings"], "is_enabled": True})
    return {"api": api, "ids": ids, "server": alerts_server}


@pytest.fixture(scope="module")
def admin(driver, setup):
    driver.delete_all_cookies()
    driver.get(setup["server"].base + "/login?lang=ar")
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    driver.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(*by_testid("login-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-alerts")))
    return driver


def test_empty_tab(admin, setup, artifacts):
    """No alert yet: the default rules are listed (marked), the form is there; axe clean in both languages."""
    for lang in ("ar", "en"):
        open_alerts(admin, setup["server"].base, lang)
        assert admin.find_elements(*by_testid("open-alerts-empty"))
        assert not admin.find_elements(*by_testid("alert-row"))
        assert admin.find_elements(*by_testid("default-rule"))
        assert admin.find_elements(*by_testid("alert-rule-form"))
        assert_no_violations(admin, "alerts-empty")
    admin.save_screenshot(str(artifacts / "alerts-01-empty.png"))


def fill_rule(driver, ids, name, threshold):
    form = driver.find_element(*by_testid("alert-rule-form"))
    field = form.find_element(By.ID, "rule-name")
    field.clear()
    field.send_keys(name)
    Select(form.find_element(By.ID, "rule-kind")).select_by_value("consecutive_failures")
    Select(form.find_element(By.ID, "rule-scope")).select_by_value(f"integration:{ids['whatsapp']}")
    field = form.find_element(By.ID, "rule-threshold")
    field.clear()
    field.send_keys(threshold)
    field = form.find_element(By.ID, "rule-cooldown")
    field.clear()
    field.send_keys("1h")
    checkbox = form.find_element(By.ID, f"rule-channel-{ids['slack']}")
    if not checkbox.is_selected():
        checkbox.click()
    driver.find_element(*by_testid("save-rule")).click()


def test_refused_form(admin, setup, artifacts):
    """A rule without a name and with a threshold that is not a number: the errors next to each field and in the
    summary, nothing saved; axe clean in both languages."""
    for lang in ("ar", "en"):
        open_alerts(admin, setup["server"].base, lang)
        fill_rule(admin, setup["ids"], "", "lots")
        summary = wait(admin).until(EC.presence_of_element_located(by_testid("form-errors")))
        assert html_lang(admin) == lang
        assert admin.find_element(By.ID, "rule-name-error").is_displayed()
        assert admin.find_element(By.ID, "rule-threshold-error").is_displayed()
        assert summary.find_elements(By.CSS_SELECTOR, "a[href='#rule-threshold']")
        assert_no_violations(admin, "alerts-form-errors")
    admin.save_screenshot(str(artifacts / "alerts-02-form-errors.png"))
    assert not [rule for rule in setup["api"].call("GET", "/api/alert-rules?limit=200")["data"] if rule["name"] == RULE_NAME]


def test_rule_fires_and_is_acknowledged(admin, setup, artifacts):
    api, ids, base = setup["api"], setup["ids"], setup["server"].base
    open_alerts(admin, base, "ar")
    fill_rule(admin, ids, RULE_NAME, "2")
    wait(admin).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice-success")))
    rule = [row for row in api.call("GET", "/api/alert-rules?limit=200")["data"] if row["name"] == RULE_NAME]
    assert rule and rule[0]["channels"] == [{"integration_id": ids["slack"]}], rule
    assert admin.find_elements(By.CSS_SELECTOR, f"[data-testid='alert-rule-row'][data-public-id='{rule[0]['id']}']")

    # Break the integration: a token WhatsApp does not know; Test connection fails.
    api.call("PATCH", f"/api/integrations/{ids['whatsapp']}", {"config": {"access_token": "not-the-access-token"}})
    admin.get(f"{base}/settings/integrations/{ids['whatsapp']}?lang=ar")
    before = len(admin.find_elements(*by_testid("test-log-row")))
    admin.find_element(*by_testid("test-connection")).click()
    wait(admin, 60).until(lambda d: len(d.find_elements(*by_testid("test-log-row"))) > before)
    result = wait(admin).until(EC.presence_of_element_located(by_testid("test-result")))
    assert result.get_attribute("data-status") == "failed"

    # The scheduler's checks keep failing; its evaluation fires the alert (deadline: a few 10 s intervals).
    deadline = time.monotonic() + 180
    fired = []
    while not fired:
        fired = [row for row in api.call("GET", "/api/alerts?state=open&limit=200")["data"] if row["rule_name"] == RULE_NAME]
        if fired:
            break
        assert time.monotonic() < deadline, (
            "no alert fired within 180 s: is the scheduler evaluating alert rules? "
            f"open alerts: {api.call('GET', '/api/alerts?state=open')['data']}")
        time.sleep(1)
    alert_id = fired[0]["id"]
    assert fired[0]["integration_id"] == ids["whatsapp"]

    for lang in ("en", "ar"):
        open_alerts(admin, base, lang)
        row = admin.find_element(By.CSS_SELECTOR, f"[data-testid='alert-row'][data-public-id='{alert_id}']")
        assert row.get_attribute("data-state") == "open"
        assert_no_violations(admin, "alerts-with-data")
    admin.save_screenshot(str(artifacts / "alerts-03-open.png"))

    # Acknowledge from the keyboard.
    button = admin.find_element(By.CSS_SELECTOR, f"[data-testid='alert-row'][data-public-id='{alert_id}'] [data-testid='acknowledge-alert']")
    button.send_keys(Keys.ENTER)
    wait(admin).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice-success")))
    row = admin.find_element(By.CSS_SELECTOR, f"[data-testid='alert-row'][data-public-id='{alert_id}']")
    assert row.get_attribute("data-acknowledged") == "true"
    assert row.get_attribute("data-state") == "open"
    assert not row.find_elements(*by_testid("acknowledge-alert"))
    assert_no_violations(admin, "alerts-acknowledged")
    admin.save_screenshot(str(artifacts / "alerts-04-acknowledged.png"))
    acknowledged = api.call("GET", f"/api/alerts/{alert_id}")
    assert acknowledged["acknowledged_at"]

    # A wrong token is not an expired one; an expiry the admin enters (in five days) shows on the Integrations tab.
    assert api.call("GET", f"/api/integrations/{ids['whatsapp']}")["credentials_expire_at"] is None
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    api.call("PATCH", f"/api/integrations/{ids['whatsapp']}", {"credentials_expire_at": soon})
    admin.get(f"{base}/settings/integrations?lang=en")
    whatsapp = admin.find_element(By.CSS_SELECTOR, f"[data-testid='integration-row'][data-public-id='{ids['whatsapp']}']")
    assert whatsapp.find_elements(*by_testid("credentials-expiry"))
    assert admin.find_elements(*by_testid("upcoming-expiries"))
    assert_no_violations(admin, "integrations-expired")
