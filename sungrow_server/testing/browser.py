"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium, with
what a page did on the network and in its console, for the tests of the server's pages."""

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Flags that keep a headless Chromium to itself: no sandbox (root), no GPU, and none of
# its own calls home (updates, sync, QUIC probes), so every request it makes is the page's.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is not installed (scripts/install-deps installs it)"
    return None


@dataclass
class Traffic:
    """The requests a page made, as Chromium's DevTools log saw them."""

    requests: dict[str, str] = field(default_factory=dict)  # request id -> URL
    status: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # request id -> error text
    transferred: dict[str, int] = field(default_factory=dict)  # bytes on the wire
    headers: dict[str, dict] = field(default_factory=dict)  # request headers sent

    def hosts(self) -> set[str]:
        """Every host:port the page asked for (data: and blob: URLs have none)."""
        return {urlsplit(u).netloc for u in self.requests.values() if urlsplit(u).netloc}

    def errors(self) -> dict[str, str]:
        """URL -> what went wrong, for each failed request or error status."""
        found = {self.requests.get(r, r): text for r, text in self.failed.items()}
        found.update({self.requests.get(r, r): str(s) for r, s in self.status.items() if s >= 400})
        return found

    def urls(self) -> list[str]:
        return list(self.requests.values())


class Browser:
    """One headless Chromium with a fresh profile; `close()` ends it and removes the profile."""

    def __init__(self, width: int = 1280, height: int = 900, host: str = "sungrow.test"):
        """`host` names this machine (127.0.0.1) for the browser; every other name fails
        to resolve, so nothing a page asks of another host can leave the machine. Pages
        that treat `localhost` and `127.0.0.1` specially (Swagger UI does) see a real name."""
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = Path(tempfile.mkdtemp(prefix="sungrow-chromium-"))
        self.downloads = self.profile / "downloads"
        self.downloads.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        rules = f"--host-resolver-rules=MAP {host} 127.0.0.1, MAP * ~NOTFOUND"
        own = (rules, f"--user-data-dir={self.profile}", f"--window-size={width},{height}")
        for flag in (*FLAGS, *own):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        prefs = {"download.default_directory": str(self.downloads)}
        options.add_experimental_option("prefs", {**prefs, "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.set_script_timeout(20)
        self.set_width(width, height)
        # Start from a blank page and forget what the start-up page loaded.
        self.driver.get("about:blank")
        self.console()
        self.traffic()

    def console(self) -> list[dict]:
        """Console messages since the last call (errors, CSP violations, failed loads)."""
        return self.driver.get_log("browser")

    def traffic(self) -> Traffic:
        """The network events since the last call."""
        seen = Traffic()
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            request_id = params.get("requestId")
            if method == "Network.requestWillBeSent":
                seen.requests[request_id] = params["request"]["url"]
                seen.headers[request_id] = params["request"].get("headers", {})
            elif method == "Network.responseReceived":
                seen.status[request_id] = params["response"]["status"]
            elif method == "Network.loadingFailed":
                seen.failed[request_id] = params.get("errorText", "failed")
            elif method == "Network.loadingFinished":
                seen.transferred[request_id] = int(params.get("encodedDataLength", 0))
        return seen

    def open(self, url: str) -> None:
        """Load `url` (also one that differs from the current one only in its fragment),
        after forgetting the console messages and requests of the page before."""
        self.driver.get("about:blank")
        self.console()
        self.traffic()
        self.driver.get(url)

    def forget_site_data(self, origin: str) -> None:
        """Empty what pages of `origin` stored in this browser (localStorage, cookies)."""
        self.driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
        )

    def js(self, script: str, *args):
        """The value of `script` (a function body: `return ...`) in the page."""
        return self.driver.execute_script(script, *args)

    def wait(self, script: str, *args, timeout: float = 10):
        """Wait until `script` returns something truthy, and return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {script}")
            time.sleep(0.05)

    def set_width(self, width: int, height: int = 900) -> None:
        """Lay pages out `width` CSS pixels wide (a phone's 360 too, which is narrower than
        a headless window can be)."""
        self.width, self.height = width, height
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )

    def screenshot(self, path: Path) -> Path:
        """The whole page (not just the window) at the current width, as a PNG."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.set_width(self.width, height)
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.set_width(self.width)
        return path

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
