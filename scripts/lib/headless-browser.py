#!/usr/bin/python3
"""Drives headless Chromium through the DevTools protocol over a pipe, for the dashboard's browser tests.

Usage: headless-browser.py URL STEP... [--timeout SECONDS]

Opens URL in a fresh profile, then runs each step in order against the page:
  wait:JS    evaluate JS every 100 ms until it is truthy (a step that never gets there fails the run)
  run:JS     evaluate JS once (a promise is awaited)
  print:JS   evaluate JS and print its value as one line of JSON
  mark:TEXT  print "mark TEXT" (a test waits for it before acting)
  png:PATH   save a PNG of the whole page at PATH (1280 pixels wide)
Output is flushed line by line; the exit status is 0 when every step passed. A page that is navigating is
waited for: an evaluation interrupted by a navigation is tried again.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()

        def pipes_as_3_and_4():
            # Chromium reads commands from fd 3 and writes replies to fd 4 (dup'd first, as 3 and 4 may be taken).
            read, write = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.profile = tempfile.mkdtemp(prefix="phoenix-browser-")
        self.process = subprocess.Popen(
            ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=pipes_as_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.pending = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.pending:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self.pending += chunk
            line, self.pending = self.pending.split(b"\0", 1)
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply["result"]

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]

    def evaluate(self, expression):
        """The value of `expression` in the page; raises when it throws or the page is between documents."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return reply["result"].get("value")

    def screenshot(self, path):
        """Saves the whole page, 1280 pixels wide, as a PNG."""
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
        image = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(image))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        subprocess.run(["rm", "-rf", self.profile])


def main(arguments):
    timeout = 30.0
    if "--timeout" in arguments:
        index = arguments.index("--timeout")
        timeout = float(arguments[index + 1])
        del arguments[index:index + 2]
    url, steps = arguments[0], arguments[1:]
    browser = Browser()
    try:
        browser.open(url)
        for step in steps:
            kind, _, argument = step.partition(":")
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if kind == "mark":
                        print("mark " + argument, flush=True)
                    elif kind == "wait":
                        if not browser.evaluate(argument):
                            raise RuntimeError("not yet")
                    elif kind == "run":
                        browser.evaluate(argument)
                    elif kind == "print":
                        print(json.dumps(browser.evaluate(argument)), flush=True)
                    elif kind == "png":
                        browser.screenshot(argument)
                    else:
                        raise SystemExit(f"unknown step {kind!r}: use wait:, run:, print:, mark: or png:")
                    break
                except RuntimeError as error:
                    if time.monotonic() > deadline:
                        print(f"step failed after {timeout:.0f} s: {step[:200]}: {error}", flush=True)
                        return 1
                    time.sleep(0.1)
        return 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
