"""Pin every package of ``environment.yml`` to its version in ``requirements/constraints.txt``.

Run by ``make lock`` after the lock files are written, so that the conda environment and
the pip lock name the same versions. Lines keep their place and comments; a package listed
in ``environment.yml`` but missing from the lock is an error (exit 2).

    python requirements/pin_environment.py [environment.yml] [requirements/constraints.txt]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
_ENTRY = re.compile(r"^(\s*-\s+)([A-Za-z0-9][A-Za-z0-9._-]*)(\s*[<>=!~][^#]*?)?(\s*(?:#.*)?)$")
#: conda packages that are the interpreter or installer, not locked by pip
_UNPINNED = {"python", "pip"}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the ``name==version`` lines of a lock file."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[normalize(m.group(1))] = m.group(2)
    return pins


def pin(text: str, pins: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with each package entry pinned; also the names missing from ``pins``."""
    out, missing = [], []
    in_deps = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        if body and not body[0].isspace() and not body.startswith("#"):
            in_deps = body.startswith("dependencies:")
        m = _ENTRY.match(body) if in_deps else None
        if m and normalize(m.group(2)) not in _UNPINNED:
            name = m.group(2)
            version = pins.get(normalize(name))
            if version is None:
                missing.append(name)
            else:
                body = f"{m.group(1)}{name}=={version}{m.group(4) or ''}"
                line = body + ("\n" if line.endswith("\n") else "")
        out.append(line)
    return "".join(out), missing


def main(argv: list[str]) -> int:
    env = Path(argv[0] if argv else "environment.yml")
    lock = Path(argv[1] if len(argv) > 1 else "requirements/constraints.txt")
    text, missing = pin(env.read_text(), read_pins(lock))
    if missing:
        names = ", ".join(missing)
        print(
            f"error: {env}: not in {lock}: {names}; add to pyproject.toml, make lock",
            file=sys.stderr,
        )
        return 2
    env.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
