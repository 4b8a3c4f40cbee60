"""A rank stops when the launcher that started it dies.

torchrun (and ``seq-train --distributed-world-size N``, which runs torch's launcher in-process)
starts each rank in a session of its own. When the launcher ends normally or by SIGTERM it stops
its ranks first; killed outright (SIGKILL, the OOM killer) it cannot, and the ranks went on
training with nobody to collect them, still holding the cores and the save dir. Each rank
therefore polls its parent process: once the parent is gone (the rank is re-parented), the rank
sends itself SIGTERM, which the training loop turns into a checkpoint at the next update
boundary that every rank agrees on, as for a SIGTERM from the user.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

logger = logging.getLogger("seqlab.train")

#: seconds between two looks at the parent process
POLL_S = 1.0


def stop_when_launcher_exits(poll_s: float = POLL_S) -> threading.Thread | None:
    """Start a daemon thread that SIGTERMs this process once its parent has exited (None if it cannot tell)."""
    parent = os.getppid()
    if parent <= 1:  # started by init, or already orphaned: no launcher to watch
        return None

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                logger.warning(
                    "the launcher (pid %d) is gone: stopping at the next update, as on SIGTERM", parent
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=watch, name="seqlab-launcher-watch", daemon=True)
    thread.start()
    return thread
