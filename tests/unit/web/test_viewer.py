"""The viewer's HTML: escaping, the inlined bundle, the atomic write, the missing bundle."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from vantage.errors import ConfigError
from vantage.storage.base import TEMP_PREFIX
from vantage.web.viewer import (
    BUNDLE_URL,
    STATIC_DIR,
    bundle_path,
    viewer_page,
    write_standalone_viewer,
)

# Both sequences an inlined script must not carry as they are.
TRICKY_BUNDLE = 'const end = "</script>"; const END = "</SCRIPT >"; const open = "<!--";\n'


class _PageParser(HTMLParser):
    """The title, the viewer element's attributes and each script's attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.viewer: dict[str, str | None] = {}
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and dict(attrs).get("id") == "viewer":
            self.viewer = dict(attrs)
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def _parse(page: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle" / "viewer.js"
    path.parent.mkdir()
    path.write_text(TRICKY_BUNDLE, encoding="utf-8")
    return path


def test_viewer_page_escapes_the_title_and_the_scene_url() -> None:
    title = '<script>alert("x")</script> & co'
    page = viewer_page('/jobs/1/artifacts/scene.sog?a=1&b="2"', title=title)

    parsed = _parse(page)
    assert "<script>alert" not in page
    assert parsed.title == title
    assert parsed.viewer["data-scene-url"] == '/jobs/1/artifacts/scene.sog?a=1&b="2"'
    assert parsed.viewer["aria-label"] == title
    assert [attrs for attrs, _ in parsed.scripts] == [{"type": "module", "src": BUNDLE_URL}]


def test_viewer_page_names_the_up_direction_and_the_script() -> None:
    page = viewer_page("scene.spz", title="t", script_url="/x/v.js", up=(0.0, 0.0, 1.0))

    parsed = _parse(page)
    assert parsed.viewer["data-up"] == "0,0,1"
    assert parsed.scripts[0][0]["src"] == "/x/v.js"
    assert _parse(viewer_page("s.ply", title="t")).viewer["data-up"] == "0,-1,0"  # COLMAP


def test_standalone_viewer_inlines_the_bundle_as_one_script(tmp_path: Path, bundle: Path) -> None:
    path = write_standalone_viewer(tmp_path, "scene.sog", title="A & B", bundle=bundle)

    assert path == tmp_path / "viewer.html"
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert parsed.title == "A & B"
    assert parsed.viewer["data-scene-url"] == "scene.sog"  # beside the page, any host
    [(attrs, code)] = parsed.scripts
    assert attrs == {"type": "module"}
    # The whole bundle is inside the one script element, its tricky sequences escaped.
    assert code.strip() == (
        r'const end = "<\/script>"; const END = "<\/SCRIPT >"; const open = "<\!--";'
    )
    assert page.count("</script>") == 1


def test_standalone_viewer_replaces_the_page_atomically(tmp_path: Path, bundle: Path) -> None:
    old = tmp_path / "viewer.html"
    old.write_text("old page", encoding="utf-8")

    with old.open(encoding="utf-8") as reader:
        write_standalone_viewer(tmp_path, bundle=bundle)
        assert reader.read() == "old page"  # a new file took its place; the old was not rewritten

    assert "const end" in old.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "viewer.html"]
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())


def test_a_missing_bundle_says_to_run_setup_and_writes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "dist" / "viewer.js"
    (tmp_path / "viewer.html").write_text("old page", encoding="utf-8")

    with pytest.raises(ConfigError, match="make setup") as raised:
        write_standalone_viewer(tmp_path, bundle=missing)

    assert raised.value.fields == {"path": str(missing)}
    assert raised.value.exit_code == 78
    assert (tmp_path / "viewer.html").read_text(encoding="utf-8") == "old page"


def test_bundle_path_is_what_the_api_serves_under_static() -> None:
    assert bundle_path() == STATIC_DIR / "dist" / "viewer.js"
    assert "/static/" + bundle_path().relative_to(STATIC_DIR).as_posix() == BUNDLE_URL
