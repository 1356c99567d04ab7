"""Turning clips into MusicGen's delay pattern, and the log-probabilities of those codes.

Codebook k of frame t sits at position t + k + 1; position 0 is BOS and every other slot
is pad (pad == BOS == codebook size in MusicGen), exactly what ``generate`` produces.
The model reads positions 0..L-2 and is scored on positions 1..L-1 that are not pad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class CodeBatch:
    text: dict[str, torch.Tensor]  # tokenizer output (input_ids, attention_mask)
    inputs: torch.Tensor  # (B*K, L-1) decoder input ids
    targets: torch.Tensor  # (B, K, L-1)
    mask: torch.Tensor  # (B, K, L-1) True where the target is a real code


def encode_clip(base: Any, wave: np.ndarray) -> torch.Tensor:
    """EnCodec codes (K, T) of one mono clip, with the model's own audio encoder."""
    codec = base.model.audio_encoder
    bandwidth = codec.config.target_bandwidths[-1]
    with torch.no_grad():
        values = torch.from_numpy(wave).to(base.device)[None, None, :]
        codes = codec.encode(values, bandwidth=bandwidth).audio_codes  # (1, 1, K, T)
    return codes[0, 0].cpu()


def delay_pattern(codes: list[torch.Tensor], pad: int) -> torch.Tensor:
    """Stack clips of (K, T_i) codes into delayed sequences (B, K, T_max + K)."""
    k = codes[0].shape[0]
    t_max = max(c.shape[1] for c in codes)
    seq = torch.full((len(codes), k, t_max + k), pad, dtype=torch.long)
    for b, clip in enumerate(codes):
        for cb in range(k):
            seq[b, cb, cb + 1: cb + 1 + clip.shape[1]] = clip[cb]
    return seq


def make_batch(base: Any, texts: list[str], codes: list[torch.Tensor],
               drop_text: list[bool] | None = None) -> CodeBatch:
    """Tokenize the prompts and lay out the codes; ``drop_text`` rows become unconditional.

    An unconditional row gets an all-zero attention mask: MusicGen then zeroes its text
    states, exactly what classifier-free guidance uses as the unconditional branch.
    """
    text = base.processor(text=texts, padding=True, return_tensors="pt")
    if drop_text is not None and any(drop_text):
        mask = text["attention_mask"].clone()
        mask[torch.tensor(drop_text)] = 0
        text["attention_mask"] = mask
    seq = delay_pattern(codes, base.pad_token_id)
    b, k, length = seq.shape
    targets = seq[:, :, 1:]
    return CodeBatch(
        text={name: value.to(base.device) for name, value in text.items()},
        inputs=seq[:, :, :-1].reshape(b * k, length - 1).to(base.device),
        targets=targets.to(base.device),
        mask=(targets != base.pad_token_id).to(base.device),
    )


def token_logprobs(model: Any, batch: CodeBatch) -> torch.Tensor:
    """Log-probability of every target code, (B, K, L-1), zero at pad positions."""
    out = model(**batch.text, decoder_input_ids=batch.inputs, use_cache=False)
    b, k, n = batch.targets.shape
    logits = out.logits.reshape(b, k, n, -1).float()
    logp = logits.log_softmax(-1)
    vocab = logp.shape[-1]
    picked = logp.gather(-1, batch.targets.clamp(max=vocab - 1).unsqueeze(-1)).squeeze(-1)
    return picked * batch.mask


def sft_loss(model: Any, batch: CodeBatch) -> torch.Tensor:
    """Mean cross-entropy over the real codes of the batch."""
    return -token_logprobs(model, batch).sum() / batch.mask.sum().clamp(min=1)


def sequence_logprob(model: Any, batch: CodeBatch) -> torch.Tensor:
    """Summed log-probability of each sequence, (B,)."""
    return token_logprobs(model, batch).sum(dim=(1, 2))
