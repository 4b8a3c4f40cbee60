"""The options of sequence generation (fairseq's flag names), as one documented dataclass."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from seqlab.core import ConfigError
from seqlab.core.suggest import did_you_mean


@dataclass
class GenerationConfig:
    """How hypotheses are searched for and scored."""

    beam: int = field(default=5, metadata={"help": "beam size (hypotheses kept per sentence)"})
    nbest: int = field(default=1, metadata={"help": "number of hypotheses to output per sentence"})
    max_len_a: float = field(
        default=0.0,
        metadata={"help": "generate at most max_len_a * x + max_len_b tokens, x the source length"},
    )
    max_len_b: int = field(
        default=200, metadata={"help": "generate at most max_len_a * x + max_len_b tokens"}
    )
    min_len: int = field(default=1, metadata={"help": "end-of-sentence is forbidden before this length"})
    match_source_len: bool = field(
        default=False,
        metadata={
            "help": "make each output exactly as long as its source (tokens, </s> excluded), as "
            "tagging needs; replaces --max-len-a/--max-len-b"
        },
    )
    lenpen: float = field(
        default=1.0,
        metadata={"help": "length penalty: scores are divided by length**lenpen (<1 shorter, >1 longer)"},
    )
    unkpen: float = field(
        default=0.0, metadata={"help": "subtracted from the log-probability of <unk> (>0: fewer unknowns)"}
    )
    unnormalized: bool = field(
        default=False, metadata={"help": "compare hypotheses by their summed log-probabilities"}
    )
    no_repeat_ngram_size: int = field(
        default=0, metadata={"help": "never repeat an n-gram of this size within a hypothesis (0: off)"}
    )
    diverse_beam_groups: int = field(
        default=-1,
        metadata={
            "help": "diverse beam search: split the beam into this many groups, each penalized for "
            "the tokens the groups before it chose at the same step (-1: off)"
        },
    )
    diverse_beam_strength: float = field(
        default=0.5, metadata={"help": "diverse beam search's penalty per earlier choice of a token"}
    )
    diversity_rate: float = field(
        default=-1.0,
        metadata={
            "help": "diverse siblings search: a hypothesis' r-th best continuation loses r times "
            "this (-1: off)"
        },
    )
    sampling: bool = field(default=False, metadata={"help": "sample tokens instead of beam search"})
    sampling_topk: int = field(
        default=-1, metadata={"help": "sample from the k most likely tokens only (-1: all)"}
    )
    sampling_topp: float = field(
        default=-1.0,
        metadata={"help": "sample from the smallest set of tokens whose probability reaches p (-1: off)"},
    )
    temperature: float = field(
        default=1.0, metadata={"help": "divide the logits by this before the softmax (<1 sharper)"}
    )
    prefix_size: int = field(
        default=0, metadata={"help": "force the first N tokens of each target (or the LM's input) as prefix"}
    )

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_args(cls, args: Any) -> GenerationConfig:
        """Read the fields from a flat ``args`` namespace; missing ones take their defaults."""
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | None, flag: str = "--eval-bleu-args") -> GenerationConfig:
        """Read a JSON object of generation options (``{"beam": 4, "lenpen": 0.6}``)."""
        try:
            values = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{flag} is not valid JSON ({exc.msg} at character {exc.pos}): {text!r}"
            ) from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{flag} must be a JSON object such as '{{\"beam\": 4}}', not {text!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key.replace("-", "_") not in names:
                raise ConfigError(f"{flag}: unknown generation option '{key}'{did_you_mean(key, names)}")
        defaults = cls()
        typed = {}
        for key, value in values.items():
            name = key.replace("-", "_")
            expected = type(getattr(defaults, name))
            ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok:
                raise ConfigError(f"{flag}: '{key}' must be a {expected.__name__}, not {value!r}")
            typed[name] = value
        return cls(**typed)

    def validate(self) -> None:
        """Reject settings that cannot work, naming the flag to change."""
        if self.beam < 1:
            raise ConfigError(f"--beam must be at least 1, not {self.beam}")
        if self.nbest < 1 or self.nbest > self.beam:
            raise ConfigError(f"--nbest {self.nbest} must be between 1 and --beam {self.beam}")
        if self.temperature <= 0:
            raise ConfigError(f"--temperature must be positive, not {self.temperature}")
        if self.no_repeat_ngram_size < 0:
            raise ConfigError(f"--no-repeat-ngram-size must be 0 or more, not {self.no_repeat_ngram_size}")
        if self.sampling_topp > 1:
            raise ConfigError(f"--sampling-topp must be at most 1, not {self.sampling_topp}")
        if (self.sampling_topk > 0 or self.sampling_topp > 0) and not self.sampling:
            raise ConfigError("--sampling-topk and --sampling-topp need --sampling")
        if self.sampling_topk > 0 and self.sampling_topp > 0:
            raise ConfigError("choose one of --sampling-topk and --sampling-topp")
        if self.diverse_beam_groups == 0 or self.diverse_beam_groups < -1:
            raise ConfigError(
                f"--diverse-beam-groups must be positive (or -1: off), not {self.diverse_beam_groups}"
            )
        if self.diverse_beam_groups > 0 and self.beam % self.diverse_beam_groups:
            raise ConfigError(
                f"--beam {self.beam} must be a multiple of --diverse-beam-groups {self.diverse_beam_groups}"
            )
        if self.diversity_rate < 0 and self.diversity_rate != -1:
            raise ConfigError(f"--diversity-rate must be 0 or more (or -1: off), not {self.diversity_rate}")
        strategies = [self.sampling, self.diverse_beam_groups > 0, self.diversity_rate >= 0]
        if sum(strategies) > 1:
            raise ConfigError("choose one of --sampling, --diverse-beam-groups and --diversity-rate")
        if self.prefix_size < 0:
            raise ConfigError(f"--prefix-size must be 0 or more, not {self.prefix_size}")
