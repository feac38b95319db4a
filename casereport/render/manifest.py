"""``build/manifest.json``: what one render read, ran and wrote, with hashes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import casereport
from casereport.fileio import files_below, relpath, sha256_file
from casereport.record import split_facet
from casereport.render.jats import JATS_NAME
from casereport.render.plan import Plan
from casereport.render.steps import Steps


def manifest_doc(steps: Steps, plan: Plan, t_start: float) -> dict[str, Any]:
    """The manifest of a render whose outputs are staged in ``steps.stage``."""
    opts, stage, root = steps.opts, steps.stage, steps.opts.root
    inputs: dict[str, str] = {}
    for run in plan.runs:
        inputs[relpath(run.source, root)] = steps.hasher.sha256(run.source)
    for found in steps.inputs.values():
        for entry, digest in found.items():
            path, facet = split_facet(entry)
            # a facet of a case file: the manifest lists the whole file's SHA-256
            inputs[path] = digest if facet is None else steps.hasher.sha256(root / path)
    for case_file in plan.cases.files:
        inputs[relpath(case_file, root)] = steps.hasher.sha256(case_file)
    outputs: dict[str, str] = {}
    placed = {
        "notebooks": opts.build_dir / "notebooks",
        "cases": opts.build_dir / "cases",
        "figures": plan.figures_dir,
    }
    for sub, final in placed.items():
        for f in files_below(stage / sub):
            outputs[relpath(final / f.relative_to(stage / sub), root)] = sha256_file(f)
    for name in ("article.html", "article.pdf", JATS_NAME):
        if (stage / name).is_file():
            outputs[relpath(opts.build_dir / name, root)] = sha256_file(stage / name)
    cases = {run.label for run in plan.case_runs}
    return {
        "casereport": casereport.__version__,
        "package_sha256": steps.package,
        "versions": steps.versions,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "parameters": {r.label: r.parameters for r in plan.runs},
        "display_overrides": plan.display,
        "cases": {c: sorted(found) for c, found in sorted(steps.inputs.items()) if c in cases},
        "inputs": [{"path": p, "sha256": s} for p, s in sorted(inputs.items())],
        "outputs": [{"path": p, "sha256": s} for p, s in sorted(outputs.items())],
        "steps": [
            {
                "step": s.step,
                "cached": s.cached,
                "seconds": round(s.seconds, 3),
                "key": s.key,
                **({} if s.redrawn is None else {"redrawn": list(s.redrawn)}),
            }
            for s in steps.records
        ],
        "total_seconds": round(time.perf_counter() - t_start, 3),
    }


def write_manifest(steps: Steps, plan: Plan, t_start: float) -> Path:
    """Write ``manifest.json`` into the staging folder; returns its path."""
    path = steps.stage / "manifest.json"
    doc = manifest_doc(steps, plan, t_start)
    path.write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
    return path
