"""Named failpoints: a test hook that kills the process at a precise point of the pipeline.

`failpoint("publish.copied")` does nothing unless the environment variable `PWH_FAILPOINT` holds that
name; then it SIGKILLs the process's whole process group on the spot, as a crash, an OOM kill or a
power cut would: no `finally`, no `except`, no atexit, no flush. tests/e2e/test_crash_recovery.py uses it
where a kill timed from outside would rarely land (publishing takes milliseconds). Never set
`PWH_FAILPOINT` outside tests: it also kills whatever shares the process group (a shell pipeline).
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "PWH_FAILPOINT"


def failpoint(name: str) -> None:
    """Kill this process group now if `PWH_FAILPOINT` names this point; otherwise do nothing."""
    if os.environ.get(ENVIRONMENT_VARIABLE) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
