"""paramiko, imported without invoke.

paramiko imports invoke when it is installed, only to run ``Match exec`` lines of
ssh_config files, which butler-maint never reads; that import costs ~50 ms of every
command's start-up (unittest.mock and asyncio come with it). It is made to fail
quietly while paramiko loads; anything importing invoke later still gets it.
"""

from __future__ import annotations

import sys

if "invoke" in sys.modules:
    import paramiko
else:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` fail
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]

__all__ = ["paramiko"]
