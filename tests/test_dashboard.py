"""GET / for browsers and for everything else, /docs, and the pages' static files: what
a client sees over HTTP. The pages in a real browser are in test_browser.py."""

import gzip
import re
from html.parser import HTMLParser

import pytest

from sungrow_server.testing import REPO
from tests.helpers import single_edition

edition = single_edition("postgresql")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
VENDORED = {
    "sungrow_server/dashboard/static/vendor/uplot": ("uplot", "UPLOT"),
    "sungrow_server/apidoc/static/vendor/swagger-ui": ("swagger-ui-dist", "SWAGGER_UI"),
}


class PageParser(HTMLParser):
    """The tags of a page with their attributes, and the text inside each <script>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_text.append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "application/json, text/html;q=0.9", "text/plain"],
)
def test_root_stays_the_health_answer_for_clients_other_than_browsers(client, accept):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/", headers=headers)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert "Accept" in response.vary


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html"])
def test_root_is_the_page_for_a_browser(client, accept):
    response = client.get("/", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Accept" in response.vary
    assert '<main id="board"' in response.text
    assert client.get("/health", headers={"Accept": accept}).json == {"status": "ok"}


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_run_under_a_strict_content_security_policy(client, path):
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert set(policy["img-src"]) == {"'self'", "data:"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_load_only_this_servers_files(client, path):
    page = parse(client.get(path, headers={"Accept": BROWSER_ACCEPT}).text)
    assert page.script_text == []  # every script is a file
    references = []
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
        if tag == "script":
            references.append(attrs["src"])
        if tag == "link":
            references.append(attrs["href"])
    assert references and all(
        ref.startswith("/") and not ref.startswith("//") for ref in references
    )
    for ref in references:
        response = client.get(ref)
        assert response.status_code == 200, ref
        assert "Content-Security-Policy" in response.headers


def test_the_pages_scripts_import_only_their_own_modules():
    scripts = REPO / "sungrow_server/dashboard/static/js"
    for script in scripts.glob("*.js"):
        for target in re.findall(r'^import .* from "([^"]+)";$', script.read_text(), re.M):
            assert target.startswith("./") and (scripts / target).is_file(), (script, target)


def test_footer_links_the_api_reference(client):
    page = parse(client.get("/", headers={"Accept": "text/html"}).text)
    links = {attrs.get("href") for tag, attrs in page.tags if tag == "a"}
    assert {"/docs", "/openapi.json"} <= links


def test_static_files_are_gzipped_once_and_revalidated(client):
    path = "/static/docs/vendor/swagger-ui/swagger-ui-bundle.js"
    original = (
        REPO / "sungrow_server/apidoc/static" / path.removeprefix("/static/docs/")
    ).read_bytes()
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.mimetype == "text/javascript"
    assert gzip.decompress(zipped.data) == original
    assert len(zipped.data) < len(original) / 3
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.data == original
    refused = client.get(path, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    for response in (zipped, plain):
        assert "Accept-Encoding" in response.vary
        etag = response.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert again.status_code == (304 if response is zipped else 200)
    assert zipped.headers["ETag"] != plain.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/dashboard/nope.js",
        "/static/dashboard/../views.py",
        "/static/dashboard/%2e%2e/views.py",
        "/static/docs/../document.py",
        "/static/dashboard/templates",
    ],
)
def test_no_file_outside_the_static_folders(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json == {"detail": "Not Found"}


@pytest.mark.parametrize("folder", VENDORED)
def test_vendored_libraries_are_pinned_with_their_licences(folder):
    package, variable = VENDORED[folder]
    pinned = re.search(rf"^{variable}=(\S+)$", (REPO / "scripts/vendor").read_text(), re.M)
    assert (REPO / folder / "VERSION").read_text().strip() == f"{package}@{pinned.group(1)}"
    assert "Permission is hereby granted" in (REPO / folder / "LICENSE").read_text() or (
        "Apache License" in (REPO / folder / "LICENSE").read_text()
    )
    for file in (REPO / folder).iterdir():
        assert "sourceMappingURL" not in file.read_text(errors="replace"), file


def test_uplot_file_is_the_pinned_release():
    folder = REPO / "sungrow_server/dashboard/static/vendor/uplot"
    header = (folder / "uPlot.iife.min.js").read_text().split("\n", 1)[0]
    version = (folder / "VERSION").read_text().strip().split("@")[1]
    assert f"(v{version})" in header


def test_the_api_document_tells_of_both_answers_of_the_root(client):
    document = client.get("/openapi.json").json
    content = document["paths"]["/"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/html"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}
    assert "/docs" not in document["paths"]  # a page, not an operation of the API
