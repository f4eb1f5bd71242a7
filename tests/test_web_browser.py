"""``matgrad serve`` in a real browser: headless Chromium driven by selenium.

Skips (with the reason) where Debian's ``chromium``/``chromium-driver`` or
selenium are missing; ``.ci/run`` installs them.  Screenshots go to the test's
``tmp_path``.  The expected heatmap structure, I ⊗ (A + Aᵀ), is derived by hand.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_api import running_server

from matgrad.web.server import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium "
                "chromium-driver; .ci/run installs them)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000",
]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(workers=2, time_limit=60.0) as s:
        yield s


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, condition: Any, seconds: float = 60) -> Any:
    return WebDriverWait(driver, seconds).until(condition)


def text_is(element_id: str, text: str) -> Any:
    return EC.text_to_be_present_in_element((By.ID, element_id), text)


def type_formula(driver: Any, text: str) -> None:
    box = driver.find_element(By.ID, "formula")
    box.clear()
    box.send_keys(text)


def pixel(driver: Any, row: int, col: int) -> list[int]:
    """The colour at the centre of a heatmap cell."""
    return list(driver.execute_script(
        """const c = document.getElementById('heatmap');
        const cell = c.width / parseInt(c.dataset.cols);
        const d = c.getContext('2d').getImageData(
            Math.floor((arguments[1] + 0.5) * cell), Math.floor((arguments[0] + 0.5) * cell), 1, 1
        ).data;
        return [d[0], d[1], d[2]];""", row, col))


def test_the_page_derives_checks_draws_and_names_mistakes(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    d = browser
    d.get(server.url)
    wait(d, lambda d: d.execute_script("return typeof katex") == "object")

    # the derivative of tr(XᵀAX) by X: rendered, checked, drawn
    type_formula(d, "tr(X'*A*X)")
    wait(d, lambda d: "X" in [o.get_attribute("value") for o in
                              Select(d.find_element(By.ID, "wrt")).options])
    Select(d.find_element(By.ID, "wrt")).select_by_value("X")
    wait(d, text_is("badge", "PASS"))
    assert d.find_element(By.ID, "shape").text == "(3, 3) = () + (3, 3)"
    rendered = d.find_element(By.ID, "result-math")
    assert rendered.find_elements(By.CSS_SELECTOR, ".katex .katex-html")
    assert "A" in rendered.text and "X" in rendered.text and "∂" in rendered.text
    assert d.find_element(By.ID, "formula-math").find_elements(By.CLASS_NAME, "katex")
    symbols = d.find_elements(By.CSS_SELECTOR, "#symbols tbody tr")
    assert [r.get_attribute("data-symbol") for r in symbols] == ["X", "A"]
    canvas = d.find_element(By.ID, "heatmap")
    assert canvas.get_attribute("data-drawn") == "1"
    assert (canvas.get_attribute("data-rows"), canvas.get_attribute("data-cols")) == ("1", "9")
    d.save_screenshot(str(tmp_path / "web-gradient.png"))

    # its Hessian: the heatmap shows I ⊗ (A + Aᵀ), off-diagonal 3×3 blocks white
    Select(d.find_element(By.ID, "order")).select_by_value("2")
    wait(d, lambda d: d.find_element(By.ID, "heatmap").get_attribute("data-rows") == "9")
    wait(d, text_is("badge", "PASS"))
    assert d.find_element(By.ID, "shape").text == "(3, 3, 3, 3) = () + (3, 3) + (3, 3)"
    white = [255, 255, 255]
    for block_row in range(3):
        for block_col in range(3):
            colours = [pixel(d, 3 * block_row + i, 3 * block_col + j)
                       for i in range(3) for j in range(3)]
            if block_row == block_col:
                assert any(c != white for c in colours), (block_row, block_col)
            else:
                assert all(c == white for c in colours), (block_row, block_col)
    d.find_element(By.CSS_SELECTOR, "button[data-copy=latex]").click()
    wait(d, text_is("copied", "copied"))
    d.save_screenshot(str(tmp_path / "web-hessian.png"))

    # an edited size: X is 3×2, so the Hessian is 6 × 6 (A stays 3×3)
    shape = d.find_element(By.CSS_SELECTOR, "#symbols tr[data-symbol=X] input.shape")
    shape.send_keys(Keys.CONTROL, "a")  # clear() would fire "change" and redraw the table
    shape.send_keys("3x2", Keys.TAB)
    wait(d, text_is("shape", "(3, 2, 3, 2) = () + (3, 2) + (3, 2)"))
    wait(d, lambda d: d.find_element(By.ID, "heatmap").get_attribute("data-rows") == "6")
    assert "shapes=X%3A3x2" in d.find_element(By.ID, "share").get_attribute("href")
    wait(d, text_is("badge", "PASS"))
    shape = d.find_element(By.CSS_SELECTOR, "#symbols tr[data-symbol=X] input.shape")
    shape.send_keys(Keys.CONTROL, "a")
    shape.send_keys("3x3", Keys.TAB)
    wait(d, text_is("shape", "(3, 3, 3, 3) = () + (3, 3) + (3, 3)"))

    # a broken formula: the parser's message with the caret under the place
    type_formula(d, "tr(X'*A*")
    error = d.find_element(By.ID, "formula-error")
    wait(d, lambda d: error.is_displayed() and "^" in error.text)
    lines = error.text.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.strip() == "tr(X'*A*")
    assert lines[shown + 1].index("^") - lines[shown].index("tr(") == 8
    assert "end of the expression" in error.text
    assert error.get_attribute("data-position") == "8"
    d.save_screenshot(str(tmp_path / "web-parse-error.png"))

    # check my derivative: A for d tr(AX)/dX is the transpose of the derivative
    type_formula(d, "tr(A*X)")
    wait(d, lambda d: not d.find_element(By.ID, "formula-error").is_displayed())
    d.find_element(By.ID, "mode-check").click()
    Select(d.find_element(By.ID, "order")).select_by_value("1")
    Select(d.find_element(By.ID, "wrt")).select_by_value("X")
    d.find_element(By.ID, "claim").send_keys("A")
    d.find_element(By.ID, "check-button").click()
    wait(d, text_is("verdict", "INCORRECT"))
    assert d.find_element(By.ID, "mistake").text == "mistake: transpose"
    assert "transpose of the derivative" in d.find_element(By.ID, "diagnosis").text
    d.save_screenshot(str(tmp_path / "web-check.png"))

    # the link restores the whole state
    link = d.find_element(By.ID, "share").get_attribute("href")
    assert "#" in link and "claim=A" in link and "mode=check" in link
    d.get("about:blank")
    d.get(link)
    wait(d, text_is("verdict", "INCORRECT"))
    assert d.find_element(By.ID, "formula").get_attribute("value") == "tr(A*X)"
    assert d.find_element(By.ID, "claim").get_attribute("value") == "A"

    # nothing was fetched from another host
    resources = d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(r.startswith(server.url) for r in resources), resources
