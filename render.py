#!/usr/bin/env python3
"""Render the case report: ``python render.py --help``."""

import sys

from casereport.render.cli import main

if __name__ == "__main__":
    sys.exit(main())
