"""paramiko, imported without invoke, and kept quiet.

paramiko imports invoke when it is installed, only to run ``Match exec`` lines of
ssh_config files, which butler-maint never reads; that import costs ~50 ms of every
command's start-up (unittest.mock and asyncio come with it). It is made to fail
quietly while paramiko loads; anything importing invoke later still gets it.

paramiko logs what goes wrong in its transport thread (a banner that never comes, a
reset connection) at ERROR level with a traceback; without a handler, Python's
last-resort handler prints that on stderr, in the middle of a run's output. Every such
failure also reaches the executor as an exception, which it turns into a one-line
message, so paramiko's log goes nowhere: a handler that drops it, and no propagation
to the root logger (set ``logging.getLogger("paramiko").propagate = True`` to debug).
"""

from __future__ import annotations

import logging
import sys

if "invoke" in sys.modules:
    import paramiko
else:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` fail
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]

_LOG = logging.getLogger("paramiko")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False

__all__ = ["paramiko"]
