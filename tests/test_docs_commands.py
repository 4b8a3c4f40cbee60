"""The commands of docs/getting-started.md run as written, on tiny data instead of Multi30k."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"

#: what the doc says -> what the test runs: a tiny corpus and a tiny, short run
SUBSTITUTIONS = [
    ("../shared/data/multi30k/", "{corpus}/"),
    ("--spm-vocab-size 8000", "--spm-vocab-size 300"),
    ("--encoder-layers 3 --decoder-layers 3", "--encoder-layers 1 --decoder-layers 1"),
    ("--encoder-embed-dim 256 --decoder-embed-dim 256", "--encoder-embed-dim 32 --decoder-embed-dim 32"),
    (
        "--encoder-ffn-embed-dim 1024 --decoder-ffn-embed-dim 1024",
        "--encoder-ffn-embed-dim 64 --decoder-ffn-embed-dim 64",
    ),
    ("--warmup-updates 1000", "--warmup-updates 2"),
    ("--max-epoch 8", "--max-update 3"),
]


def bash_blocks(text: str) -> list[str]:
    """The ```bash blocks of a Markdown text, line continuations joined."""
    return [block.replace("\\\n", " ") for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def _tiny_corpus(folder: Path) -> None:
    rng = random.Random(0)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 7))) for _ in range(60)
    ]
    for split, n in [("train", 300), ("val", 30), ("test_2016_flickr", 30)]:
        for lang in ("en", "de"):
            lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]
            (folder / f"{split}.{lang}").write_text("\n".join(lines) + "\n")


def test_getting_started_commands_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _tiny_corpus(corpus)
    text = DOC.read_text()
    for old, _ in SUBSTITUTIONS:
        assert old in text, f"docs/getting-started.md no longer contains {old!r}: update this test with it"
    for old, new in SUBSTITUTIONS:
        text = text.replace(old, new.format(corpus=corpus))
    commands = [b.strip() for b in bash_blocks(text) if not b.strip().startswith("pip install")]
    assert [c.split()[0] for c in commands] == ["seq-preprocess", "seq-train", "seq-generate", "echo"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert (tmp_path / "checkpoints" / "multi30k" / "checkpoint_best.pt").exists()
    assert "BLEU" in proc.stdout or proc.stdout.strip()  # the last command printed a translation
