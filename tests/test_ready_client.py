"""The render's kernel client (casereport.render.ready_client): ready once the kernel's
``idle`` status for its ``kernel_info`` request arrived, not after 0.2 s of IOPub silence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


def test_wait_for_ready_ends_with_the_idle_status_not_with_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new client of a started kernel (what papermill makes for each run), with IOPub's
    silence wait set to 30 s, finds it ready at once (the wait ends with the status, not
    with the timeout) and then runs code and receives its output."""
    from jupyter_core.utils import run_sync

    from casereport.render import ready_client
    from casereport.render.execute import Kernel

    kernel = Kernel(tmp_path)
    try:
        kernel.preload(("sys",))  # started and answering, as a pooled kernel is
        monkeypatch.setattr(ready_client, "IOPUB_WAIT", 30.0)
        kc = kernel.km.client()
        assert isinstance(kc, ready_client.ReadyClient)
        kc.start_channels()
        try:
            t0 = time.monotonic()
            run_sync(kc.wait_for_ready)(timeout=60)
            assert time.monotonic() - t0 < 20.0
            out: list[str] = []

            def hook(msg: dict) -> None:  # type: ignore[type-arg]
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])

            reply = run_sync(kc.execute_interactive)("print(6 * 7)", output_hook=hook, timeout=60)
            assert reply["content"]["status"] == "ok"
            assert "".join(out) == "42\n"
        finally:
            kc.stop_channels()
    finally:
        kernel.shutdown()


def test_idle_status_is_matched_by_its_request() -> None:
    from casereport.render.ready_client import _idle_for

    idle = {
        "msg_type": "status",
        "content": {"execution_state": "idle"},
        "parent_header": {"msg_id": "a"},
    }
    assert _idle_for(idle, "a")
    assert not _idle_for(idle, "b")
    assert not _idle_for({**idle, "content": {"execution_state": "busy"}}, "a")
