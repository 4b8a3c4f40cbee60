"""The transformer decoder, for encoder-decoder models and (without encoder attention) for LMs.

Incremental decoding: ``prev_output_tokens`` holds every token so far (as fairseq's
sequence generator passes it); the decoder runs only the positions it has not cached
yet (one per step, or a whole prompt at once) and keeps each layer's keys and values
in growable buffers (:mod:`.kv_cache`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from seqlab.core import ConfigError, IncrementalDecoder, SeqlabError
from seqlab.core.decoder import logits_of
from seqlab.core.incremental import IncrementalStateDict
from seqlab.core.utils import make_positions

from .activation_checkpointing import activation_mode, run_layer
from .adaptive_softmax import build_adaptive_softmax
from .attention_masks import decoder_self_attn_mask, key_padding_mask
from .dropout import dropout
from .encoder_out import encoder_states
from .layer_drop import check_layerdrop, kept_layers
from .positional_embedding import build_positional_embedding
from .transformer_layer import TransformerDecoderLayer


class TransformerDecoder(IncrementalDecoder):
    """Token and position embeddings, ``--decoder-layers`` layers, and the output projection."""

    # the encoder output reaches only the layers' CrossAttention, which groups beam rows itself;
    # a subclass that reads encoder_out in its own code must set this back to False
    supports_grouped_encoder_out = True
    # every cache is a SelfAttention's or a CrossAttention's, and both can merge theirs
    supports_merged_decoding = True

    def __init__(
        self, args: Any, dictionary: Any, embed_tokens: nn.Embedding, no_encoder_attn: bool = False
    ) -> None:
        super().__init__(dictionary)
        input_dim = embed_tokens.embedding_dim
        embed_dim = int(getattr(args, "decoder_embed_dim", None) or input_dim)
        output_dim = int(getattr(args, "decoder_output_dim", None) or embed_dim)
        self.padding_idx = embed_tokens.padding_idx
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if args.no_scale_embedding else math.sqrt(embed_dim)
        # --decoder-input-dim/--decoder-output-dim: the layers work in embed_dim between the two
        self.project_in_dim = nn.Linear(input_dim, embed_dim, bias=False) if input_dim != embed_dim else None
        self.project_out_dim = (
            nn.Linear(embed_dim, output_dim, bias=False)
            if output_dim != embed_dim and not getattr(args, "tie_adaptive_weights", False)
            else None
        )
        for projection in (self.project_in_dim, self.project_out_dim):
            if projection is not None:
                nn.init.xavier_uniform_(projection.weight)
        if output_dim != embed_dim and self.project_out_dim is None:
            raise ConfigError(
                "--tie-adaptive-weights feeds the decoder's output straight to the tied bands: leave "
                "--decoder-output-dim at --decoder-embed-dim"
            )
        self.max_target_positions = args.max_target_positions
        self.embed_positions = build_positional_embedding(
            embed_dim,
            self.padding_idx,
            args.max_target_positions,
            args.decoder_learned_pos,
            "--max-target-positions",
            args,
        )
        self.layernorm_embedding = nn.LayerNorm(embed_dim) if args.layernorm_embedding else None
        self.dropout = args.dropout
        encoder_dim = None if no_encoder_attn else getattr(args, "encoder_embed_dim", embed_dim)
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(
                embed_dim,
                args.decoder_ffn_embed_dim,
                args.decoder_attention_heads,
                dropout=args.dropout,
                attention_dropout=args.attention_dropout,
                activation_dropout=args.activation_dropout,
                activation_fn=args.activation_fn,
                normalize_before=args.decoder_normalize_before,
                encoder_embed_dim=encoder_dim,
            )
            for _ in range(args.decoder_layers)
        )
        self.layerdrop = check_layerdrop(getattr(args, "decoder_layerdrop", 0.0), "--decoder-layerdrop")
        self.activation_mode = activation_mode(args)
        final_norm = args.decoder_normalize_before and not getattr(args, "no_decoder_final_norm", False)
        self.layer_norm = nn.LayerNorm(embed_dim) if final_norm else None
        self.adaptive_softmax = build_adaptive_softmax(args, dictionary, output_dim, embed_tokens)
        self.output_projection: nn.Linear | None = None
        if self.adaptive_softmax is None:
            self.output_projection = nn.Linear(output_dim, len(dictionary), bias=False)
            if args.share_decoder_input_output_embed:
                if not isinstance(embed_tokens, nn.Embedding):
                    raise ConfigError(
                        "--share-decoder-input-output-embed needs one embedding table; with --adaptive-input "
                        "use --adaptive-softmax-cutoff with --tie-adaptive-weights"
                    )
                if input_dim != output_dim:
                    raise ConfigError(
                        f"--share-decoder-input-output-embed needs --decoder-input-dim ({input_dim}) "
                        f"to equal --decoder-output-dim ({output_dim})"
                    )
                self.output_projection.weight = embed_tokens.weight
            else:
                nn.init.normal_(self.output_projection.weight, mean=0.0, std=output_dim**-0.5)

    def forward(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: IncrementalStateDict | None = None,
        features_only: bool = False,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(logits B x T x V, extra)``; with ``incremental_state`` only the new positions'."""
        x, extra = self.extract_features(
            prev_output_tokens, encoder_out, incremental_state, need_attn=need_attn
        )
        return (x if features_only else self.output_layer(x)), extra

    def extract_features(
        self,
        prev_output_tokens: torch.Tensor,
        encoder_out: dict[str, Any] | None = None,
        incremental_state: IncrementalStateDict | None = None,
        need_attn: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Return ``(features B x T x C, {"attn": [B x T x S] or None, "inner_states": [...]})``."""
        total = prev_output_tokens.size(1)
        start = self._cached_length(incremental_state, total)
        padding = prev_output_tokens.eq(self.padding_idx)
        tokens = prev_output_tokens[:, start:]

        x = self.embed_scale * self.embed_tokens(tokens)
        if self.project_in_dim is not None:
            x = self.project_in_dim(x)
        if self.embed_positions is not None:
            self.embed_positions.check_length(total)
            positions = make_positions(prev_output_tokens, self.padding_idx)[:, start:]
            x = x + self.embed_positions(positions).to(x.dtype)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        x = dropout(x, self.dropout, self.training)

        self_attn_mask, is_causal = decoder_self_attn_mask(padding, start)
        memory, memory_padding = encoder_states(encoder_out)
        memory_mask = self._memory_mask(memory_padding, incremental_state)
        inner_states = [x.transpose(0, 1)]
        attn = None
        layers = kept_layers(self.layers, self.layerdrop, self.training)
        for i, layer in enumerate(layers):
            x, layer_attn = run_layer(
                layer,
                self.activation_mode,
                x,
                self_attn_mask=self_attn_mask,
                is_causal=is_causal,
                memory=memory,
                memory_mask=memory_mask,
                incremental_state=incremental_state,
                need_attn=need_attn and i == len(layers) - 1,
            )
            inner_states.append(x.transpose(0, 1))
            if layer_attn is not None:
                attn = layer_attn
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        if self.project_out_dim is not None:
            x = self.project_out_dim(x)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "decoder", {"length": total})
        return x, {"attn": None if attn is None else [attn], "inner_states": inner_states}

    def output_layer(self, features: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Project features to vocabulary logits (with an adaptive softmax: the features, as in fairseq)."""
        if self.output_projection is None:  # get_normalized_probs scores them
            return features
        return self.output_projection(features)

    def get_normalized_probs(
        self, net_output: Any, log_probs: bool, sample: dict[str, Any] | None = None
    ) -> torch.Tensor:
        """(Log-)probabilities: a softmax of the logits, or the adaptive softmax's of the features."""
        if self.adaptive_softmax is None:
            return super().get_normalized_probs(net_output, log_probs, sample)
        lprobs = self.adaptive_softmax.get_log_prob(logits_of(net_output))
        return lprobs if log_probs else lprobs.exp_()

    def normalizes_by_log_softmax(self) -> bool:
        """Whether the log-probabilities are the plain log-softmax of the logits (not with an adaptive softmax)."""
        own = type(self).get_normalized_probs is TransformerDecoder.get_normalized_probs
        return own and self.adaptive_softmax is None

    def output_projection_weight(self) -> torch.Tensor | None:
        """The projection's weight, unless a subclass changed ``forward``, ``output_layer`` or the projection."""
        cls = TransformerDecoder
        if type(self).forward is not cls.forward or type(self).output_layer is not cls.output_layer:
            return None
        projection = self.output_projection
        if type(projection) is not nn.Linear or projection.bias is not None:
            return None
        return projection.weight

    def max_positions(self) -> int:
        """The longest target this decoder accepts (``--max-target-positions``)."""
        return self.max_target_positions

    def merge_incremental_state(
        self, incremental_state: IncrementalStateDict, other: IncrementalStateDict
    ) -> None:
        """Append ``other``'s cached rows after this decode's; both must have decoded as many tokens."""
        mine, theirs = (self.get_incremental_state(s, "decoder") for s in (incremental_state, other))
        if mine != theirs:
            lengths = [None if s is None else s["length"] for s in (mine, theirs)]
            raise SeqlabError(
                f"cannot merge decodes at different steps ({lengths[0]} and {lengths[1]} tokens)"
            )
        super().merge_incremental_state(incremental_state, other)
        # whether the merged source has padding is decided again at the next step
        incremental_state.pop(self._state_key("memory"), None)

    def _cached_length(self, incremental_state: IncrementalStateDict | None, total: int) -> int:
        state = self.get_incremental_state(incremental_state, "decoder")
        cached = 0 if state is None else state["length"]
        if cached >= total:
            raise SeqlabError(
                f"incremental decoding got {total} tokens but has already decoded {cached}; pass every "
                "token so far (prev_output_tokens grows by one each step) or start a new incremental_state"
            )
        return cached

    def _memory_mask(
        self, memory_padding: torch.Tensor | None, incremental_state: IncrementalStateDict | None
    ) -> torch.Tensor | None:
        # Whether the source has padding is decided once per decode (one GPU sync): reordering
        # rows cannot add padding, and a mask with nothing hidden is still correct.
        if memory_padding is None:
            return None
        if incremental_state is None:
            return key_padding_mask(memory_padding)
        state = self.get_incremental_state(incremental_state, "memory")
        if state is None:
            state = {"padded": bool(memory_padding.any())}
            self.set_incremental_state(incremental_state, "memory", state)
        return ~memory_padding[:, None, None, :] if state["padded"] else None
