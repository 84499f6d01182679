"""Accessibility check of the page in the browser with axe-core 4.x (the copy shipped inside the
`axe-playwright-python` wheel): WCAG 2.0, 2.1 and 2.2 levels A and AA. A page with violations fails the test
with one line per violation, and its full axe result is kept as JSON in the artifacts folder.
MOEEN_AXE_REPORT_ONLY=1 prints the violations and keeps the JSON without failing (to survey every page at once)."""
import json
import os
import re
from functools import lru_cache
from pathlib import Path

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MOEEN_E2E_ARTIFACTS") or ROOT / "e2e" / "artifacts")


@lru_cache(maxsize=1)
def axe_source():
    import axe_playwright_python
    path = Path(axe_playwright_python.__file__).resolve().parent / "axe.min.js"
    source = path.read_text(encoding="utf-8")
    version = re.search(r"axe v(\d+)\.", source[:200])
    assert version and version.group(1) == "4", f"expected axe-core 4.x in {path}"
    return source


def run_axe(driver, tags=WCAG_TAGS):
    """Injects axe (once per page) and returns its result for the whole document."""
    if not driver.execute_script("return typeof window.axe !== 'undefined' && typeof window.axe.run === 'function'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    outcome = driver.execute_async_script("""
        const tags = arguments[0];
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
          .then(result => done({ok: true, result: result}))
          .catch(error => done({ok: false, error: String(error && error.stack || error)}));
    """, list(tags))
    assert outcome and outcome.get("ok"), f"axe did not run: {outcome and outcome.get('error')}"
    return outcome["result"]


def describe(violations, label):
    lines = []
    for violation in violations:
        targets = [" ".join(str(part) for part in node.get("target", [])) for node in violation.get("nodes", [])]
        lines.append(f"[{label}] {violation['id']} ({violation.get('impact')}): {violation.get('help')}"
                     f" — {len(targets)} node(s): {'; '.join(targets)}")
    return "\n".join(lines)


def assert_no_violations(driver, label):
    """Fails when axe finds WCAG 2.x A/AA violations on the current page. `label` names the page state;
    the page's language (html lang) is added to it."""
    lang = driver.execute_script("return document.documentElement.getAttribute('lang')") or "?"
    full_label = f"{label} [lang={lang}]"
    result = run_axe(driver)
    violations = result.get("violations", [])
    if violations:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"axe-{label}-{lang}").strip("-")
        (ARTIFACTS / f"{name}.json").write_text(json.dumps({
            "label": full_label, "url": driver.current_url, "testEngine": result.get("testEngine"),
            "violations": violations}, ensure_ascii=False, indent=2), encoding="utf-8")
        message = (f"axe found {len(violations)} WCAG A/AA violation(s) on {driver.current_url}"
                   f" ({full_label}):\n" + describe(violations, full_label))
        if os.environ.get("MOEEN_AXE_REPORT_ONLY"):
            print("\n" + message)
            return
        raise AssertionError(message)
