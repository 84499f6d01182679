"""The Messages tab (الرسائل) in a real browser: messages created through the API (an SMS integration pointed at
the SMS stand-in, and a second one with a wrong token so a message fails), listed with their states in Arabic
and English, a message's page with its events, Cancel and Retry pressed from the keyboard, and a viewer who
sees recipients masked and no buttons. Every page state reached is checked with axe-core (WCAG 2.x A/AA)."""
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from axe import assert_no_violations
from page import by_testid, html_lang, switch_language, wait

OPS_EMAIL = "messages-admin@example.org"
MANAGER_EMAIL = "messages-manager@example.org"
VIEWER_EMAIL = "messages-viewer@example.org"
PASSWORD = "e2e messages password"
SENT_TO = "+966551234567"
FAILED_TO = "+966551234568"


def create_user(server, email, role):
    created = server.moeen("users", "create", "--email", email, "--name", f"Messages {role}", "--role", role,
                           "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr


def sign_in(driver, server, email):
    driver.delete_all_cookies()
    driver.get(server.base + "/login?lang=ar")
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(*by_testid("login-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-messages")))


def open_messages(driver):
    driver.find_element(*by_testid("tab-messages")).click()
    wait(driver).until(lambda d: d.find_element(*by_testid("tab-messages")).get_attribute("aria-current") == "page")


def row(driver, public_id):
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid='message-row'][data-public-id='{public_id}']")


class API:
    def __init__(self, base, token):
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, expect=200):
        res = requests.request(method, self.base + path, headers=self.headers, json=body, timeout=30)
        assert res.status_code == expect, f"{method} {path}: {res.status_code} {res.text}"
        return res.json()

    def send(self, integration, to, **extra):
        body = {"channel": "sms", "to": to, "text": "تذكير بموعد الجلسة غداً", "integration_config_id": integration, **extra}
        return self.call("POST", "/api/messages", body, expect=202)["public_id"]

    def status(self, public_id):
        return self.call("GET", f"/api/messages/{public_id}")["status"]

    def wait_for(self, public_id, wanted, seconds=60):
        """Waits (with a deadline) until the dispatcher has moved the message to one of `wanted`."""
        deadline = time.monotonic() + seconds
        while True:
            status = self.status(public_id)
            if status in wanted:
                return status
            assert time.monotonic() < deadline, f"message {public_id} is still {status}, expected {wanted}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def outbox(server, sandbox):
    """An admin's API client, the SMS integrations and three messages: sent, failed (wrong token) and queued
    (scheduled for tomorrow)."""
    create_user(server, OPS_EMAIL, "admin")
    issued = server.moeen("tokens", "create", "--email", OPS_EMAIL, "--name", "e2e messages")
    assert issued.returncode == 0, issued.stderr
    api = API(server.base, issued.stdout.strip().splitlines()[-1])
    settings = sandbox["sms"]["settings"]
    seeded = [row for row in api.call("GET", "/api/integrations?limit=200")["data"] if row["integration_type"] == "sms"]
    assert seeded, "no SMS integration is seeded"
    good = seeded[0]["public_id"]
    api.call("PATCH", f"/api/integrations/{good}", {"config": settings, "is_enabled": True})
    bad = api.call("POST", "/api/integrations", {
        "integration_type": "sms", "name": "SMS (wrong token)", "is_enabled": True,
        "config": {**settings, "auth_token": "not-the-auth-token"}}, expect=201)["public_id"]
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    messages = {
        "sent": api.send(good, SENT_TO),
        "failed": api.send(bad, FAILED_TO),
        "queued": api.send(good, SENT_TO, scheduled_at=tomorrow),
    }
    assert api.wait_for(messages["sent"], {"sent", "delivered"}) in ("sent", "delivered")
    assert api.wait_for(messages["failed"], {"failed"}) == "failed"
    assert api.status(messages["queued"]) == "queued"
    create_user(server, MANAGER_EMAIL, "manager")
    create_user(server, VIEWER_EMAIL, "viewer")
    return {"api": api, "messages": messages, "bad_integration": bad, "settings": settings}


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_messages_list_and_detail(driver, server, outbox, artifacts, lang):
    """The list with each message's state, then the failed message's page with its events."""
    messages = outbox["messages"]
    sign_in(driver, server, MANAGER_EMAIL)
    switch_language(driver, lang)
    open_messages(driver)
    assert html_lang(driver) == lang
    for state, public_id in messages.items():
        status = row(driver, public_id).get_attribute("data-status")
        assert status == state or (state == "sent" and status == "delivered"), f"{public_id}: {status}"
    failed_row = row(driver, messages["failed"])
    assert failed_row.find_elements(*by_testid("retry-message"))
    assert not failed_row.find_elements(*by_testid("cancel-message"))
    assert row(driver, messages["queued"]).find_elements(*by_testid("cancel-message"))
    assert SENT_TO in row(driver, messages["sent"]).find_element(*by_testid("message-recipient")).text
    assert_no_violations(driver, "settings-messages")
    driver.save_screenshot(str(artifacts / f"10-messages-{lang}.png"))

    # The filters: a plain GET form.
    driver.find_element(By.CSS_SELECTOR, "#filter-status option[value='failed']").click()
    driver.find_element(*by_testid("apply-filters")).click()
    wait(driver).until(lambda d: "status=failed" in d.current_url)
    statuses = {r.get_attribute("data-status") for r in driver.find_elements(*by_testid("message-row"))}
    assert statuses == {"failed"}
    assert_no_violations(driver, "settings-messages-filtered")
    driver.find_element(*by_testid("clear-filters")).click()
    wait(driver).until(lambda d: "status=" not in d.current_url)

    row(driver, messages["failed"]).find_element(*by_testid("message-link")).click()
    page = wait(driver).until(EC.presence_of_element_located(by_testid("message-page")))
    assert page.get_attribute("data-status") == "failed"
    events = [e.get_attribute("data-status") for e in driver.find_elements(*by_testid("message-event-row"))]
    assert events[0] == "queued" and events[-1] == "failed" and "sending" in events, events
    assert driver.find_elements(*by_testid("retry-message"))
    assert_no_violations(driver, "message-detail")
    driver.save_screenshot(str(artifacts / f"11-message-failed-{lang}.png"))
    switch_language(driver, "ar")


def test_cancel_and_retry_from_the_keyboard(driver, server, outbox, artifacts):
    """Cancel on the list and Retry on the message's page, each pressed with Enter; the notice is announced
    (role=status) and the state changes."""
    api, messages = outbox["api"], outbox["messages"]
    sign_in(driver, server, MANAGER_EMAIL)
    open_messages(driver)

    cancel = row(driver, messages["queued"]).find_element(*by_testid("cancel-message"))
    cancel.send_keys(Keys.ENTER)
    notice = wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    assert "notice-success" in notice.get_attribute("class")
    assert notice.get_attribute("role") == "status"
    assert row(driver, messages["queued"]).get_attribute("data-status") == "cancelled"
    assert not row(driver, messages["queued"]).find_elements(*by_testid("cancel-message"))
    assert api.status(messages["queued"]) == "cancelled"
    assert_no_violations(driver, "settings-messages-cancelled")
    switch_language(driver, "en")
    assert_no_violations(driver, "settings-messages-cancelled")

    # Put the right token back, then retry the failed message from its page: it is sent this time.
    api.call("PATCH", f"/api/integrations/{outbox['bad_integration']}", {"config": {"auth_token": outbox["settings"]["auth_token"]}})
    row(driver, messages["failed"]).find_element(*by_testid("message-link")).send_keys(Keys.ENTER)
    wait(driver).until(EC.presence_of_element_located(by_testid("message-page")))
    driver.find_element(*by_testid("retry-message")).send_keys(Keys.ENTER)
    notice = wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    assert "notice-success" in notice.get_attribute("class")
    assert_no_violations(driver, "message-retried")
    assert api.wait_for(messages["failed"], {"sent", "delivered"}) in ("sent", "delivered")
    driver.refresh()
    page = wait(driver).until(EC.presence_of_element_located(by_testid("message-page")))
    assert page.get_attribute("data-status") in ("sent", "delivered")
    sources = [e.get_attribute("data-source") for e in driver.find_elements(*by_testid("message-event-row"))]
    assert "operator" in sources
    assert not driver.find_elements(*by_testid("retry-message"))
    # The 401 from before is history now: a failed event, not the message's current error.
    statuses = [e.get_attribute("data-status") for e in driver.find_elements(*by_testid("message-event-row"))]
    assert "failed" in statuses
    assert not driver.find_elements(*by_testid("message-last-error"))
    assert_no_violations(driver, "message-sent-after-retry")
    driver.save_screenshot(str(artifacts / "12-message-retried.png"))
    switch_language(driver, "ar")
    assert_no_violations(driver, "message-sent-after-retry")


def test_viewer_sees_masked_recipients(driver, server, outbox, artifacts):
    messages = outbox["messages"]
    sign_in(driver, server, VIEWER_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_messages(driver)
        assert driver.find_elements(*by_testid("message-row"))
        assert not driver.find_elements(*by_testid("retry-message"))
        assert not driver.find_elements(*by_testid("cancel-message"))
        recipient = row(driver, messages["sent"]).find_element(*by_testid("message-recipient")).text
        assert "•" in recipient and recipient != SENT_TO
        assert SENT_TO not in driver.page_source and FAILED_TO not in driver.page_source
        assert_no_violations(driver, "settings-messages-viewer")
        row(driver, messages["failed"]).find_element(*by_testid("message-link")).click()
        wait(driver).until(EC.presence_of_element_located(by_testid("message-page")))
        assert FAILED_TO not in driver.page_source
        assert not driver.find_elements(*by_testid("retry-message"))
        assert_no_violations(driver, "message-viewer")
    driver.save_screenshot(str(artifacts / "13-messages-viewer.png"))
    switch_language(driver, "ar")
