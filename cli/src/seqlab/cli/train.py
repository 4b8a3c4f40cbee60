"""``seq-train``: train a model with the installed plugins and your user dirs."""

from __future__ import annotations

import sys

from seqlab.core.train_cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
