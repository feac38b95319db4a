"""A two-case project (A, B and a control) for cache and incremental-render tests.

``CASE_CELLS`` record the files they read; ``render`` runs ``render.py`` from ``CODE[0]``
(a frozen copy of the package set by the test module, so cache keys stay put while the
working tree changes); ``manifest`` and ``cached`` read ``build/manifest.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from tests.support.nbfactory import write_nm_image

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Render cache test report"

CASE_CELLS = [
    ("md", "# Case", None),
    (
        "code",
        'case_id = "A"\ndata_dir = "data"\noutput_dir = "out"\nlabel = "default"\ndelay = 0.0',
        ["parameters"],
    ),
    (
        "code",
        "import json, os, time\nfrom pathlib import Path\nimport pydicom\n"
        "import casereport.io as cio\nfrom casereport.case import read_case",
        None,
    ),
    # with CASEREPORT_TEST_BARRIER set, each case waits until both have started: this only
    # finishes in time when the two kernels run at the same moment
    (
        "code",
        "sync = os.environ.get('CASEREPORT_TEST_BARRIER')\nparallel = None\n"
        "if sync:\n    Path(sync).mkdir(exist_ok=True)\n    (Path(sync) / case_id).touch()\n"
        "    end = time.time() + 60\n"
        "    while len(list(Path(sync).iterdir())) < 2 and time.time() < end:\n"
        "        time.sleep(0.05)\n"
        "    parallel = len(list(Path(sync).iterdir())) >= 2\n"
        "time.sleep(delay)",
        None,
    ),
    (
        "code",
        "spec = read_case(Path(data_dir) / case_id / 'case.yaml')\n"
        "path = Path(data_dir) / case_id / 'img.dcm'\ncio.record_read(path)\n"
        "image = pydicom.dcmread(path).pixel_array",
        None,
    ),
    (
        "code",
        "if label == 'boom':\n    raise ValueError(f'case {case_id} broken on purpose')",
        None,
    ),
    (
        "code",
        "out = Path(output_dir)\nout.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'results.json').write_text(json.dumps({'sum': int(image.sum()), "
        "'label': label, 'parallel': parallel}, sort_keys=True))\n"
        "(out / 'inputs.json').write_text(json.dumps(sorted(os.path.relpath(p) "
        "for p in cio.files_read())))\nprint('label is', label)",
        None,
    ),
]

LONG_TEXT = "\n\n".join(
    f"Paragraph {i}: the render keeps the last good article in place until a new one is "
    "complete, so that readers never see a half-written page."
    for i in range(250)
)
ARTICLE_CELLS = [
    ("code", 'data_dir = "data"\nresults_dir = "r"\nfigures_dir = "f"', ["parameters"]),
    ("md", f"# {TITLE}\n\nIntroduction text, version 1.", None),
    (
        "code",
        "import json\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
        "import casereport.io  # its record of files read: none, results only\n"
        "res = {p.parent.name: json.loads(p.read_text())\n"
        "       for p in sorted(Path(results_dir).glob('*/results.json'))}\n"
        "figs = Path(figures_dir)\n(figs / 'panels').mkdir(parents=True, exist_ok=True)\n"
        "fig, ax = plt.subplots(figsize=(2, 2))\n"
        "ax.bar(range(len(res)), [r['sum'] for r in res.values()])\n"
        "fig.savefig(figs / 'figure1.png', dpi=50, metadata={'Software': None})\n"
        "for case, r in res.items():\n"
        "    (figs / 'panels' / f'{case}.json').write_text(json.dumps(r, sort_keys=True))\n"
        "plt.show()\n"
        "for case, r in res.items():\n"
        "    print('case', case, 'sum', r['sum'], 'label', r['label'])",
        None,
    ),
    ("md", LONG_TEXT, None),
]


def dicom(path: Path, offset: int = 0) -> None:
    pixels = (np.arange(64, dtype=np.uint16) + offset).reshape(8, 8)
    write_nm_image(path, pixels, generate_uid(entropy_srcs=[str(path.name), str(offset)]))


CODE = [ROOT]


def command(project: Path, args: list[str]) -> tuple[list[str], dict[str, str]]:
    command = args[:1] if args[:1] == ["clean"] else []
    rest = args[len(command) :] + ([] if command else ["--quiet"])
    cmd = [sys.executable, str(CODE[0] / "render.py"), *command, "--root", str(project), *rest]
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": "1554076800",
        "PYTHONPATH": os.pathsep.join([str(CODE[0]), str(ROOT)]),
    }
    return cmd, env


def render(
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    cmd, full_env = command(project, list(args))
    return subprocess.run(
        cmd,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**full_env, **(env or {})},
    )


def manifest(project: Path) -> dict:
    return json.loads((project / "build" / "manifest.json").read_text())


def cached(project: Path) -> dict[str, bool]:
    """step name -> reused from the cache (html/pdf/jats steps appear as ``export``)."""
    out: dict[str, bool] = {}
    for s in manifest(project)["steps"]:
        name = "export" if s["step"] in ("html", "pdf", "jats") else s["step"]
        out[name] = s["cached"]
    out.pop("plan", None)
    return out
