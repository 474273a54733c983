#!/usr/bin/env python3
"""Opens the dashboard in Debian's Chromium (headless, driven by Playwright; never a
downloaded browser) and checks it while tests/dashboard_chromium.rs publishes a clip: the
stream is listed with the expected resolution, its live preview plays (currentTime
advances), and after the publish ends a finished recording is listed and plays in the page.
Saves screenshots. Exits 0 when all holds, 1 with a message naming the failed check."""

import argparse
import os
import sys
import time

from playwright.sync_api import sync_playwright

from checks import NAME, console, fail, wait

NAME[0] = "dashboard"


PLAYING = """([selector, after]) => {
  const video = document.querySelector(selector);
  return video && !video.error && video.currentTime > after ? video.currentTime : 0;
}"""


def check_plays(page, what, selector, timeout_s):
    """currentTime passes 0.2 s, then advances by at least one more second."""
    start = wait(page, f"{what}: {selector} starts playing", PLAYING, [selector, 0.2], timeout_s)
    later = wait(page, f"{what}: {selector} currentTime advances past {start + 1:.2f}", PLAYING,
                 [selector, start + 1.0], timeout_s)
    print(f"{what} plays: currentTime {start:.2f} -> {later:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the dashboard, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--stream", required=True, help="app/stream being published")
    parser.add_argument("--resolution", required=True, help="expected WIDTHxHEIGHT")
    parser.add_argument("--token", help="the API token to type into the page when it asks")
    parser.add_argument("--screenshot", required=True, help="PNG path (a second one gets -recording)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per check")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
    base, ext = os.path.splitext(args.screenshot)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--disable-gpu"],
            timeout=60_000,
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(args.timeout * 1000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(args.url)

            if args.token is not None:
                wait(page, "the page asks for the token", "() => !document.getElementById('login').hidden",
                     None, args.timeout)
                page.fill("#token", args.token)
                page.click("#login button[type=submit]")
                wait(page, "the token is accepted", "() => document.getElementById('login').hidden",
                     None, args.timeout)
                cookies = page.context.cookies()
                if any(c["name"] == "rtmp_token" and not c["httpOnly"] for c in cookies):
                    fail("the session cookie is not HttpOnly")

            card = f'article.card[data-stream="{args.stream}"]'
            shown = wait(page, f"{args.stream} listed with resolution {args.resolution}",
                         """([card, want]) => {
                           const dd = document.querySelector(card + ' dd.resolution');
                           return dd && dd.textContent === want ? dd.textContent : null;
                         }""", [card, args.resolution], args.timeout)
            print(f"listed: {args.stream} {shown}")
            check_plays(page, "live preview", f'video.preview[data-stream="{args.stream}"]', args.timeout)
            if page.locator(f"{card} .controls").is_hidden():
                fail("the controls are hidden although the API answers")
            for control in ("record", "kick", "reconnect"):
                if page.locator(f"{card} .controls button.{control}").count() != 1:
                    fail(f"no {control} control on the card")
            page.screenshot(path=args.screenshot, full_page=True)
            print(f"screenshot: {args.screenshot}")

            wait(page, f"{args.stream} leaves the list after the publish ends",
                 "(card) => !document.querySelector(card)", card, args.timeout * 3)
            selector = "li.recording[data-format=flv]:not([data-path$='.part'])"
            path = wait(page, "a finished FLV recording listed",
                        "(s) => { const li = document.querySelector(s); return li && li.dataset.path; }",
                        selector, args.timeout)
            print(f"recording listed: {path}")
            page.click(f"{selector} button.play")
            check_plays(page, "recording", "#recording-player", args.timeout)
            page.screenshot(path=f"{base}-recording{ext}", full_page=True)
        finally:
            browser.close()
    print("dashboard check passed")


if __name__ == "__main__":
    main()
