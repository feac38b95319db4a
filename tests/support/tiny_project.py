"""A one-case project for render tests: notebooks and a DICOM file, made in the test.

``CASE_CELLS`` read ``data/<case>/img.dcm`` and write ``results.json``; ``ARTICLE_CELLS``
print the sum of its pixels; ``run_render`` runs the real ``render.py`` on a project.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.support.nbfactory import case_yaml, make_notebook, write_nm_image

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Tiny report for the render test"


def tiny_dicom(path: Path) -> None:
    pixels = np.arange(256, dtype=np.uint16).reshape(16, 16)
    write_nm_image(path, pixels, "1.2.826.0.1.3680043.8.498.1")


CASE_CELLS = [
    ("md", "# Case", None),
    (
        "code",
        'case_id = "T"\ndata_dir = "data"\noutput_dir = "out"\nlabel = "default"',
        ["parameters"],
    ),
    (
        "code",
        "import json\nfrom pathlib import Path\nimport pydicom\nimport matplotlib.pyplot as plt",
        None,
    ),
    (
        "code",
        "ds = pydicom.dcmread(Path(data_dir) / case_id / 'img.dcm')\nimage = ds.pixel_array",
        None,
    ),
    (
        "code",
        "out = Path(output_dir)\nout.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'results.json').write_text(json.dumps({'sum': int(image.sum()), 'label': label}))\n"
        "print('label is', label)",
        None,
    ),
]

ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", f"# {TITLE}\n\nSome text.", None),
    (
        "code",
        "import json\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
        "r = json.loads((Path(results_dir) / 'T' / 'results.json').read_text())\n"
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.bar([0], [r['sum']])\nplt.show()\n"
        "print('sum of pixels', r['sum'], 'label', r['label'])",
        None,
    ),
]


def run_render(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(ROOT / "render.py"), "--root", str(project), *args]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300)


#: an article notebook that writes figures/ from the DICOM (for verify and bundle)
E2E_ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", "# Verify end to end", None),
    (
        "code",
        "from pathlib import Path\nimport numpy as np\nimport pydicom\nfrom PIL import Image\n"
        "arr = pydicom.dcmread(Path(data_dir) / 'T' / 'img.dcm').pixel_array\n"
        "out = Path(figures_dir) / 'panels'\nout.mkdir(parents=True, exist_ok=True)\n"
        "Image.fromarray((arr % 256).astype(np.uint8)).save(out / 'A1.png')\n"
        "Image.fromarray((255 - arr % 256).astype(np.uint8))"
        ".save(Path(figures_dir) / 'figure1.png')",
        None,
    ),
]


def make_project(root: Path) -> Path:
    """Case ``T`` (one DICOM file, a valid case file), the case and article notebooks."""
    tiny_dicom(root / "data" / "T" / "img.dcm")
    (root / "data" / "T" / "case.yaml").write_text(case_yaml("T"))
    make_notebook(root / "notebooks" / "case.ipynb", CASE_CELLS)
    make_notebook(root / "notebooks" / "article.ipynb", ARTICLE_CELLS, title=TITLE)
    return root
