"""The demo page and /docs in a real browser: Debian's headless Chromium and chromedriver,
driven by Selenium, against a real uvicorn. Nothing is downloaded: given the driver's path,
Selenium skips its Selenium Manager (and SE_OFFLINE would keep that offline anyway).

Without them (apt-get install chromium chromium-driver) these tests skip, except in CI.
The screenshot is kept in the test's temporary folder: the run prints where.
"""

import json
import os
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ..conftest import copy_of, read_json, require, require_tool
from .conftest import service

pytestmark = pytest.mark.slow

API_KEY = "a-long-enough-browser-key-0123456789"
WAIT_S = 20


@pytest.fixture(scope="module")
def browser_tools():
    try:
        import selenium  # noqa: F401
    except ImportError:
        selenium = None
    require(selenium is not None, "selenium is not installed (make setup installs it)")
    # Debian's and Ubuntu's names; GitHub's Ubuntu runners carry Chrome and its driver.
    names = ("chromium", "chromium-browser", "google-chrome")
    chromium = next((shutil.which(name) for name in names if shutil.which(name)), None)
    require(
        chromium is not None, "Chromium is not installed (apt-get install chromium chromium-driver)"
    )
    return chromium, require_tool("chromedriver")


@pytest.fixture
def browser(browser_tools, monkeypatch):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_tools
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager: never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--window-size=1000,1400", "--disable-gpu"):
        options.add_argument(argument)
    # Chromium's own calls home (updates, metrics, safe browsing) would count as requests
    # to another host; the page's own would still show.
    for argument in ("--no-first-run", "--disable-background-networking", "--disable-sync"):
        options.add_argument(argument)
    if os.geteuid() == 0:  # Chromium's sandbox refuses root (CI containers run as root)
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def keyed_service(bundle_dir):
    with service(bundle_dir, API_KEY=API_KEY) as url:
        yield url


def wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition, message)


def visible(element_id: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    return expected_conditions.visibility_of_element_located((By.ID, element_id))


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def other_hosts(urls: list[str], base: str) -> list[str]:
    own = urlsplit(base).netloc
    return [url for url in urls if urlsplit(url).scheme != "data" and urlsplit(url).netloc != own]


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def predict_over_http(url: str, record: dict, key: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    request = urllib.request.Request(f"{url}/predict", json.dumps(record).encode(), headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def shown_answer(driver, previous: str | None = None) -> dict:
    """The answer the page shows once it changes from `previous`: the JSON it received,
    checked against what it displays."""
    from selenium.webdriver.common.by import By

    def fresh(driver):
        answer = driver.find_element(By.ID, "answer").get_attribute("data-answer")
        return answer if answer and answer != previous else False

    answer = json.loads(wait(driver, fresh, "the page showed no (new) answer"))
    prediction = driver.find_element(By.ID, "prediction").text
    if answer.get("probabilities") is not None:  # a class, as JavaScript writes it
        value = answer["prediction"]
        assert prediction == (value if isinstance(value, str) else json.dumps(value))
    else:  # a number, to 6 significant digits, with the test error as a ± band
        assert float(prediction.replace(",", "")) == pytest.approx(answer["prediction"], rel=1e-5)
        assert driver.find_element(By.ID, "band").text.startswith("± ")
    for name, share in (answer.get("probabilities") or {}).items():
        assert f"{share * 100:.1f}%" in driver.find_element(By.ID, "answer").text, name
    return answer


def submit(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "predict-button").click()


def open_demo(driver, url: str) -> None:
    driver.get(f"{url}/")
    wait(driver, visible("predict-section"), "the form never appeared")


def a_record_with_another_answer(url: str, bundle_dir: Path) -> tuple[int, object, dict]:
    """(field index, new value, the API's answer): a change of one number the model notices."""
    schema = read_json(bundle_dir, "schema.json")
    example = read_json(bundle_dir, "input_example.json")[0]
    before = predict_over_http(url, example)
    for index, feature in enumerate(schema["features"]):
        if feature["kind"] != "numeric":
            continue
        for value in (feature["min"], feature["max"]):
            answer = predict_over_http(url, example | {feature["name"]: value})
            if answer != before:
                return index, value, answer
    pytest.fail("no single number changes this model's answer for the example")


def test_the_demo_page_loads_with_no_console_error_and_no_request_to_another_host(
    browser, live_service
):
    url, _ = live_service
    open_demo(browser, url)
    wait(browser, visible("card-section"), "the model card never appeared")
    urls = requested_urls(browser)
    assert f"{url}/demo/demo.js" in urls and f"{url}/model-card" in urls
    assert other_hosts(urls, url) == []
    assert console_errors(browser) == []


def test_the_pre_filled_form_shows_the_same_answer_as_predict(
    browser, live_service, bundle_dir, tmp_path
):
    url, _ = live_service
    open_demo(browser, url)
    submit(browser)
    example = read_json(bundle_dir, "input_example.json")[0]
    assert shown_answer(browser) == predict_over_http(url, example)
    screenshot = tmp_path / "demo-page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"Screenshot of the demo page: {screenshot}")
    assert console_errors(browser) == [] and other_hosts(requested_urls(browser), url) == []


def test_a_changed_field_changes_the_answer(browser, live_service, bundle_dir):
    from selenium.webdriver.common.by import By

    url, _ = live_service
    index, value, expected = a_record_with_another_answer(url, bundle_dir)
    open_demo(browser, url)
    submit(browser)
    first = shown_answer(browser)
    field = browser.find_element(By.ID, f"field-{index}")
    field.clear()
    field.send_keys(str(value))
    submit(browser)
    changed = shown_answer(browser, previous=json.dumps(first))
    assert changed == expected and changed != first


@pytest.mark.same_for_every_model
def test_with_an_api_key_the_page_asks_for_it_and_says_when_it_is_wrong(
    browser, keyed_service, bundle_dir
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{keyed_service}/")
    wait(browser, visible("key-section"), "the page did not ask for the key")
    assert API_KEY not in browser.page_source
    browser.find_element(By.ID, "api-key").send_keys("a-wrong-key-of-enough-length", Keys.ENTER)
    message = wait(browser, lambda driver: driver.find_element(By.ID, "key-message").text, "")
    assert "wrong" in message
    browser.find_element(By.ID, "api-key").send_keys(API_KEY, Keys.ENTER)
    wait(browser, visible("predict-section"), "the right key did not open the form")
    submit(browser)
    example = read_json(bundle_dir, "input_example.json")[0]
    assert shown_answer(browser) == predict_over_http(keyed_service, example, API_KEY)
    assert browser.execute_script("return sessionStorage.getItem('api-key')") == API_KEY
    # Only 401s were expected on the way (the wrong key); nothing else went wrong.
    errors = [error for error in console_errors(browser) if "401" not in error]
    assert errors == []


@pytest.mark.same_for_every_model
def test_the_docs_render_offline_with_swagger_ui_served_by_the_service(browser, live_service):
    from selenium.webdriver.common.by import By

    url, _ = live_service
    browser.get(f"{url}/docs")
    wait(
        browser,
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"),
        "Swagger UI did not render the operations",
    )
    paths = {
        element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert "/predict" in paths
    urls = requested_urls(browser)
    assert any(urlsplit(u).path.endswith("swagger-ui-bundle.js") for u in urls)
    assert other_hosts(urls, url) == []
    assert console_errors(browser) == []


@pytest.mark.same_for_every_model
def test_on_a_phone_the_page_fits_and_the_keyboard_alone_gets_an_answer(
    browser, live_service, bundle_dir
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    url, _ = live_service
    browser.set_window_size(390, 844)
    open_demo(browser, url)
    wait(browser, visible("card-section"), "the model card never appeared")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ), "the page scrolls sideways on a phone"
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('#fields input, #fields select')]"
        ".filter(c => !document.querySelector(`label[for='${c.id}']`)).map(c => c.name)"
    )
    assert unlabelled == []
    # Tab to the first number field, then Enter: the form is sent without a mouse.
    for _ in range(30):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script("return document.activeElement.type") == "number":
            break
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    example = read_json(bundle_dir, "input_example.json")[0]
    assert shown_answer(browser) == predict_over_http(url, example)


@pytest.mark.same_for_every_model
def test_a_date_in_another_order_of_day_month_year_goes_through_the_date_picker_both_ways(
    browser, live_service
):
    """The picker holds 2024-03-15 whatever the file wrote; the request carries the
    file's format. Formats with more than a day (a month name, a time) are a text field."""
    url, _ = live_service
    open_demo(browser, url)
    assert browser.execute_script(
        "return [toPicker('15/3/2024', '%d/%m/%Y'), fromPicker('2024-03-15', '%d/%m/%Y'),"
        " toPicker('2024.03.15', '%Y.%m.%d'), fromPicker('2024-03-05', '%m-%d-%Y'),"
        " pickerFormat('%b %Y'), pickerFormat('%Y-%m-%d %H:%M'), toPicker('garbage', '%Y-%m-%d')]"
    ) == ["2024-03-15", "15/03/2024", "2024-03-15", "03-05-2024", False, False, ""]


@pytest.mark.same_for_every_model
def test_html_in_the_model_card_is_shown_as_text_never_run(browser, bundle_dir, tmp_path):
    """Column names come from any CSV and the card's answers from model_card.yaml: the page
    shows them as text; no script runs and nothing is fetched from elsewhere."""
    from selenium.webdriver.common.by import By

    bundle = copy_of(bundle_dir, tmp_path)
    hostile = "<img src=http://192.0.2.1/x.png onerror=\"document.title='ran'\"> <b>bold?</b>"
    with (bundle / "model_card.md").open("a", encoding="utf-8") as card:
        card.write(f"\n## Notes\n\n- {hostile}\n\n| a | b |\n|---|---|\n| {hostile} | x |\n")
    with service(bundle) as url:
        open_demo(browser, url)
        wait(browser, visible("card-section"), "the model card never appeared")
        card_text = browser.find_element(By.ID, "card").text
        assert card_text.count(hostile) == 2
        assert browser.find_elements(By.CSS_SELECTOR, "#card img, #card b") == []
        assert "ran" not in browser.title
        assert other_hosts(requested_urls(browser), url) == []
