"""End to end: the playground's page in real headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium) against ``tapegrad playground`` started on a free local port.

Skipped where Chromium, its driver or Selenium is missing (``.ci/run`` installs them).
"""

import shutil
import tempfile
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from playground_helpers import Server, run_program  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Chromium and chromedriver "
                                "(Debian: apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server():
    with Server("--max-trainings", "8") as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tapegrad-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1200", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def js(driver, expr):
    return driver.execute_script(f"return {expr};")


def until(driver, expr, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = js(driver, expr)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expr}; status {js(driver, 'window.playground.status')}")


def set_field(driver, element_id, value, field, expected):
    """Type or pick a value in a form field as a learner does; wait for the new model of that configuration."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    el = driver.find_element("id", element_id)
    if el.tag_name == "select":
        Select(el).select_by_visible_text(value)
    else:
        el.send_keys(Keys.CONTROL, "a")  # select what is there, to type over it
        el.send_keys(str(value), Keys.TAB)  # leaving the field sends it
    until(driver, f"window.playground.config.{field} === {expected!r} && window.playground.data && "
                  "window.playground.status === 'ready' && window.playground.pictures")


def load(driver, server):
    driver.get(server.url + "/")
    until(driver, "window.playground && window.playground.status === 'ready' && window.playground.pictures")


def train(driver):
    driver.find_element("id", "train").click()
    until(driver, "window.playground.status === 'done'")


def test_page_loads_without_console_errors(server, browser):
    load(browser, server)
    assert errors(browser) == []
    assert browser.title == "tapegrad playground"
    assert js(browser, "document.querySelectorAll('#network canvas').length") == 16  # 2 hidden layers of 8 units
    assert "model.fit(" in browser.find_element("id", "code").text


def test_train_lowers_the_loss_and_changes_the_boundary(server, browser):
    load(browser, server)
    set_field(browser, "epochs", 40, "epochs", 40)
    set_field(browser, "speed", "as fast as it trains", "speed", 0)
    before = js(browser, "document.getElementById('boundary').toDataURL()")
    train(browser)
    loss = js(browser, "window.playground.history.loss")
    initial = js(browser, "window.playground.initial.loss")
    assert len(loss) == 40 and loss[-1] < 0.6 * initial
    assert js(browser, "document.getElementById('boundary').toDataURL()") != before
    assert float(browser.find_element("id", "loss").text) == pytest.approx(loss[-1], abs=1e-4)
    assert errors(browser) == []


def test_a_too_large_learning_rate_makes_the_loss_rise(server, browser):
    load(browser, server)
    set_field(browser, "speed", "as fast as it trains", "speed", 0)
    set_field(browser, "epochs", 20, "epochs", 20)
    set_field(browser, "learning_rate", 10, "learning_rate", 10)
    train(browser)
    loss = js(browser, "window.playground.history.loss")
    assert loss[-1] > js(browser, "window.playground.initial.loss")


def test_code_panel_program_reproduces_the_losses(server, browser, tmp_path):
    load(browser, server)
    set_field(browser, "speed", "as fast as it trains", "speed", 0)
    set_field(browser, "dropout", 0.1, "dropout", 0.1)
    set_field(browser, "epochs", 10, "epochs", 10)
    train(browser)
    code = browser.find_element("id", "code").text
    assert "Dropout(0.1)" in code and "epochs=10" in code
    got = list(zip(js(browser, "window.playground.history.loss"), js(browser, "window.playground.history.val_loss")))
    np.testing.assert_allclose(got, run_program(code + "\n", tmp_path), atol=2e-6)


def test_a_bad_request_gets_its_4xx(server, browser):
    load(browser, server)
    answer = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        window.playground.api('PUT', `/api/sessions/${window.playground.session}/config`,
                              {...window.playground.config, learning_rate: -1})
          .then(() => done(null), (e) => done([e.status, e.field, e.message]));""")
    assert answer[0] == 422 and answer[1] == "learning_rate" and "learning_rate" in answer[2]
    # and through the form: the field is marked and the message names it
    from selenium.webdriver.common.keys import Keys

    el = browser.find_element("id", "batch_size")
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys("9999", Keys.TAB)
    until(browser, "!document.getElementById('message').hidden")
    assert browser.find_element("id", "message").text.startswith("batch_size:")
    assert "invalid" in el.get_attribute("class")


def test_perceptron_shows_its_loss_landscape(server, browser):
    load(browser, server)
    assert js(browser, "document.getElementById('landscape').hidden")
    for _ in range(2):
        gen = js(browser, "window.playground.generation")
        browser.find_element("id", "remove-layer").click()
        until(browser, f"window.playground.generation > {gen} && window.playground.pictures")
    until(browser, "window.playground.pictures.landscape !== null")
    assert not js(browser, "document.getElementById('landscape').hidden")
    browser.find_element("id", "step").click()
    until(browser, "window.playground.epoch === 1 && window.playground.status === 'paused' "
                   "&& window.playground.pictures.landscape.path.length > 1")
    png = js(browser, "window.playground.picturesPNG().toDataURL('image/png')")
    assert png.startswith("data:image/png;base64,") and len(png) > 5000
