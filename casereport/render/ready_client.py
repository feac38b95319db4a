"""The render's kernel client: ready as soon as the kernel has answered, without idling.

``jupyter_client``'s ``wait_for_ready`` (called by papermill's engine for every run, and by
:meth:`~casereport.render.execute.Kernel.preload`) sends ``kernel_info`` and, once the reply
came and IOPub delivered a message, drains IOPub until it has been silent for 0.2 s: a
fixed 0.2 s on every executed run (the figure run and the article one after the other
make 0.4 s of an arrow edit in a watch session). :class:`ReadyClient` drains IOPub until
the kernel's ``idle`` status for that same ``kernel_info`` request instead: every message
the request caused has then arrived (one socket keeps the kernel's order), and receiving
it proves IOPub connected. When it does not come within 0.2 s (IOPub not yet
subscribed), the request is sent again, as the library does.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.utils import ensure_async

#: how long (s) IOPub may stay silent before ``kernel_info`` is sent again
IOPUB_WAIT = 0.2
#: how long (s) the shell reply to one ``kernel_info`` is waited for before it is resent
SHELL_WAIT = 1.0


def _idle_for(msg: dict[str, Any], msg_id: str) -> bool:
    """Whether ``msg`` is the kernel's ``idle`` status after request ``msg_id``."""
    return (
        msg.get("msg_type") == "status"
        and msg.get("content", {}).get("execution_state") == "idle"
        and msg.get("parent_header", {}).get("msg_id") == msg_id
    )


class ReadyClient(AsyncKernelClient):  # type: ignore[misc]
    """An asynchronous kernel client whose ``wait_for_ready`` ends with the kernel's
    ``idle`` status for its ``kernel_info`` request (see the module docstring)."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Send ``kernel_info`` until the reply and its ``idle`` status arrived (s)."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._shell_reply(msg_id)
            if reply is not None and await self._iopub_idle(msg_id):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    _async_wait_for_ready = wait_for_ready

    async def _shell_reply(self, msg_id: str) -> dict[str, Any] | None:
        """The ``kernel_info_reply`` to ``msg_id`` (older replies are skipped); ``None``
        when none came within :data:`SHELL_WAIT` s."""
        end = time.monotonic() + SHELL_WAIT
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.shell_channel.get_msg(timeout=left))
            except Empty:
                return None
            if (
                msg.get("msg_type") == "kernel_info_reply"
                and msg.get("parent_header", {}).get("msg_id") == msg_id
            ):
                return dict(msg)
        return None

    async def _iopub_idle(self, msg_id: str) -> bool:
        """Drain IOPub up to the ``idle`` status after ``msg_id``; False when IOPub was
        silent for :data:`IOPUB_WAIT` s before it."""
        while True:
            try:
                msg = await ensure_async(self.iopub_channel.get_msg(timeout=IOPUB_WAIT))
            except Empty:
                return False
            if _idle_for(msg, msg_id):
                return True
