"""The 3D splat viewer's HTML: a page served by the API and a standalone ``viewer.html``.

The viewer itself is the JavaScript bundle that ``make setup`` builds from ``webui/`` (Spark on
three.js, bundled by esbuild) into ``static/dist/viewer.js``. The API page loads it from
``/static``; the standalone page carries it inline, so ``viewer.html`` and the scene beside it
open from any static host.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vantage.errors import ConfigError
from vantage.storage.streaming import atomic_write

#: Files served under ``/static``.
STATIC_DIR = Path(__file__).parent / "static"
#: Where the API page loads the bundle from.
BUNDLE_URL = "/static/dist/viewer.js"
#: The up direction of scenes in COLMAP's axes (OpenCV: y points down), as the viewer reads it.
COLMAP_UP = (0.0, -1.0, 0.0)


@dataclass(frozen=True)
class ViewerCamera:
    """Where the viewer starts: eye position, orbit target, up direction, vertical field of view.

    A capture's own first view (see `vantage.capture.compress.camera`) shows the scene as it was
    filmed; without one the viewer frames the scene's bounds from the side.
    """

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    fov_deg: float

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> ViewerCamera:
        """The camera as `dataclasses.asdict` saved it (in a stage's JSON output).

        Raises:
            KeyError, TypeError, ValueError: ``saved`` is not such a camera.
        """

        def triple(values: Any) -> tuple[float, float, float]:
            x, y, z = (float(value) for value in values)
            return x, y, z

        return cls(
            position=triple(saved["position"]),
            target=triple(saved["target"]),
            up=triple(saved["up"]),
            fov_deg=float(saved["fov_deg"]),
        )

    def attribute(self) -> str:
        """The ``data-camera`` value: ten comma-separated numbers."""
        values = (*self.position, *self.target, *self.up, self.fov_deg)
        return ",".join(f"{value:.6g}" for value in values)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
html, body {{ margin: 0; height: 100%; background: #000; }}
#viewer {{ position: fixed; inset: 0; }}
.vantage-status {{ color: #eee; font-family: sans-serif; margin: 0.75rem; }}
</style>
</head>
<body>
<div id="viewer" data-scene-url="{scene_url}" data-up="{up}"{camera} aria-label="{title}">
<p class="vantage-status" role="status">Loading the scene…</p>
<noscript><p class="vantage-status">The 3D viewer needs JavaScript.</p></noscript>
</div>
{script}
</body>
</html>
"""

# Inside <script>, "</script" ends the element and "<!--" can start a comment state; their
# escaped forms mean the same in JavaScript strings, templates, regexes and comments.
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_COMMENT_OPEN = re.compile(r"<!--")


def bundle_path() -> Path:
    """Where ``make setup`` puts the viewer bundle (it may not exist yet)."""
    return STATIC_DIR / "dist" / "viewer.js"


def viewer_page(
    scene_url: str,
    *,
    title: str,
    script_url: str = BUNDLE_URL,
    up: tuple[float, float, float] = COLMAP_UP,
    camera: ViewerCamera | None = None,
) -> str:
    """A full HTML page that shows the scene at ``scene_url`` with the bundle at ``script_url``.

    Args:
        scene_url: URL of the scene (.sog, .spz or .ply), absolute or relative to the page.
        title: the page title (plain text; escaped here).
        script_url: URL of the viewer bundle.
        up: the scene's up direction.
        camera: where the view starts (its up replaces ``up``); None frames the scene.
    """
    script = f'<script type="module" src="{html.escape(script_url)}"></script>'
    return _render(scene_url, title, up, script, camera)


def write_standalone_viewer(
    out_dir: Path,
    scene_file: str = "scene.sog",
    *,
    title: str = "Vantage scene",
    up: tuple[float, float, float] = COLMAP_UP,
    bundle: Path | None = None,
    camera: ViewerCamera | None = None,
) -> Path:
    """Write ``out_dir/viewer.html``, a page with the viewer inlined that shows ``scene_file``.

    The page loads the scene by its relative URL, so ``viewer.html`` and the scene beside it
    work from any static host (browsers refuse to fetch it from ``file://``). The file is
    replaced atomically: readers see the old page or the new one, never a part.

    Args:
        out_dir: the folder holding the scene.
        scene_file: the scene's file name in ``out_dir``.
        title: the page title.
        up: the scene's up direction.
        bundle: the viewer bundle to inline; the one ``make setup`` builds by default.
        camera: where the view starts (its up replaces ``up``); None frames the scene.

    Returns:
        The path of ``viewer.html``.

    Raises:
        ConfigError: the bundle has not been built.
    """
    source = bundle or bundle_path()
    try:
        code = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"the 3D viewer bundle {source} is missing: run `make setup` "
            "(it builds webui/ with npm)",
            path=str(source),
        ) from None
    script = f'<script type="module">\n{_inline_script(code)}\n</script>'
    page = _render(scene_file, title, up, script, camera)
    dest = out_dir / "viewer.html"
    atomic_write(dest, [page.encode("utf-8")])
    return dest


def _inline_script(code: str) -> str:
    return _COMMENT_OPEN.sub(r"<\\!--", _SCRIPT_END.sub(r"<\\/\1", code))


def _render(
    scene_url: str,
    title: str,
    up: tuple[float, float, float],
    script: str,
    camera: ViewerCamera | None,
) -> str:
    return _PAGE.format(
        title=html.escape(title),
        scene_url=html.escape(scene_url),
        up=",".join(f"{value:g}" for value in (camera.up if camera else up)),
        camera=f' data-camera="{camera.attribute()}"' if camera else "",
        script=script,
    )
