"""Kernels forked from one preloaded process (a fork server, or "zygote").

Starting an IPython kernel and importing numpy, SciPy, matplotlib, pydicom and
``casereport`` in it costs about 1.3 CPU-s, and a render starts five kernels. The zygote
pays that once: it is started with the kernel's environment in the project root, imports
those modules (never ``matplotlib.pyplot``, so the inline backend binds to each kernel's own
shell, and no zmq context or event loop exists before a fork), then waits on a Unix socket.
Each kernel is a fresh ``fork()`` of it that becomes ``ipykernel_launcher`` on its own
connection file, in its own session, with the environment and working directory the
kernel manager asked for: every run still gets a new process that nothing ran in before.

:class:`ForkProvisioner` plugs this into ``jupyter_client``: ``launch_kernel`` asks the
zygote for a fork (falling back to the ordinary ``Popen`` launch when the zygote cannot
serve the request: another working directory, another command, no ``fork``), signals go
to the kernel's process group, and exit codes come from the zygote, which reaps its
children. The zygote and its kernels die with their parent (``PR_SET_PDEATHSIG``), so a
killed render leaves no process behind. ``CASEREPORT_KERNEL_FORK=0`` turns forking off.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

#: first argument of the zygote's command line (``ipykernel`` in it lets the orphan
#: cleanup of :func:`casereport.render.publish.stop_orphans` find it and its kernels)
MARKER = "casereport-ipykernel-zygote"
#: environment variable that turns forking off when set to ``0``
FORK_ENV = "CASEREPORT_KERNEL_FORK"
#: modules the zygote imports before serving (what every notebook of the project imports)
PRELOAD = (
    "ipykernel.kernelapp",
    # what IPKernelApp.initialize imports in every kernel: the kernel and shell classes, the
    # debugger (debugpy, about 140 modules), IPython's history (sqlite3) and inspection
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.platform.asyncio",
    "IPython.display",
    "numpy",
    "scipy.ndimage",
    "matplotlib",
    "matplotlib.figure",
    "matplotlib.font_manager",
    "matplotlib.backends.backend_agg",
    "PIL.Image",
    "pydicom",
    "yaml",
    "casereport.io",
    "casereport.io.memo",
    "casereport.case",
    "casereport.analysis",
    "casereport.figure",
    "casereport.report",
    "casereport.review",
    "casereport.references",
)
#: preloaded modules whose import writes to stderr (debugpy's note on frozen modules, which
#: a kernel prints into its own captured stderr, where nobody reads it): imported silently
QUIET_PRELOAD = ("ipykernel.debugger",)
#: process name (``/proc/PID/comm``) of the zygote; its kernels take back the usual one
ZYGOTE_NAME = "cr-zygote"
#: set in each forked kernel: the zygote's process id (tests check the kernels' origin)
FORKED_FROM = 0
#: set in a forked kernel once an ``import`` statement names a ``casereport`` module (the
#: zygote preloaded them, so ``sys.modules`` cannot tell whether the notebook uses them)
CASEREPORT_IMPORTED = False
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
#: after SIGKILL, how long (s) a kernel's stop waits for the zygote to reap it, polling
#: every :data:`KILL_POLL` s (then the kernel manager's own wait takes over)
KILL_WAIT = 1.0
KILL_POLL = 0.003


def fork_enabled() -> bool:
    """True when kernels may be forked: POSIX ``fork`` and not turned off."""
    return (
        hasattr(os, "fork")
        and sys.platform.startswith("linux")
        and (os.environ.get(FORK_ENV, "1") != "0")
    )


def _prctl(option: int, value: int | bytes) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent exits."""
    _prctl(_PR_SET_PDEATHSIG, int(sig))


def _set_name(name: str) -> None:
    """Set this process's name (``/proc/PID/comm``, 15 bytes at most)."""
    _prctl(_PR_SET_NAME, name.encode()[:15])


# ---------------------------------------------------------------------------- server side
def _reap(exits: dict[int, int]) -> None:
    """Collect every finished child; exit codes like ``Popen.returncode``."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exits[pid] = os.waitstatus_to_exitcode(status)


def _watch_casereport_imports() -> None:
    """Set :data:`CASEREPORT_IMPORTED` on the first ``import casereport...`` statement."""
    import builtins

    original = builtins.__import__

    def watching(name: str, *args: Any, **kwargs: Any) -> Any:
        level = args[3] if len(args) > 3 else kwargs.get("level", 0)
        if not level and (name == "casereport" or name.startswith("casereport.")):
            global CASEREPORT_IMPORTED
            CASEREPORT_IMPORTED = True
            builtins.__import__ = original  # one import is enough to know
        return original(name, *args, **kwargs)

    builtins.__import__ = watching


def _kernel_child(request: dict[str, Any], zygote: int) -> None:
    """Become the kernel ``request`` describes; never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, like jupyter_client's Popen launch
        _die_with_parent()
        _set_name(Path(sys.executable).name)
        if os.getppid() != zygote:
            os._exit(1)  # the zygote died between the fork and the prctl
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        global FORKED_FROM
        FORKED_FROM = zygote
        import ipykernel_launcher  # type: ignore[import-untyped]
        from ipykernel.kernelapp import IPKernelApp

        sys.argv = [ipykernel_launcher.__file__, *request["args"]]
        _watch_casereport_imports()
        IPKernelApp.launch_instance(argv=list(request["args"]))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on stderr like a failed kernel start
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _handle(conn: socket.socket, server: socket.socket, exits: dict[int, int]) -> None:
    with conn, conn.makefile("rwb") as fh:
        request = json.loads(fh.readline())
        op = request.get("op")
        reply: dict[str, Any]
        if op == "fork":
            pid = os.fork()
            if pid == 0:
                fh.close()
                conn.close()
                server.close()
                _kernel_child(request, os.getppid())
            reply = {"pid": pid}
        elif op == "poll":
            _reap(exits)
            reply = {"code": exits.get(int(request["pid"]))}
        else:
            reply = {"pid": os.getpid()}
        fh.write(json.dumps(reply).encode() + b"\n")
        fh.flush()


def _import_quietly(name: str) -> None:
    """Import ``name`` with stderr (the file descriptor too) sent to ``/dev/null``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            __import__(name)
    finally:
        sys.stderr.flush()  # what the import wrote goes to /dev/null too
        os.dup2(saved, 2)
        os.close(saved)


def serve(path: str) -> None:
    """Preload, then serve fork and poll requests on the Unix socket ``path``."""
    _die_with_parent()
    _set_name(ZYGOTE_NAME)
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the render stops us; Ctrl-C is its
    for name in PRELOAD:
        try:
            if name in QUIET_PRELOAD:
                _import_quietly(name)
            else:
                __import__(name)
        except Exception:  # noqa: BLE001, S112 - a kernel imports what it needs itself
            continue
    record = sys.modules.get("casereport.record")
    if record is not None:
        record.forget_files_read()  # a kernel's record starts empty
    memo = sys.modules.get("casereport.io.memo")
    if memo is not None:
        memo.package_digest()  # the derived cache's key part, inherited by every fork
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.tmp"
    server.bind(tmp)
    server.listen(64)
    os.rename(tmp, path)  # the socket appears once it accepts: the zygote is ready
    exits: dict[int, int] = {}
    import select

    while os.getppid() == parent:
        ready, _, _ = select.select([server], [], [], 0.5)
        _reap(exits)
        if ready:
            conn, _ = server.accept()
            try:
                _handle(conn, server, exits)
            except (OSError, ValueError, KeyError):
                continue


# ---------------------------------------------------------------------------- client side
class ForkServer:
    """A zygote process serving kernel forks for kernels working in ``cwd``.

    Started at once (its imports overlap whatever the caller does next); :meth:`fork`
    waits until it is ready. ``env`` is the environment of the zygote, which should be the
    kernels' own (module-level state such as matplotlib's rcParams is read at import).
    """

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = Path(cwd).resolve()
        self._dir = tempfile.mkdtemp(prefix="casereport-zygote-")
        self.socket = os.path.join(self._dir, "zygote.sock")
        code = "import sys; sys.path.pop(0); from casereport.render.zygote import serve; "
        code += "serve(sys.argv[2])"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, MARKER, self.socket],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.env = dict(env)
        self._lock = threading.Lock()

    def ready(self, timeout: float = 180.0) -> bool:
        """Wait until the zygote accepts requests; False if it died or timed out."""
        end = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > end:
                return False
            time.sleep(0.02)
        return True

    def _request(self, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.socket)
            with s.makefile("rwb") as fh:
                fh.write(json.dumps(message).encode() + b"\n")
                fh.flush()
                line = fh.readline()
        if not line:
            raise OSError("the kernel fork server closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def fork(self, args: list[str], cwd: str | Path, env: dict[str, str]) -> int | None:
        """Pid of a new kernel (``ipykernel_launcher args``), or None when not served."""
        if Path(cwd).resolve() != self.cwd or not self.ready():
            return None
        try:
            reply = self._request({"op": "fork", "args": args, "cwd": str(cwd), "env": env})
        except (OSError, ValueError):
            return None
        pid = reply.get("pid")
        return int(pid) if pid else None

    def poll(self, pid: int) -> int | None:
        """Exit code of kernel ``pid`` (negative: killed by that signal); None while it runs."""
        try:
            code = self._request({"op": "poll", "pid": pid}, timeout=10).get("code")
        except (OSError, ValueError):
            # no zygote: its kernels were killed with it (PR_SET_PDEATHSIG)
            return None if _alive(pid) else -signal.SIGKILL
        return None if code is None else int(code)

    def close(self) -> None:
        """Stop the zygote (its running kernels get SIGKILL) and remove its socket."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
            pass
        shutil.rmtree(self._dir, ignore_errors=True)


_PRESTARTED: list[ForkServer] = []


def prestart(cwd: Path, env: dict[str, str]) -> None:
    """Start a zygote now, for a render that will execute notebooks for sure (an empty
    cache): its imports then overlap the checks that come before the first kernel (the
    de-identification gate, the study check, the plan). :func:`adopt` hands it to the
    render; :func:`discard` stops it if nobody took it."""
    if fork_enabled() and not _PRESTARTED:
        _PRESTARTED.append(ForkServer(cwd, env))


def adopt(cwd: Path, env: dict[str, str]) -> ForkServer | None:
    """The prestarted zygote when it serves ``cwd`` with ``env`` and still runs (another
    one is stopped); None when there is none."""
    if not _PRESTARTED:
        return None
    server = _PRESTARTED.pop()
    if server.cwd == Path(cwd).resolve() and server.env == env and server.proc.poll() is None:
        return server
    server.close()
    return None


def discard() -> None:
    """Stop a prestarted zygote nobody adopted (the render failed before its first kernel)."""
    while _PRESTARTED:
        _PRESTARTED.pop().close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class ForkProvisioner(LocalProvisioner):  # type: ignore[misc]
    """``LocalProvisioner`` that starts ``ipykernel_launcher`` kernels as zygote forks.

    ``server`` is set by the owner before the kernel starts; requests the zygote cannot
    serve use the ordinary launch (and then everything behaves as in the base class).
    """

    server: ForkServer | None = None
    forked = False
    _live = False

    @property
    def has_process(self) -> bool:
        if self.forked:
            return self._live
        return bool(super().has_process)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        server = self.server
        if server is not None and cmd[:3] == [sys.executable, "-m", "ipykernel_launcher"]:
            env = dict(kwargs.get("env") or os.environ)
            env["JPY_PARENT_PID"] = str(os.getpid())
            cwd = kwargs.get("cwd") or os.getcwd()
            pid = await asyncio.get_running_loop().run_in_executor(
                None, server.fork, list(cmd[3:]), cwd, env
            )
            if pid:
                self.pid = self.pgid = pid
                self.cwd = cwd
                self.forked = self._live = True
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    async def poll(self) -> int | None:
        if not self.forked:
            return await super().poll()  # type: ignore[no-any-return]
        if not self._live:
            return 0
        assert self.server is not None and self.pid is not None
        return self.server.poll(int(self.pid))

    async def wait(self) -> int | None:
        if not self.forked:
            return await super().wait()  # type: ignore[no-any-return]
        code: int | None = 0
        if self._live:
            while (code := await self.poll()) is None:
                await asyncio.sleep(0.05)
            self._live = False
        return code

    async def send_signal(self, signum: int) -> None:
        if not self.forked:
            await super().send_signal(signum)
            return
        if not self._live or self.pid is None:
            return
        try:
            os.killpg(int(self.pid), signum)
        except OSError:
            os.kill(int(self.pid), signum)

    async def kill(self, restart: bool = False) -> None:
        if not self.forked:
            await super().kill(restart)
            return
        try:
            await self.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        await self._reaped(KILL_WAIT)

    async def _reaped(self, seconds: float) -> None:
        """Poll the zygote every :data:`KILL_POLL` s, for at most ``seconds``, until it
        has reaped the killed kernel: the kernel manager's own wait checks once, then
        sleeps 0.1 s, so a kernel found gone at once saves that sleep on every run."""
        end = time.monotonic() + seconds
        while await self.poll() is None and time.monotonic() < end:
            await asyncio.sleep(KILL_POLL)

    async def terminate(self, restart: bool = False) -> None:
        if not self.forked:
            await super().terminate(restart)
            return
        try:
            await self.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
