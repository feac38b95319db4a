#!/usr/bin/env python3
"""``render.py [COMMAND] ...``: the ``casereport`` command line with ``render`` as default."""

import sys

from casereport.__main__ import main

if __name__ == "__main__":
    sys.exit(main(default="render", prog="render.py"))
