"""The admin pages in a real browser: first admin from the setup link, sign-in, the Integrations tab,
WhatsApp settings pointing at the local stand-in, save, test connection (success, then a bad token
showing the provider's message), the log and health, the English switch, and a viewer who cannot save.
Every page state reached is checked with axe-core for WCAG 2.x A/AA violations, in Arabic and English."""
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from axe import assert_no_violations
from page import by_testid, html_lang, wait

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "e2e admin password"
SETTINGS_TABS = ("general", "integrations", "messages", "users", "alerts", "security")
VIEWER_EMAIL = "viewer@example.org"
VIEWER_PASSWORD = "e2e viewer password"


def shot(driver, artifacts, name):
    driver.save_screenshot(str(artifacts / f"{name}.png"))


def sign_in(driver, server, email, password):
    driver.get(server.base + "/login")
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(*by_testid("login-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-integrations")))


def open_whatsapp(driver):
    driver.find_element(*by_testid("tab-integrations")).click()
    row = wait(driver).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='integration-row'][data-type='whatsapp']")))
    row.find_element(*by_testid("integration-link")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("integration-form")))


def switch_language(driver, lang):
    """Follows the page's own language link (which keeps the address) unless the page is in `lang` already."""
    if html_lang(driver) != lang:
        driver.find_element(*by_testid("language-switch")).click()
        wait(driver).until(lambda d: html_lang(d) == lang)


def fill(driver, name, value):
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def run_test(driver):
    """Presses Test connection and waits for a new result to be shown."""
    before = len(driver.find_elements(*by_testid("test-log-row")))
    driver.find_element(*by_testid("test-connection")).click()
    wait(driver, 30).until(lambda d: len(d.find_elements(*by_testid("test-log-row"))) > before)
    return wait(driver).until(EC.presence_of_element_located(by_testid("test-result")))


@pytest.fixture(scope="module")
def admin_session(driver, server, artifacts):
    driver.delete_all_cookies()
    driver.get(server.setup_link)
    wait(driver).until(EC.presence_of_element_located(by_testid("setup-form")))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert_no_violations(driver, "setup")
    shot(driver, artifacts, "01-setup")
    # The setup form with its errors shown (passwords that do not match), English then Arabic.
    for lang in ("en", "ar"):
        driver.get(server.setup_link + f"&lang={lang}")
        form = wait(driver).until(EC.presence_of_element_located(by_testid("setup-form")))
        assert html_lang(driver) == lang
        if lang == "en":
            assert_no_violations(driver, "setup")
        form.find_element(By.ID, "name").send_keys("x")
        form.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
        form.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
        form.find_element(By.ID, "password_confirmation").send_keys(ADMIN_PASSWORD + " typo")
        driver.find_element(*by_testid("setup-submit")).click()
        wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".field-error")))
        assert_no_violations(driver, "setup-errors")
    driver.get(server.setup_link + "&lang=ar")
    form = wait(driver).until(EC.presence_of_element_located(by_testid("setup-form")))
    form.find_element(By.ID, "name").send_keys("مدير النظام")
    form.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    form.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    form.find_element(By.ID, "password_confirmation").send_keys(ADMIN_PASSWORD)
    driver.find_element(*by_testid("setup-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("setup-done")))
    assert_no_violations(driver, "setup-done")
    driver.find_element(*by_testid("go-to-login")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    assert_no_violations(driver, "login")
    switch_language(driver, "en")
    assert_no_violations(driver, "login")
    switch_language(driver, "ar")
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    driver.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    driver.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    shot(driver, artifacts, "02-login")
    driver.find_element(*by_testid("login-submit")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-integrations")))
    assert "/settings" in driver.current_url
    assert_no_violations(driver, "settings-general")
    return driver


def test_whatsapp_save_and_test_connection(admin_session, server, sandbox, artifacts):
    driver = admin_session
    settings = sandbox["whatsapp"]["settings"]
    open_whatsapp(driver)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ar"
    assert_no_violations(driver, "whatsapp-empty")
    for name, value in settings.items():
        if driver.find_elements(By.NAME, f"config.{name}"):
            fill(driver, f"config.{name}", value)
    driver.find_element(*by_testid("save-integration")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    page = driver.page_source
    assert settings["access_token"] not in page, "a stored secret appeared in the page"
    assert "…" + settings["access_token"][-4:] in page
    assert driver.find_elements(*by_testid("webhook-url"))
    assert_no_violations(driver, "whatsapp-saved")
    shot(driver, artifacts, "03-whatsapp-saved")

    result = run_test(driver)
    wait(driver).until(lambda d: d.find_element(*by_testid("test-result")).get_attribute("data-status") == "success")
    result = driver.find_element(*by_testid("test-result"))
    assert result.get_attribute("data-status") == "success"
    rows = driver.find_elements(*by_testid("test-log-row"))
    assert len(rows) >= 1 and rows[0].get_attribute("data-status") == "success"
    score = driver.find_element(By.CSS_SELECTOR, ".page-head [data-testid='health-score']")
    assert int(score.get_attribute("data-score")) > 0
    assert driver.find_elements(By.CSS_SELECTOR, "[data-testid='health-chart'] svg")
    assert_no_violations(driver, "whatsapp-test-success")
    shot(driver, artifacts, "04-whatsapp-test-success")

    # The integrations list shows the result and health too.
    driver.find_element(*by_testid("tab-integrations")).click()
    row = wait(driver).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='integration-row'][data-type='whatsapp']")))
    assert int(row.find_element(*by_testid("health-score")).get_attribute("data-score")) > 0
    assert_no_violations(driver, "settings-integrations")
    shot(driver, artifacts, "05-integrations-list")


def test_bad_token_shows_provider_message(admin_session, server, artifacts):
    driver = admin_session
    open_whatsapp(driver)
    fill(driver, "config.access_token", "not-a-valid-token")
    driver.find_element(*by_testid("save-integration")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("notice")))
    run_test(driver)
    wait(driver).until(lambda d: d.find_element(*by_testid("test-result")).get_attribute("data-status") == "failed")
    message = driver.find_element(*by_testid("test-result")).text
    assert "Invalid OAuth access token" in message
    rows = driver.find_elements(*by_testid("test-log-row"))
    assert rows[0].get_attribute("data-status") == "failed"
    assert "Invalid OAuth access token" in rows[0].text
    assert_no_violations(driver, "whatsapp-test-failed")
    shot(driver, artifacts, "06-whatsapp-test-failed")


def test_test_connection_without_javascript(admin_session, server):
    """The same button posts a plain form when script is off: the page comes back with the result."""
    driver = admin_session
    open_whatsapp(driver)
    before = len(driver.find_elements(*by_testid("test-log-row")))
    driver.execute_script("document.querySelector(\"[data-testid='test-form']\").submit()")  # bypasses the script's handler
    wait(driver, 30).until(lambda d: len(d.find_elements(*by_testid("test-log-row"))) > before)
    assert driver.find_element(*by_testid("test-result")).get_attribute("data-status") in ("success", "failed", "timeout")
    assert_no_violations(driver, "whatsapp-test-no-script")


def test_english_switch(admin_session, artifacts):
    driver = admin_session
    open_whatsapp(driver)
    driver.find_element(*by_testid("language-switch")).click()
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "ltr"
    assert driver.find_element(*by_testid("test-connection")).text == "Test connection"
    assert_no_violations(driver, "whatsapp-test-result")
    shot(driver, artifacts, "07-whatsapp-english")
    driver.find_element(*by_testid("tab-integrations")).click()  # remembered on the next page
    wait(driver).until(EC.presence_of_element_located(by_testid("integration-row")))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert_no_violations(driver, "settings-integrations")
    driver.find_element(*by_testid("language-switch")).click()
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ar")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_settings_tabs_accessible(admin_session, lang):
    """Every settings tab, in each language, as the admin sees it."""
    driver = admin_session
    driver.find_element(*by_testid("tab-general")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("tab-general")))
    switch_language(driver, lang)
    for tab in SETTINGS_TABS:
        driver.find_element(*by_testid(f"tab-{tab}")).click()
        wait(driver).until(lambda d: d.find_element(*by_testid(f"tab-{tab}")).get_attribute("aria-current") == "page")
        assert html_lang(driver) == lang
        assert_no_violations(driver, f"settings-{tab}")
    switch_language(driver, "ar")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_integration_form_errors_accessible(admin_session, server, lang, artifacts):
    """The integration form sent back with its errors shown (an empty name), in each language."""
    driver = admin_session
    open_whatsapp(driver)
    switch_language(driver, lang)
    fill(driver, "name", "")
    driver.find_element(*by_testid("save-integration")).click()
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='integration-form'] [aria-invalid='true']")))
    assert html_lang(driver) == lang
    assert_no_violations(driver, "whatsapp-form-errors")
    shot(driver, artifacts, f"09-whatsapp-form-errors-{lang}")
    # The page came back from a post: leave it for a plain page in Arabic (what the next tests expect).
    driver.get(server.base + "/settings?lang=ar")
    wait(driver).until(lambda d: html_lang(d) == "ar")


def test_viewer_cannot_save(admin_session, server, artifacts):
    driver = admin_session
    created = server.moeen("users", "create", "--email", VIEWER_EMAIL, "--name", "Viewer", "--role", "viewer",
                           "--password-stdin", stdin=VIEWER_PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    driver.find_element(*by_testid("sign-out")).click()
    wait(driver).until(EC.presence_of_element_located(by_testid("login-form")))
    sign_in(driver, server, VIEWER_EMAIL, VIEWER_PASSWORD)
    open_whatsapp(driver)
    assert not driver.find_elements(*by_testid("save-integration"))
    assert not driver.find_elements(*by_testid("test-connection"))
    assert_no_violations(driver, "whatsapp-viewer")
    switch_language(driver, "en")
    assert_no_violations(driver, "whatsapp-viewer")
    switch_language(driver, "ar")
    shot(driver, artifacts, "08-viewer")
    # Even a hand-made post with the viewer's own valid CSRF token is refused.
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const form = document.querySelector("[data-testid='integration-form']");
        const token = form.querySelector("input[name='csrf_token']").value;
        fetch(form.action, {method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/x-www-form-urlencoded"},
              body: new URLSearchParams({csrf_token: token, name: "changed by viewer"}).toString()})
          .then(r => done(r.status)).catch(() => done(0));
    """)
    assert status == 403
