"""The Bridge's chat page in a real browser: Debian's Chromium, headless, driven by Playwright."""

import os

import pytest
from playwright.sync_api import sync_playwright

from conftest import env

CHROMIUM = "/usr/bin/chromium"


def test_chat_page_answers():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: scripts/install-deps.sh installs it (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page_errors = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            response = page.goto(env("CRYNUX_ROOT_URL") + "/")
            headers = response.headers
            assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), headers
            assert headers.get("x-content-type-options") == "nosniff", headers
            # The key is typed in; it stays in this tab's sessionStorage, never in localStorage or the address bar.
            page.fill("#api-key", env("CRYNUX_API_KEY"))
            page.dispatch_event("#api-key", "change")
            page.wait_for_selector("#model option", state="attached", timeout=30_000)
            assert page.evaluate("localStorage.getItem('crynux-api-key')") is None
            assert page.evaluate("sessionStorage.getItem('crynux-api-key')") == env("CRYNUX_API_KEY")
            assert "key=" not in page.url
            page.fill("#prompt", "Say hello.")
            page.click("#send")
            answer = page.wait_for_selector('.msg.assistant[data-done="true"]', state="attached", timeout=90_000)
            error = answer.get_attribute("data-error")
            assert error is None, f"the answer failed: data-error={error!r}, text {answer.inner_text()!r}"
            assert answer.inner_text().strip(), "the answer is empty"
            status = page.inner_text("#status")
            assert "done" in status.lower(), f"#status says {status!r}"
            assert not page_errors, f"uncaught errors in the page: {page_errors}"
        finally:
            browser.close()
