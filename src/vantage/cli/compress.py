"""``vantage compress IN -o OUT.sog [-o OUT.spz …]``: a splat scene into web-ready files.

Reads a 3DGS ``.ply`` (or a ``.sog``, ``meta.json``, ``.spz`` or ``.compressed.ply``) and writes
each output in the format its suffix names, after the optional size reductions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vantage.cli.app import app, console


@app.command()
def compress(
    source: Annotated[
        Path, typer.Argument(metavar="IN", help="A 3DGS .ply, .sog, meta.json, .spz scene.")
    ],
    outputs: Annotated[
        list[Path],
        typer.Option(
            "--output", "-o", help="Output file: .sog, .spz or .compressed.ply (repeatable)."
        ),
    ],
    reduce: Annotated[
        bool,
        typer.Option(
            help="Drop near-transparent Gaussians and SH bands that add little colour first."
        ),
    ] = True,
    sh_palette: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="SOG: entries of the higher-SH palette, 0 to 65536 (0 drops those bands; "
            "default: splat-transform's choice from the count). Fewer entries: a smaller file "
            "for a little colour accuracy.",
        ),
    ] = None,
) -> None:
    """Compress a Gaussian-splat scene to SOG, SPZ or compressed PLY."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from vantage.capture.compress.encode import EncodeOptions, encode_file, format_of
    from vantage.capture.compress.sog import SogOptions, check_sog_options

    for target in outputs:
        format_of(target)  # a bad suffix fails before any work
    sog = SogOptions(sh_palette_size=sh_palette)
    check_sog_options(sog)  # so does a bad palette size
    source_bytes = source.stat().st_size if source.is_file() else 0
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        progress.add_task(f"compressing {source.name}", total=None)
        written = encode_file(source, outputs, EncodeOptions(reduce=reduce, sog=sog))
    for entry in written:
        ratio = source_bytes / entry["bytes"] if entry["bytes"] else 0.0
        console.print(
            f"{entry['file']}: {entry['format']}, {entry['gaussians']} Gaussians, "
            f"{entry['bytes'] / 1e6:.2f} MB ({ratio:.1f}× smaller than {source.name}), "
            f"{entry['seconds']:.1f} s"
        )
