"""The demo page's files, /model-card and the offline /docs, in process (the browser's view
of them is in test_demo_browser.py)."""

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve.app import create_app
from {{ cookiecutter.package_name }}.serve.demo import STATIC
from {{ cookiecutter.package_name }}.serve.settings import ServeSettings

from ..conftest import copy_of, read_json

API_KEY = "a-long-enough-test-key-0123456789"
PAGE_FILES = ("/", "/demo/demo.js", "/demo/demo.css")


def client_for(model_uri, **overrides) -> TestClient:
    return TestClient(
        create_app(ServeSettings(_env_file=None, model_uri=str(model_uri), **overrides))
    )


def local_links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_demo_page_and_its_files_are_served_at_the_root(bundle_dir):
    with client_for(bundle_dir) as client:
        page = client.get("/")
        script, style = client.get("/demo/demo.js"), client.get("/demo/demo.css")
    assert page.status_code == script.status_code == style.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert {"/demo/demo.js", "/demo/demo.css", "/docs"} <= set(local_links(page.text))


def test_demo_page_false_answers_404_for_the_page_and_its_files(bundle_dir, monkeypatch):
    monkeypatch.setenv("DEMO_PAGE", "false")
    with client_for(bundle_dir) as client:
        statuses = [client.get(path).status_code for path in PAGE_FILES]
        example = read_json(bundle_dir, "input_example.json")[0]
        assert client.post("/predict", json=example).status_code == 200
    assert statuses == [404, 404, 404]


def test_the_page_holds_no_key_and_nothing_training_saw(bundle_dir):
    """What / and its files send is the package's files, byte for byte, whatever the model
    and the key: the page reads the model's data from /model, with the visitor's key."""
    on_disk = [(STATIC / name).read_bytes() for name in ("index.html", "demo.js", "demo.css")]
    with client_for(bundle_dir, api_key=API_KEY) as client:
        shipped = [client.get(path).content for path in PAGE_FILES]
    assert shipped == on_disk
    assert API_KEY.encode() not in b"".join(shipped)


def test_the_model_card_is_served_as_markdown(bundle_dir):
    with client_for(bundle_dir) as client:
        card = client.get("/model-card")
    assert card.status_code == 200
    assert card.headers["content-type"] == "text/markdown; charset=utf-8"
    assert card.text == (bundle_dir / "model_card.md").read_text(encoding="utf-8")


def test_with_a_key_the_model_card_needs_it(bundle_dir):
    with client_for(bundle_dir, api_key=API_KEY) as client:
        without = client.get("/model-card")
        wrong = client.get("/model-card", headers={"X-API-Key": "not-the-key-at-all-0000"})
        right = client.get("/model-card", headers={"X-API-Key": API_KEY})
        page = client.get("/")
    assert without.status_code == wrong.status_code == 401
    assert right.status_code == page.status_code == 200


def test_a_bundle_from_before_model_cards_answers_404_naming_the_file(bundle_dir, tmp_path):
    bundle = copy_of(bundle_dir, tmp_path)
    (bundle / "model_card.md").unlink()
    with client_for(bundle) as client:
        card = client.get("/model-card")
        example = read_json(bundle, "input_example.json")[0]
        assert client.post("/predict", json=example).status_code == 200
    assert card.status_code == 404
    assert "model_card.md is missing" in card.json()["detail"]
    assert "make train" in card.json()["detail"]


def test_without_a_model_the_card_says_why_and_the_page_still_loads(tmp_path):
    with client_for(tmp_path / "no-bundle-here") as client:
        card, page = client.get("/model-card"), client.get("/")
    assert card.status_code == 503 and "no-bundle-here" in card.json()["detail"]
    assert page.status_code == 200


@pytest.mark.parametrize("docs", ["/docs", "/redoc"])
def test_the_docs_load_every_asset_from_the_service_itself(bundle_dir, docs):
    with client_for(bundle_dir) as client:
        page = client.get(docs)
        links = local_links(page.text)
        statuses = {link: client.get(link).status_code for link in links}
    assert page.status_code == 200 and links
    assert [link for link in links if not link.startswith("/")] == []
    assert set(statuses.values()) == {200}


def test_every_page_file_is_package_data_so_the_image_carries_it():
    """The image installs the package (pip install), not the source tree: a file that
    pyproject.toml's package-data does not name would be missing there."""
    project = Path(__file__).resolve().parents[2]
    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["{{ cookiecutter.package_name }}.serve"]
    files = [
        path.relative_to(STATIC.parent).as_posix() for path in STATIC.rglob("*") if path.is_file()
    ]
    assert len(files) >= 3
    assert [name for name in files if not any(fnmatch(name, pattern) for pattern in patterns)] == []
