"""What the browser check scripts share: the page's console kept for failure reports, a
failure that prints it and exits 1, and a bounded wait on a condition in the page."""

import sys

from playwright.sync_api import Error as PlaywrightError

console = []
NAME = ["browser"]


def fail(message):
    print(f"{NAME[0]} check FAILED: {message}", file=sys.stderr)
    if console:
        print("browser console (last 40 lines):", file=sys.stderr)
        for line in console[-40:]:
            print(f"  {line}", file=sys.stderr)
    sys.exit(1)


def wait(page, what, expression, arg, timeout_s, polling=250, state=None):
    """Waits until `expression(arg)` is truthy in the page; its value, or fail() (with what
    `state()` says, when given)."""
    try:
        handle = page.wait_for_function(expression, arg=arg, timeout=timeout_s * 1000, polling=polling)
        return handle.json_value()
    except PlaywrightError as error:
        extra = f"; {state()}" if state else ""
        fail(f"{what} within {timeout_s} s ({str(error).splitlines()[0]}){extra}")
