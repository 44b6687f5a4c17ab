"""What the browser tests share: the test users' password, logging in through the login form, and a
recorder of what the page got wrong (console errors, uncaught exceptions, Content-Security-Policy
violations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PASSWORD = "browser-test-pass-1"  # noqa: S105

# Added with context.add_init_script: it runs before any page script (Playwright's init scripts are not
# subject to the page's policy), so a violation during the first draw is caught too.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def log_in(page: Any, base: str, username: str, *, next_path: str = "") -> None:
    """Log `username` in through the login form and wait for the page it lands on (`next_path`, or home)."""
    page.goto(f"{base}/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=current-user]")


def watched_page(browser: Any, **context_options: Any) -> tuple[Any, Callable[[], list[str]]]:
    """A new page in its own context (1360 x 900 unless told), recording what it gets wrong, and the function
    that gives what it recorded (page_problems)."""
    context = browser.new_context(**{"viewport": {"width": 1360, "height": 900}, **context_options})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page, page_problems(page)


def page_problems(page: Any) -> Callable[[], list[str]]:
    """Start recording the page's console errors and uncaught exceptions; the function returned gives them,
    with the CSP violations of the current document (the page needs RECORD_VIOLATIONS), and forgets the
    console ones. Chromium also logs each violation as a console error, so one on an earlier document of
    the page is caught too."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

    def problems() -> list[str]:
        seen = list(errors)
        errors.clear()
        return seen + page.evaluate("window.__cspViolations || []")

    return problems
