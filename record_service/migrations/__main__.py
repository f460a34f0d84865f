"""Writes the record service's next schema revision: `python -m record_service.migrations "what changes"`."""

from __future__ import annotations

import sys

from record_service.migrations import SCRIPT_LOCATION
from service_common.migrations import revision_command

if __name__ == "__main__":
    sys.exit(revision_command(SCRIPT_LOCATION, "python -m record_service.migrations"))
