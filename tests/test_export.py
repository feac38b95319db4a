"""HTML export: external resources refused, also beside megabytes of inlined images."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import numpy as np
import pytest

from casereport.errors import RenderError
from casereport.render.export import notebook_to_html

# base64 of random bytes: holds "src=" and "//" sequences by chance, never a link
PAYLOAD = base64.b64encode(np.random.default_rng(0).bytes(600_000)).decode()


def _notebook(path: Path, html_output: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "casereport", "display_name": "x", "language": "python"}}
    cell = nbformat.v4.new_code_cell("display(HTML(...))")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": html_output, "text/plain": ""})
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Export test"), cell]
    nbformat.write(nb, path)
    return path


def test_inlined_image_passes_external_link_beside_it_is_refused(tmp_path: Path) -> None:
    image = f'<img alt="a" src="data:image/png;base64,{PAYLOAD}">'
    assert "src=" in PAYLOAD or "//" in PAYLOAD  # the payload does look like a link at places
    out = notebook_to_html(_notebook(tmp_path / "ok.ipynb", image), tmp_path / "ok.html")
    assert PAYLOAD in out.read_text()
    bad = image + '<img alt="b" src="//example.org/x.png">'
    with pytest.raises(RenderError, match="external resource"):
        notebook_to_html(_notebook(tmp_path / "bad.ipynb", bad), tmp_path / "bad.html")
    css = image + "<div style=\"background: url('https://example.org/x.png')\"></div>"
    with pytest.raises(RenderError, match="external resource"):
        notebook_to_html(_notebook(tmp_path / "css.ipynb", css), tmp_path / "css.html")
