"""matcalc serve in a real browser (issue 18): headless Chromium (the
operating system's package) driven by Playwright for Python against a live
uvicorn server.  Each state is saved as a screenshot in tests/artifacts/web/
(or $MATCALC_ARTIFACTS).  Skips, saying why, where the web extra,
Playwright or Chromium is missing."""
import os
import shutil
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install '.[web]')")
uvicorn = pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install '.[web]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

from matcalc.faces.web.app import create_app  # noqa: E402 - after the importorskips of the web extra and Playwright

ROOT = Path(__file__).resolve().parents[1]
CS224N = (ROOT / "tests" / "data" / "cs224n.mc").read_text()
CHROMIUM = os.environ.get("MATCALC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("MATCALC_ARTIFACTS") or ROOT / "tests" / "artifacts") / "web"
WAIT = 90_000  # ms: the first derivation waits for a worker to load matcalc on a busy machine


@pytest.fixture(scope="module")
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(create_app(workers=2, timeout=60), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(600):
        if srv.started:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server did not start")
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as err:  # noqa: BLE001 - a browser that does not start is a skip
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {err}")
        yield b
        b.close()


class Page:
    """A page that records every request and fails the test on one to any
    host but the server (page.route sees them all, fonts included)."""

    def __init__(self, browser, server, width=1200, height=900, bypass_csp=False):
        self.server = server
        self.context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True,
                                           bypass_csp=bypass_csp)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
        self.page = self.context.new_page()
        self.requests, self.outside, self.errors = [], [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith((self.server + "/", "data:", "blob:")) or url == self.server:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def goto(self, query=""):
        self.page.goto(self.server + "/" + query)
        return self.page

    def close(self):
        self.context.close()
        assert self.outside == [], f"requests to other hosts: {self.outside}"
        assert self.errors == [], f"script errors: {self.errors}"


@pytest.fixture
def tab(browser, server):
    t = Page(browser, server)
    yield t
    t.close()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def math_text(page, selector) -> str:
    """The typeset math's content as KaTeX's MathML spells it (δ1, ∂J∂W)."""
    return page.locator(f"{selector} .katex-mathml math").all_text_contents()


def fractions(page, selector) -> list[str]:
    return page.eval_on_selector_all(f"{selector} .katex-mathml mfrac", "els => els.map(e => e.textContent)")


def derive(page, program, wrt, order="gradient", keyboard=False):
    page.fill("#f", program)
    page.fill("#wrt", wrt)
    page.select_option("#order", order)
    if keyboard:
        page.focus("#f")
        page.keyboard.press("Control+Enter")
    else:
        page.click("#derive")


def wait_result(page):
    page.wait_for_selector("#derivation .katex", timeout=WAIT)


def test_cs224n_program_derives_with_delta_terms(tab):
    page = tab.goto()
    derive(page, CS224N, "W", keyboard=True)  # Ctrl+Enter submits
    wait_result(page)
    text = " ".join(math_text(page, "#derivation"))
    assert "δ1" in text and "δ2" in text
    assert "∂J∂W" in fractions(page, "#derivation")  # \frac{∂J}{∂W}
    assert page.text_content("#check").startswith("check ok")
    assert "xᵀ δ2" in page.text_content("#text")  # the CLI's text output, under "as text"
    page.click("#steps summary")
    steps = " ".join(math_text(page, "#steps-body"))
    assert "chain rule" in steps and "∂J∂θ" in fractions(page, "#steps-body")
    assert "def gradients(" in page.text_content("#numpy")
    page.click("#copy-numpy")
    page.wait_for_selector("#copy-numpy:text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == page.text_content("#numpy")
    shot(page, "cs224n")
    # downloads: the numpy module, the JSON document, the LaTeX
    for button, suffix, needle in [("#download-numpy", ".py", "def gradients("),
                                   ("#download-json", ".json", '"gradients"'),
                                   ("#download-latex", ".tex", r"\begin{align*}")]:
        with page.expect_download() as info:
            page.click(button)
        download = info.value
        assert download.suggested_filename.endswith(suffix)
        assert needle in Path(download.path()).read_text()
    assert any(r.endswith(".woff2") for r in tab.requests), "KaTeX's fonts come from the server"


def test_a_hessian(tab):
    page = tab.goto()
    derive(page, "x: (n, 1)\nJ = xᵀ A x", "x", order="hessian")
    wait_result(page)
    assert "∂2J∂x2" in fractions(page, "#derivation")  # \frac{∂²J}{∂x²}
    assert "Hessian" in " ".join(math_text(page, "#derivation"))
    assert page.text_content("#check").startswith("check ok")
    assert "def hessians(" in page.text_content("#numpy")
    shot(page, "hessian")


def test_an_error_shows_its_caret_next_to_the_input(tab):
    page = tab.goto()
    derive(page, "x: (1, D)\nJ = sum(x W +)", "W")
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT)
    message = page.text_content("#error")
    assert message.startswith("ParseError") and "line 2" in message
    lines = message.split("\n")
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1].strip() == "J = sum(x W +)"
    assert lines[caret - 1][lines[caret].index("^")] == ")"  # the caret under the spot
    assert page.is_hidden("#result")
    assert "invalid" in page.get_attribute("#f", "class")
    # the editor's cursor moved to the spot
    cursor = page.eval_on_selector("#f", "e => e.selectionStart")
    assert "x: (1, D)\nJ = sum(x W +)"[cursor] == ")"
    shot(page, "error")


def test_a_shared_url_reproduces_the_result(tab, browser, server):
    problem = "sum(relu(xW + b1))"  # a reading decided for the user: the read as row says so
    page = tab.goto()
    derive(page, problem, "W")
    wait_result(page)
    first = math_text(page, "#derivation")
    assert "read as" in " ".join(first) and "split into" in " ".join(first)
    url = page.url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["wrt"] == ["W"] and query["f"] == [problem]
    other = Page(browser, server)
    try:
        again = other.page
        again.goto(url)  # nothing typed: the URL carries the problem
        wait_result(again)
        assert again.input_value("#f") == problem
        assert math_text(again, "#derivation") == first
        shot(again, "shared-url")
    finally:
        other.close()


def test_the_answer_panel_marks_a_transposed_answer_as_a_layout_mistake(tab):
    answer = r"d = (ŷ - y) Uᵀ ∘ step(z); d^\top \mathbf{x}"  # a helper line, then LaTeX
    query = urllib.parse.urlencode({"f": CS224N, "wrt": "W", "answer": answer})
    page = tab.goto("?" + query)
    page.wait_for_selector("#verdict:not([hidden])", timeout=WAIT)
    assert page.get_attribute("#verdict", "data-kind") == "transpose"
    assert "layout mistake" in page.text_content("#verdict")
    page.wait_for_selector("#answer-preview .katex", timeout=WAIT)  # the answer, rendered live
    preview = " ".join(math_text(page, "#answer-preview"))
    assert "step" in preview and "x" in preview
    shot(page, "answer-transpose")
    # typing the right answer and Ctrl+Enter: right
    page.fill("#answer", "xᵀ ((ŷ − y) Uᵀ ∘ step(z))")
    page.focus("#answer")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#verdict.right", timeout=WAIT)
    assert page.get_attribute("#verdict", "data-kind") == "correct"


def test_phone_width(browser, server):
    t = Page(browser, server, width=390, height=844)
    try:
        query = urllib.parse.urlencode({"f": CS224N, "wrt": "W,U"})
        page = t.goto("?" + query)
        wait_result(page)
        # the page itself does not scroll sideways (wide math scrolls in its box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#derive").bounding_box()
        assert box["width"] > 300  # a full-width button to tap
        shot(page, "phone")
    finally:
        t.close()


def test_no_request_leaves_the_server(tab, browser, server):
    """Every test's page fails on a request to another host (``Page``); here
    a problem whose answer names another host loads nothing from it, and
    the interception is shown to catch a request that does leave."""
    query = urllib.parse.urlencode({"f": "tr(A X B)", "wrt": "X", "answer": "https://example.org/x.png"})
    page = tab.goto("?" + query)
    wait_result(page)
    page.wait_for_selector("#verdict:not([hidden]), #answer-error:not([hidden])", timeout=WAIT)
    assert tab.requests and all(r.startswith(server + "/") for r in tab.requests)
    # the page's Content-Security-Policy would stop such a fetch first: without it, the route sees it
    probe = Page(browser, server, bypass_csp=True)
    probe.goto()
    probe.page.evaluate("fetch('https://example.org/').catch(() => null)")
    probe.page.wait_for_timeout(300)
    assert probe.outside == ["https://example.org/"]
    probe.outside.clear()
    probe.close()
