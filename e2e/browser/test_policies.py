"""Delivery policies in a real browser: the quiet hours on the General tab (an admin saves them from the keyboard,
then sends the form with mistakes and reads the errors next to the fields and in the summary), the opt-outs page
under the Messages tab (staff add one taken by phone, which cancels the recipient's queued message, a viewer sees
it masked, staff remove it), and an integration's sending state (an SMS integration with a wrong token pauses after
its first send). Every page state reached is checked with axe-core (WCAG 2.x A/AA) in Arabic and English."""
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from axe import assert_no_violations
from page import by_testid, html_lang, switch_language, wait

ADMIN_EMAIL = "policies-admin@example.org"
STAFF_EMAIL = "policies-staff@example.org"
VIEWER_EMAIL = "policies-viewer@example.org"
PASSWORD = "e2e policies password"
OPTED_OUT = "+966551230001"
OPTED_OUT_LOCAL = "0551230001"


def create_user(server, email, role):
    created = server.moeen("users", "create", "--email", email, "--name", f"Policies {role}", "--role", role,
                           "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr


def sign_in(driver, server, email):
    driver.delete_all_cookies()
    driver.get(server.base + "/login?lang=ar")
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(*by_testid("login-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-general")))


def press(driver, element):
    """Activates a button or link from the keyboard."""
    element.send_keys(Keys.ENTER)


def tick(element, wanted):
    """Sets a checkbox from the keyboard (space toggles it)."""
    if element.is_selected() != wanted:
        element.send_keys(Keys.SPACE)
    assert element.is_selected() == wanted


def retype(element, text):
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


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


@pytest.fixture(scope="module")
def policies(server, sandbox):
    """Users of three roles, an admin's API client, and an SMS integration of this module's own pointed at the
    stand-in (so nothing here depends on the other modules)."""
    for email, role in ((ADMIN_EMAIL, "admin"), (STAFF_EMAIL, "staff"), (VIEWER_EMAIL, "viewer")):
        create_user(server, email, role)
    issued = server.moeen("tokens", "create", "--email", ADMIN_EMAIL, "--name", "e2e policies")
    assert issued.returncode == 0, issued.stderr
    api = API(server.base, issued.stdout.strip().splitlines()[-1])
    settings = sandbox["sms"]["settings"]
    sms = api.call("POST", "/api/integrations", {
        "integration_type": "sms", "name": "SMS (policies)", "is_enabled": True, "config": settings}, expect=201)["public_id"]
    yield {"api": api, "sms": sms, "settings": settings}
    # Leave the centre as the other modules expect it: no quiet hours, nobody opted out.
    api.call("PUT", "/api/settings/delivery", {"quiet_hours": {"enabled": False, "start": "21:00", "end": "08:00"}})
    for row in api.call("GET", "/api/opt-outs?limit=200")["data"]:
        if row["address"] == OPTED_OUT:
            api.call("DELETE", f"/api/opt-outs/{row['public_id']}", expect=204)


def open_general(driver):
    driver.find_element(*by_testid("tab-general")).click()
    return wait(driver).until(EC.presence_of_element_located(by_testid("quiet-hours")))


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_quiet_hours_on_the_general_tab(driver, server, policies, artifacts, lang):
    """An admin turns quiet hours on for Thursday and Friday nights from the keyboard, then sends the form with no
    day and an unknown time zone: the page comes back with each error next to its field and in a summary."""
    api = policies["api"]
    sign_in(driver, server, ADMIN_EMAIL)
    switch_language(driver, lang)
    open_general(driver)
    assert html_lang(driver) == lang
    assert driver.find_element(*by_testid("quiet-hours-summary")).get_attribute("data-enabled") == "off"
    assert_no_violations(driver, "settings-general-quiet-hours")

    form = driver.find_element(*by_testid("quiet-hours-form"))
    tick(form.find_element(By.ID, "qh-enabled"), True)
    for day in ("sun", "mon", "tue", "wed", "thu", "fri", "sat"):
        tick(form.find_element(By.ID, f"qh-day-{day}"), day in ("thu", "fri"))
    retype(form.find_element(By.ID, "qh-timezone"), "Asia/Riyadh")
    press(driver, driver.find_element(*by_testid("save-quiet-hours")))
    notice = wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    assert "notice-success" in notice.get_attribute("class") and notice.get_attribute("role") == "status"
    summary = driver.find_element(*by_testid("quiet-hours-summary"))
    assert summary.get_attribute("data-enabled") == "on"
    days = driver.find_element(*by_testid("quiet-hours-days")).text
    assert ("Thursday" in days and "Friday" in days) if lang == "en" else ("الخميس" in days and "الجمعة" in days)
    stored = api.call("GET", "/api/settings/delivery")["quiet_hours"]
    assert stored["enabled"] is True and stored["days"] == ["thu", "fri"], stored
    assert_no_violations(driver, "settings-general-quiet-hours-saved")
    driver.save_screenshot(str(artifacts / f"14-quiet-hours-saved-{lang}.png"))

    # Mistakes: no day ticked, a time zone that does not exist.
    form = driver.find_element(*by_testid("quiet-hours-form"))
    for day in ("thu", "fri"):
        tick(form.find_element(By.ID, f"qh-day-{day}"), False)
    retype(form.find_element(By.ID, "qh-timezone"), "Mars/Olympus")
    press(driver, driver.find_element(*by_testid("save-quiet-hours")))
    errors = wait(driver).until(EC.presence_of_element_located(by_testid("form-errors")))
    assert errors.get_attribute("role") == "alert"
    targets = [link.get_attribute("href").split("#")[-1] for link in errors.find_elements(By.TAG_NAME, "a")]
    assert targets == ["qh-day-sun", "qh-timezone"], targets
    assert driver.find_element(By.CSS_SELECTOR, "[data-field='days']").is_displayed()
    timezone_input = driver.find_element(By.ID, "qh-timezone")
    assert timezone_input.get_attribute("aria-invalid") == "true"
    assert timezone_input.get_attribute("value") == "Mars/Olympus"
    assert "qh-timezone-error" in timezone_input.get_attribute("aria-describedby")
    # The summary above the form still shows what is saved.
    assert driver.find_element(*by_testid("quiet-hours-summary")).get_attribute("data-enabled") == "on"
    assert_no_violations(driver, "settings-general-quiet-hours-errors")
    driver.save_screenshot(str(artifacts / f"15-quiet-hours-errors-{lang}.png"))
    # The summary's link takes the keyboard to the field.
    press(driver, errors.find_elements(By.TAG_NAME, "a")[-1])
    wait(driver).until(lambda d: d.switch_to.active_element.get_attribute("id") == "qh-timezone")
    assert api.call("GET", "/api/settings/delivery")["quiet_hours"]["timezone"] == "Asia/Riyadh"

    api.call("PUT", "/api/settings/delivery", {"quiet_hours": {"enabled": False, "start": "21:00", "end": "08:00"}})
    switch_language(driver, "ar")


def open_opt_outs(driver):
    driver.find_element(*by_testid("tab-messages")).click()
    link = wait(driver).until(EC.presence_of_element_located(by_testid("opt-outs-link")))
    press(driver, link)
    return wait(driver).until(EC.presence_of_element_located(by_testid("opt-outs-page")))


def opt_out_rows(driver):
    return driver.find_elements(*by_testid("opt-out-row"))


def test_opt_outs_page(driver, server, policies, artifacts):
    """Staff record an opt-out taken by phone (the recipient's queued message is cancelled and the notice says
    so), see a mistake explained, a viewer reads the opt-out masked, and staff remove it."""
    api = policies["api"]
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    queued = api.call("POST", "/api/messages", {
        "channel": "sms", "to": OPTED_OUT, "text": "تذكير بموعد الجلسة", "integration_config_id": policies["sms"],
        "scheduled_at": tomorrow}, expect=202)["public_id"]

    sign_in(driver, server, STAFF_EMAIL)
    open_opt_outs(driver)
    assert driver.find_element(*by_testid("tab-messages")).get_attribute("aria-current") == "page"
    assert_no_violations(driver, "opt-outs")

    # A mistake first: not a phone number.
    form = driver.find_element(*by_testid("opt-out-form"))
    channel = form.find_element(By.ID, "opt-out-channel")
    channel.find_element(By.CSS_SELECTOR, "option[value='sms']").click()
    form.find_element(By.ID, "opt-out-address").send_keys("call me")
    press(driver, driver.find_element(*by_testid("add-opt-out")))
    errors = wait(driver).until(EC.presence_of_element_located(by_testid("form-errors")))
    assert [a.get_attribute("href").split("#")[-1] for a in errors.find_elements(By.TAG_NAME, "a")] == ["opt-out-address"]
    address = driver.find_element(By.ID, "opt-out-address")
    assert address.get_attribute("aria-invalid") == "true" and address.get_attribute("value") == "call me"
    assert_no_violations(driver, "opt-outs-errors")
    switch_language(driver, "en")
    form = driver.find_element(*by_testid("opt-out-form"))
    form.find_element(By.ID, "opt-out-address").send_keys("not a number either")
    press(driver, driver.find_element(*by_testid("add-opt-out")))
    wait(driver).until(EC.presence_of_element_located(by_testid("form-errors")))
    assert html_lang(driver) == "en"
    assert_no_violations(driver, "opt-outs-errors")
    driver.save_screenshot(str(artifacts / "16-opt-outs-errors-en.png"))
    switch_language(driver, "ar")

    # Taken by phone: the local form of the number, the prefilled reason.
    form = driver.find_element(*by_testid("opt-out-form"))
    form.find_element(By.CSS_SELECTOR, "#opt-out-channel option[value='sms']").click()
    retype(form.find_element(By.ID, "opt-out-address"), OPTED_OUT_LOCAL)
    assert form.find_element(By.ID, "opt-out-reason").get_attribute("value")
    press(driver, driver.find_element(*by_testid("add-opt-out")))
    notice = wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    assert "notice-success" in notice.get_attribute("class")
    assert notice.text.strip().endswith("1"), notice.text
    rows = opt_out_rows(driver)
    assert len(rows) == 1 and rows[0].get_attribute("data-channel") == "sms"
    assert rows[0].find_element(*by_testid("opt-out-address")).text == OPTED_OUT
    assert api.call("GET", f"/api/messages/{queued}")["status"] == "cancelled"
    assert_no_violations(driver, "opt-outs-one")
    driver.save_screenshot(str(artifacts / "17-opt-outs-ar.png"))
    switch_language(driver, "en")
    assert_no_violations(driver, "opt-outs-one")
    driver.save_screenshot(str(artifacts / "17-opt-outs-en.png"))
    switch_language(driver, "ar")

    # A viewer reads it masked, without forms.
    sign_in(driver, server, VIEWER_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        open_opt_outs(driver)
        shown = opt_out_rows(driver)[0].find_element(*by_testid("opt-out-address")).text
        assert "•" in shown and OPTED_OUT not in driver.page_source
        assert not driver.find_elements(*by_testid("opt-out-form"))
        assert not driver.find_elements(*by_testid("remove-opt-out"))
        assert_no_violations(driver, "opt-outs-viewer")
    switch_language(driver, "ar")

    # Staff remove it from the keyboard.
    sign_in(driver, server, STAFF_EMAIL)
    open_opt_outs(driver)
    press(driver, opt_out_rows(driver)[0].find_element(*by_testid("remove-opt-out")))
    notice = wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    assert "notice-success" in notice.get_attribute("class")
    assert not opt_out_rows(driver)
    assert driver.find_elements(*by_testid("opt-outs-empty"))
    assert not [row for row in api.call("GET", "/api/opt-outs")["data"] if row["address"] == OPTED_OUT]
    assert_no_violations(driver, "opt-outs-removed")


def test_integration_sending_state(driver, server, policies, artifacts):
    """An SMS integration with a wrong token fails its first send (a credentials failure opens the circuit breaker
    at once): its page shows the sending state as paused (or half-open once the pause is over) with the reason;
    the working one shows active."""
    api = policies["api"]
    bad = api.call("POST", "/api/integrations", {
        "integration_type": "sms", "name": "SMS (policies, wrong token)", "is_enabled": True,
        "config": {**policies["settings"], "auth_token": "not-the-auth-token"}}, expect=201)["public_id"]
    sent = api.call("POST", "/api/messages", {
        "channel": "sms", "to": "+966551230002", "text": "Session reminder", "priority": "urgent",
        "integration_config_id": bad}, expect=202)["public_id"]
    api.wait_for(f"/api/messages/{sent}", lambda m: m["status"] == "failed", "the message through the wrong token")
    state = api.wait_for(f"/api/integrations/{bad}", lambda i: i["delivery_state"] != "active",
                         "the integration's delivery state")["delivery_state"]
    assert state in ("paused", "half_open"), state

    sign_in(driver, server, ADMIN_EMAIL)
    for lang in ("ar", "en"):
        switch_language(driver, lang)
        driver.get(server.base + f"/settings/integrations/{bad}")
        badge = wait(driver).until(EC.presence_of_element_located(by_testid("delivery-state")))
        assert badge.get_attribute("data-state") in ("paused", "half_open")
        assert badge.text.strip()
        assert driver.find_element(*by_testid("delivery-state-reason")).text.strip()
        assert_no_violations(driver, "integration-sending-paused")
        driver.save_screenshot(str(artifacts / f"18-integration-paused-{lang}.png"))
        driver.get(server.base + f"/settings/integrations/{policies['sms']}")
        badge = wait(driver).until(EC.presence_of_element_located(by_testid("delivery-state")))
        assert badge.get_attribute("data-state") == "active"
        assert not driver.find_elements(*by_testid("delivery-state-until"))
        assert_no_violations(driver, "integration-sending-active")
    switch_language(driver, "ar")
