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


# --- render projects (tests/support) ------------------------------------------------------
@pytest.fixture
def tiny_project(tmp_path):
    """A one-case project (case T, its DICOM, case and article notebooks) in ``tmp_path``."""
    from tests.support.tiny_project import make_project

    return make_project(tmp_path)


@pytest.fixture
def valid_case_yaml():
    """``(case_id, role="case") -> text`` of the smallest valid case file."""
    from tests.support.nbfactory import case_yaml

    return case_yaml
