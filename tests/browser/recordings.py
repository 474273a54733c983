#!/usr/bin/env python3
"""Plays recordings from the playback server in Debian's Chromium (headless, driven by
Playwright; never a downloaded browser), for tests/playback_chromium.rs: an MP4 recording
from /recordings/PATH plays (currentTime advances, videoWidth is the source's), a seek to
the middle lands within one GOP of it and playback goes on from there; an FLV recording
through ?format=mp4 plays and the duration the browser reads from its moov is the
recording's. Exits 0 when all holds, 1 with a message naming the failed check."""

import argparse
import sys

from playwright.sync_api import sync_playwright

from checks import NAME, console, fail
from checks import wait as page_wait

NAME[0] = "recordings"

VIDEO_STATE = """() => { const v = document.getElementById('v');
    return v ? {currentTime: v.currentTime, duration: v.duration, readyState: v.readyState,
                error: v.error && v.error.message, paused: v.paused} : null; }"""


def wait(page, what, expression, arg, timeout_s):
    """A wait whose failure also tells the video's state."""
    return page_wait(page, what, expression, arg, timeout_s, polling=100,
                     state=lambda: f"video: {page.evaluate(VIDEO_STATE)}")


LOAD = """(url) => {
  document.body.innerHTML = '';
  const video = document.createElement('video');
  video.id = 'v';
  video.muted = true;
  video.playsInline = true;
  video.preload = 'auto';
  window.seekedAt = null;
  video.addEventListener('seeked', () => { window.seekedAt = video.currentTime; });
  video.src = url;
  document.body.appendChild(video);
  video.play().catch((e) => console.log('play() refused: ' + e));
}"""

PLAYING = """(after) => {
  const v = document.getElementById('v');
  return v && !v.error && v.currentTime > after ? v.currentTime : 0;
}"""


def play(page, what, url, width, timeout_s):
    """Loads `url` into a fresh <video>, waits for 1 s of playback; returns its duration."""
    page.evaluate(LOAD, url)
    start = wait(page, f"{what} starts playing", PLAYING, 0.2, timeout_s)
    later = wait(page, f"{what} currentTime advances past {start + 1:.2f}", PLAYING, start + 1.0, timeout_s)
    shown = page.evaluate("() => document.getElementById('v').videoWidth")
    if shown != width:
        fail(f"{what}: videoWidth {shown}, the source's is {width}")
    duration = page.evaluate("() => document.getElementById('v').duration")
    print(f"{what} plays: currentTime {start:.2f} -> {later:.2f}, videoWidth {shown}, duration {duration}")
    return duration


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mp4", required=True, help="URL of an MP4 recording")
    parser.add_argument("--flv-as-mp4", required=True, help="URL of an FLV recording with ?format=mp4")
    parser.add_argument("--width", type=int, required=True, help="the source's video width")
    parser.add_argument("--gop", type=float, required=True, help="the source's keyframe interval, s")
    parser.add_argument("--duration", type=float, required=True, help="the recordings' duration, s")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per check")
    args = parser.parse_args()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--disable-gpu"],
            timeout=60_000,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(args.timeout * 1000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            # Same origin as the recordings (nothing else is needed from the page).
            page.goto(args.mp4.split("/recordings/")[0] + "/healthz")

            duration = play(page, "MP4 recording", args.mp4, args.width, args.timeout)
            if abs(duration - args.duration) > 0.5:
                fail(f"MP4 recording: duration {duration} s, the recording's is {args.duration} s")
            target = duration / 2
            page.evaluate("(t) => { window.seekedAt = null; document.getElementById('v').currentTime = t; }",
                          target)
            landed = wait(page, f"the seek to {target:.2f} s completes",
                          "() => window.seekedAt", None, args.timeout)
            if abs(landed - target) > args.gop:
                fail(f"the seek to {target:.2f} s landed at {landed:.2f} s, more than one GOP away")
            after = wait(page, f"playback goes on after the seek (past {landed + 1:.2f})", PLAYING,
                         landed + 1.0, args.timeout)
            print(f"seek to {target:.2f} s landed at {landed:.2f} s, plays on to {after:.2f} s")

            duration = play(page, "FLV recording as MP4", args.flv_as_mp4, args.width, args.timeout)
            if abs(duration - args.duration) > 0.5:
                fail(f"FLV as MP4: duration {duration} s from its moov, the recording's is {args.duration} s")
        finally:
            browser.close()
    print("recordings check passed")


if __name__ == "__main__":
    main()
