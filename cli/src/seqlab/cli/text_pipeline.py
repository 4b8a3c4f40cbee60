"""fairseq's ``--tokenizer`` and ``--bpe`` for the inference tools: raw text in, plain text out.

For a model trained on data prepared outside seq-preprocess (Moses tokenization and
subword-nmt BPE, GPT-2's byte-level BPE, fairseq's byte tokens, or a sentencepiece model of one's own),
``seq-interactive`` encodes each input line as that preparation did (tokenize, then apply BPE)
and both inference tools print ``D-`` lines decoded the other way (remove BPE, then
detokenize), as fairseq-interactive and fairseq-generate do. A checkpoint that carries its own sentencepiece model needs none of this.
"""

from __future__ import annotations

import argparse
from typing import Any

from seqlab.core import ConfigError, SeqlabError


def add_text_pipeline_args(parser: argparse.ArgumentParser) -> None:
    """``--tokenizer``, ``--bpe`` and their options (fairseq's names)."""
    g = parser.add_argument_group(
        "text preparation (for data not made by seq-preprocess --bpe sentencepiece)"
    )
    g.add_argument(
        "--tokenizer",
        choices=("moses", "space"),
        default=None,
        help="tokenize input and detokenize output as the training data was (moses needs sacremoses)",
    )
    g.add_argument(
        "--moses-source-lang", metavar="LANG", help="Moses tokenizer language (default: the source)"
    )
    g.add_argument(
        "--moses-target-lang", metavar="LANG", help="Moses detokenizer language (default: the target)"
    )
    g.add_argument("--moses-no-dash-splits", action="store_true", help="keep words with dashes whole")
    g.add_argument("--moses-no-escape", action="store_true", help="do not escape special characters")
    g.add_argument(
        "--bpe",
        choices=("subword_nmt", "fastbpe", "sentencepiece", "gpt2", "characters", "bytes", "byte_bpe"),
        default=None,
        help="apply this BPE to input and remove it from output",
    )
    g.add_argument(
        "--bpe-codes", metavar="FILE", help="the BPE codes file (--bpe subword_nmt, --bpe fastbpe)"
    )
    g.add_argument("--bpe-separator", default="@@", help="subword-nmt's continuation marker (default: @@)")
    g.add_argument(
        "--sentencepiece-model", metavar="FILE", help="the sentencepiece model file (--bpe sentencepiece)"
    )
    g.add_argument(
        "--sentencepiece-model-path",
        metavar="FILE",
        help="the sentencepiece model trained on byte characters (--bpe byte_bpe)",
    )
    g.add_argument("--gpt2-encoder-json", metavar="FILE", help="GPT-2's encoder.json (--bpe gpt2)")
    g.add_argument("--gpt2-vocab-bpe", metavar="FILE", help="GPT-2's vocab.bpe merges (--bpe gpt2)")


class TextPipeline:
    """Raw text to the tokens a model reads, and its output back to text."""

    def __init__(self, tokenizer: Any | None, bpe: Any | None) -> None:
        self.tokenizer, self.bpe = tokenizer, bpe

    def encode(self, line: str) -> str:
        """Tokenize, then apply BPE."""
        if self.tokenizer is not None:
            line = self.tokenizer.encode(line)
        return self.bpe.encode(line) if self.bpe is not None else line

    def decode(self, text: str) -> str:
        """Remove BPE, then detokenize."""
        if self.bpe is not None:
            text = self.bpe.decode(text)
        return self.tokenizer.decode(text) if self.tokenizer is not None else text


class _Space:
    def encode(self, line: str) -> str:
        return " ".join(line.split())

    decode = encode


class _Characters:
    """fairseq's ``--bpe characters``: one token per character, spaces written as ``\u2581``."""

    def encode(self, line: str) -> str:
        return " ".join(line.replace(" ", "\u2581"))

    def decode(self, text: str) -> str:
        return text.replace(" ", "").replace("\u2581", " ")


class _Bytes:
    """fairseq's ``--bpe bytes``: one token per UTF-8 byte (seqlab.tasks.byte_text), spaces as ``\u2581``."""

    def __init__(self) -> None:
        from seqlab.tasks.byte_text import decode_bytes, encode_bytes

        self.encode_bytes, self.decode_bytes = encode_bytes, decode_bytes

    def encode(self, line: str) -> str:
        return " ".join(self.encode_bytes(line).replace(" ", "\u2581"))

    def decode(self, text: str) -> str:
        return self.decode_bytes(text.replace(" ", "").replace("\u2581", " "))


class _Pieces:
    """An external sentencepiece model as fairseq's ``--bpe sentencepiece`` uses it."""

    flag = "--sentencepiece-model"

    def __init__(self, path: str) -> None:
        from seqlab.tasks.sentencepiece_model import SentencePieceModel

        try:
            self.model = SentencePieceModel.load(path)
        except SeqlabError as exc:  # a missing file or one that is no sentencepiece model
            raise ConfigError(f"{self.flag}: {str(exc).split(';')[0]}") from None

    def encode(self, line: str) -> str:
        return " ".join(self.model.encode(line))

    def decode(self, text: str) -> str:
        return text.replace(" ", "").replace("\u2581", " ").strip()


class _BytePieces(_Pieces):
    """fairseq's ``--bpe byte_bpe``: a sentencepiece model over byte characters."""

    flag = "--sentencepiece-model-path"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.bytes = _Bytes()

    def encode(self, line: str) -> str:
        return super().encode(self.bytes.encode_bytes(line))

    def decode(self, text: str) -> str:
        # stripped as --bpe sentencepiece is: the model's first piece starts with its word marker
        return self.bytes.decode(text).strip()


def build_text_pipeline(
    args: argparse.Namespace, task: Any | None, has_own_sentencepiece: bool
) -> TextPipeline | None:
    """The pipeline the flags ask for (None without ``--tokenizer`` and ``--bpe``); ``task`` names Moses' languages."""
    if args.tokenizer is None and args.bpe is None:
        for flag in (
            "bpe_codes",
            "sentencepiece_model",
            "sentencepiece_model_path",
            "gpt2_encoder_json",
            "gpt2_vocab_bpe",
        ):
            if getattr(args, flag):
                name = "--" + flag.replace("_", "-")
                raise ConfigError(f"{name} is read by --bpe; add --bpe {_bpe_for(flag)}")
        return None
    if args.bpe is not None and has_own_sentencepiece:
        raise ConfigError(
            f"--bpe {args.bpe}: the checkpoint's own sentencepiece model already encodes the text; drop --bpe"
        )
    return TextPipeline(_tokenizer(args, task), _bpe(args))


def _bpe_for(flag: str) -> str:
    named = {
        "bpe_codes": "subword_nmt",
        "sentencepiece_model": "sentencepiece",
        "sentencepiece_model_path": "byte_bpe",
    }
    return named.get(flag, "gpt2")


def _tokenizer(args: argparse.Namespace, task: Any) -> Any | None:
    if args.tokenizer == "space":
        return _Space()
    if args.tokenizer != "moses":
        return None
    from seqlab.tasks.moses_tokenizer import MosesTokenizer

    task_args = getattr(task, "args", None)
    source = args.moses_source_lang or getattr(task_args, "source_lang", None) or "en"
    target = args.moses_target_lang or getattr(task_args, "target_lang", None) or "en"
    return MosesTokenizer(source, target, args.moses_no_dash_splits, args.moses_no_escape)


def _bpe(args: argparse.Namespace) -> Any | None:
    if args.bpe in ("subword_nmt", "fastbpe"):
        if not args.bpe_codes:
            raise ConfigError(f"--bpe {args.bpe} needs its codes: add --bpe-codes FILE")
        from seqlab.tasks.subword_bpe import SubwordBpe

        return SubwordBpe(args.bpe_codes, args.bpe_separator, fastbpe=args.bpe == "fastbpe")
    if args.bpe == "characters":
        return _Characters()
    if args.bpe == "bytes":
        return _Bytes()
    if args.bpe == "byte_bpe":
        if not args.sentencepiece_model_path:
            raise ConfigError("--bpe byte_bpe needs its model: add --sentencepiece-model-path FILE")
        return _BytePieces(args.sentencepiece_model_path)
    if args.bpe == "sentencepiece":
        if not args.sentencepiece_model:
            raise ConfigError("--bpe sentencepiece needs its model: add --sentencepiece-model FILE")
        return _Pieces(args.sentencepiece_model)
    if args.bpe == "gpt2":
        if not args.gpt2_encoder_json or not args.gpt2_vocab_bpe:
            raise ConfigError(
                "--bpe gpt2 needs GPT-2's files: add --gpt2-encoder-json encoder.json --gpt2-vocab-bpe vocab.bpe"
            )
        from seqlab.tasks.gpt2_bpe import Gpt2Bpe

        return Gpt2Bpe(args.gpt2_encoder_json, args.gpt2_vocab_bpe)
    return None
