"""Child process: encode the corpus with a sentencepiece model (the baseline's first preprocessing step).

python -m seqbench.spm_encode MODEL RAW_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from .data import encode_corpus

if __name__ == "__main__":
    model, raw, out = map(Path, sys.argv[1:4])
    encode_corpus(raw, model, out)
