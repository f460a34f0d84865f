"""Writes the order system's next schema revision: `python -m order_system.migrations "what changes"`."""

from __future__ import annotations

import sys

from order_system.migrations import SCRIPT_LOCATION
from service_common.migrations import revision_command

if __name__ == "__main__":
    sys.exit(revision_command(SCRIPT_LOCATION, "python -m order_system.migrations"))
