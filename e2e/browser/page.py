"""Small helpers every browser test uses: waits, the stable `data-testid` hooks, the page's language."""
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def wait(driver, seconds=20):
    return WebDriverWait(driver, seconds)


def by_testid(name):
    return (By.CSS_SELECTOR, f"[data-testid='{name}']")


def html_lang(driver):
    return driver.find_element(By.TAG_NAME, "html").get_attribute("lang")


def switch_language(driver, lang):
    """Switches with the page's own language link, unless the page is already in `lang`."""
    if html_lang(driver) != lang:
        driver.find_element(*by_testid("language-switch")).click()
        wait(driver).until(lambda d: html_lang(d) == lang)
