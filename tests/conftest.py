"""Shared pytest fixtures."""

import pytest


# --- synth fixtures (casereport.synth) --------------------------------------------------
@pytest.fixture(scope="session")
def synth_out(tmp_path_factory):
    """All simulated subjects generated once per session: (folder, generate() result)."""
    from casereport.synth import generate

    out = tmp_path_factory.mktemp("synth") / "data"
    result = generate(out)
    return out, result
