"""Webhooks in a real browser: a WhatsApp integration of this module's own pointed at the stand-in, a message sent
through it, then over HTTP to the running server a status webhook for that message signed with the integration's
app secret, one request with a bad signature, and a patient's reply. The integration's page lists the events with
their outcomes and counts the refused request; the inbound replies page under the Messages tab shows the reply
(masked for a viewer). Every page state reached is checked with axe-core (WCAG 2.x A/AA) in Arabic and English."""
import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from axe import assert_no_violations
from page import by_testid, switch_language, wait

ADMIN_EMAIL = "webhooks-admin@example.org"
VIEWER_EMAIL = "webhooks-viewer@example.org"
PASSWORD = "e2e webhooks password"
APP_SECRET = "e2e-app-secret-" + uuid.uuid4().hex
RECIPIENT = "+966551239001"
REPLY_FROM = "966551239002"
REPLY_TEXT = "شكراً، سأحضر الجلسة"


def create_user(server, email, role):
    created = server.moeen("users", "create", "--email", email, "--name", f"Webhooks {role}", "--role", role,
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


def press(element):
    """Activates a button or link from the keyboard."""
    element.send_keys(Keys.ENTER)


class API:
    def __init__(self, base, token):
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, expect=200):
        res = requests.request(method, self.base + path, headers=self.headers, json=body, timeout=30)
        assert res.status_code == expect, f"{method} {path}: {res.status_code} {res.text}"
        return res.json() if res.content else None

    def wait_for(self, path, predicate, what, seconds=60):
        """Reads `path` until `predicate` holds for its answer, with a deadline."""
        deadline = time.monotonic() + seconds
        while True:
            answer = self.call("GET", path)
            if predicate(answer):
                return answer
            assert time.monotonic() < deadline, f"{what}: still {answer}"
            time.sleep(0.2)


def notification(value):
    """A WhatsApp Business Account notification carrying `value` (statuses or messages)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA_ID", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000001", "phone_number_id": "100000000000001"}, **value}}]}]}


def post_webhook(server, integration, payload, secret):
    """POSTs the notification's exact bytes with `X-Hub-Signature-256` computed over them with `secret`."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    signature = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return requests.post(f"{server.base}/webhooks/whatsapp/{integration}", data=body, timeout=30,
                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


@pytest.fixture(scope="module")
def hooks(server, sandbox):
    """Users, an admin's API client, a WhatsApp integration on the stand-in with this module's app secret, and one
    message sent through it (its WhatsApp message id known)."""
    for email, role in ((ADMIN_EMAIL, "admin"), (VIEWER_EMAIL, "viewer")):
        create_user(server, email, role)
    issued = server.moeen("tokens", "create", "--email", ADMIN_EMAIL, "--name", "e2e webhooks")
    assert issued.returncode == 0, issued.stderr
    api = API(server.base, issued.stdout.strip().splitlines()[-1])
    integration = api.call("POST", "/api/integrations", {
        "integration_type": "whatsapp", "name": "WhatsApp (webhooks)", "is_enabled": True,
        "config": {**sandbox["whatsapp"]["settings"], "app_secret": APP_SECRET}}, expect=201)["public_id"]
    message = api.call("POST", "/api/messages", {
        "channel": "whatsapp", "to": RECIPIENT, "text": "تذكير بموعد الجلسة", "priority": "urgent",
        "integration_config_id": integration}, expect=202)["public_id"]
    sent = api.wait_for(f"/api/messages/{message}", lambda m: m["status"] == "sent" and m.get("provider_message_id"),
                        "the message through the stand-in")
    return {"api": api, "integration": integration, "message": message, "wamid": sent["provider_message_id"]}


@pytest.fixture(scope="module")
def received(server, hooks):
    """The webhooks: a signed `delivered` status for the message, the same with a bad signature (refused), and a
    signed reply; processed (each event has its outcome)."""
    api, integration = hooks["api"], hooks["integration"]
    status = notification({"statuses": [{"id": hooks["wamid"], "status": "delivered", "timestamp": str(int(time.time())),
                                         "recipient_id": RECIPIENT.lstrip("+")}]})
    assert post_webhook(server, integration, status, APP_SECRET).status_code == 200
    refused = post_webhook(server, integration, status, "not-the-app-secret")
    assert refused.status_code == 401, refused.text
    reply = notification({
        "contacts": [{"profile": {"name": "Patient"}, "wa_id": REPLY_FROM}],
        "messages": [{"from": REPLY_FROM, "id": "wamid.e2e-reply-" + uuid.uuid4().hex, "timestamp": str(int(time.time())),
                      "type": "text", "text": {"body": REPLY_TEXT}}]})
    assert post_webhook(server, integration, reply, APP_SECRET).status_code == 200
    events = api.wait_for(f"/api/integrations/{integration}/webhook-events",
                          lambda page: len(page["data"]) == 2 and all(e.get("outcome") for e in page["data"]),
                          "the webhook events' processing")
    assert events["rejected_signatures"] == 1
    assert api.call("GET", f"/api/messages/{hooks['message']}")["status"] == "delivered"
    return events


def open_integration(driver, server, integration):
    """The Integrations tab, then the integration's own row, from the keyboard."""
    driver.find_element(*by_testid("tab-integrations")).click()
    row = wait(driver).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f"[data-testid='integration-row'][data-public-id='{integration}']")))
    press(row.find_element(*by_testid("integration-link")))
    return wait(driver).until(EC.presence_of_element_located(by_testid("webhook-events")))


def open_inbound(driver):
    driver.find_element(*by_testid("tab-messages")).click()
    press(wait(driver).until(EC.presence_of_element_located(by_testid("inbound-link"))))
    return wait(driver).until(EC.presence_of_element_located(by_testid("inbound-page")))


def test_before_any_webhook(driver, server, hooks, artifacts):
    """Nothing received yet: the integration's page says so and counts no refused request; the inbound replies
    page is reachable from the Messages tab."""
    sign_in(driver, server, ADMIN_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_integration(driver, server, hooks["integration"])
        assert driver.find_elements(*by_testid("webhook-events-empty"))
        assert not driver.find_elements(*by_testid("webhook-event-row"))
        assert driver.find_element(*by_testid("webhook-rejections")).get_attribute("data-count") == "0"
        assert_no_violations(driver, "integration-webhook-events-empty")
        driver.save_screenshot(str(artifacts / f"20-webhook-events-empty-{lang}.png"))
        open_inbound(driver)
        assert driver.find_element(*by_testid("tab-messages")).get_attribute("aria-current") == "page"
        if hooks["api"].call("GET", "/api/inbound-messages")["data"]:
            assert driver.find_elements(*by_testid("inbound-row"))
        else:
            assert driver.find_elements(*by_testid("inbound-empty"))
        assert_no_violations(driver, "inbound-replies-before")
    switch_language(driver, "ar")


def test_events_and_refused_request_on_the_integration_page(driver, server, hooks, received, artifacts):
    """The status and the reply, newest first with their outcomes in words; the refused request counted with its
    time; the provider's event ids; no number or text of the payloads."""
    sign_in(driver, server, ADMIN_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_integration(driver, server, hooks["integration"])
        rows = driver.find_elements(*by_testid("webhook-event-row"))
        assert [r.get_attribute("data-outcome") for r in rows] == ["inbound", "applied"], [r.get_attribute("outerHTML") for r in rows]
        assert rows[1].get_attribute("data-event-type") == "status.delivered"
        assert hooks["wamid"] in rows[1].find_element(*by_testid("webhook-event-id")).text
        for row in rows:
            assert row.find_element(*by_testid("webhook-event-outcome")).text.strip()
        rejections = driver.find_element(*by_testid("webhook-rejections"))
        assert rejections.get_attribute("data-count") == "1"
        assert rejections.find_elements(By.TAG_NAME, "time")
        assert REPLY_TEXT not in driver.page_source and REPLY_FROM not in driver.page_source
        assert_no_violations(driver, "integration-webhook-events")
        # The link beside the webhook URL leads to the events.
        press(driver.find_element(*by_testid("webhook-events-link")))
        wait(driver).until(lambda d: d.current_url.endswith("#webhook-events"))
        driver.save_screenshot(str(artifacts / f"21-webhook-events-{lang}.png"))
    switch_language(driver, "ar")


def test_inbound_replies_page(driver, server, received, artifacts):
    """The reply on the inbound replies page, for an admin with the number and for a viewer masked."""
    sign_in(driver, server, ADMIN_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_inbound(driver)
        rows = [r for r in driver.find_elements(*by_testid("inbound-row"))
                if r.find_element(*by_testid("inbound-from")).text == "+" + REPLY_FROM]
        assert len(rows) == 1
        assert rows[0].get_attribute("data-channel") == "whatsapp"
        assert rows[0].get_attribute("data-opt-out-action") == "none"
        assert rows[0].find_element(*by_testid("inbound-text")).text == REPLY_TEXT
        assert not driver.find_elements(By.CSS_SELECTOR, "main form")
        assert_no_violations(driver, "inbound-replies")
        driver.save_screenshot(str(artifacts / f"22-inbound-replies-{lang}.png"))
    switch_language(driver, "ar")

    sign_in(driver, server, VIEWER_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_inbound(driver)
        senders = [r.find_element(*by_testid("inbound-from")).text for r in driver.find_elements(*by_testid("inbound-row"))]
        assert senders and all("•" in sender for sender in senders), senders
        assert REPLY_FROM not in driver.page_source
        assert_no_violations(driver, "inbound-replies-viewer")
    driver.save_screenshot(str(artifacts / "23-inbound-replies-viewer.png"))
    switch_language(driver, "ar")
