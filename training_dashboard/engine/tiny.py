"""A tiny, randomly initialised MusicGen built locally (``TD_BASE_MODEL=tiny``).

It needs no download: the product runs offline on a CPU with it and the tests use it.
The build is deterministic (fixed seeds, synthetic audio) and cached under the data dir.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
from pathlib import Path

TINY_DIRNAME = "tiny-musicgen"
SAMPLE_RATE = 32_000
UPSAMPLING = [8, 5, 4, 4]  # hop 640 samples = 50 Hz frames at 32 kHz
NUM_CODEBOOKS = 4
CODEBOOK_SIZE = 256
_BUILD_VERSION = 2  # bump when the recipe changes so cached copies are rebuilt
_MARKER = "td_tiny.json"

_WORDS = (
    "the a and with of in to for music beat song drum drums bass guitar piano synth violin strings "
    "jazz rock pop lofi hip hop ambient classical electronic techno house funk blues metal folk "
    "happy sad calm energetic dark bright chill upbeat slow fast mellow epic dreamy bpm style mood "
    "tempo instruments melody rhythm loop groove soft loud warm"
).split()


def tiny_model_dir(data_dir: Path) -> Path:
    """Where the tiny model lives under ``data_dir``."""
    return Path(data_dir) / "models" / TINY_DIRNAME


def ensure_tiny_model(data_dir: Path) -> Path:
    """Build the tiny model once (atomically) and return its directory."""
    target = tiny_model_dir(data_dir)
    if _is_current(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build in a private temp dir, then rename: concurrent builders never see half a model.
    tmp = Path(tempfile.mkdtemp(prefix=f".{TINY_DIRNAME}-", dir=target.parent))
    try:
        _build(tmp)
        if target.exists() and not _is_current(target):
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _is_current(target):  # someone else won the race with a good copy otherwise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_current(path: Path) -> bool:
    try:
        return json.loads((path / _MARKER).read_text())["version"] == _BUILD_VERSION
    except (OSError, ValueError, KeyError):
        return False


def _tokenizer():
    from transformers import T5Tokenizer

    # A fixed Unigram vocab: whole words first (preferred by their higher score), then every
    # printable character with and without the word-start marker so any text tokenizes.
    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    seen = {p for p, _ in vocab}
    for word in _WORDS:
        if f"▁{word}" not in seen:
            vocab.append((f"▁{word}", -2.0))
            seen.add(f"▁{word}")
    for ch in string.ascii_letters + string.digits + string.punctuation:
        for piece in (ch, f"▁{ch}"):
            if piece not in seen:
                vocab.append((piece, -5.0))
                seen.add(piece)
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _synthetic_audio(seconds: float = 8.0):
    """Deterministic tones, chords and noise bursts used to initialise the codebooks."""
    import numpy as np

    rng = np.random.default_rng(1234)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    clips = []
    for i in range(8):
        freqs = rng.uniform(80, 2000, size=3)
        wave = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in freqs) / 3
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t)
        noise = rng.normal(0, 0.05 * (i % 3), size=t.shape)
        clips.append((0.6 * wave * envelope + noise).astype("float32"))
    return np.stack(clips)[:, None, :]


def _build(out_dir: Path) -> None:
    import torch
    import transformers
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    # The pad/BOS id equals the codebook size by MusicGen's design; the config check warns about it.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    tokenizer = _tokenizer()
    torch.manual_seed(0)
    frame_rate = SAMPLE_RATE // (8 * 5 * 4 * 4)
    bandwidth = NUM_CODEBOOKS * frame_rate * 8 / 1000  # log2(256) = 8 bits per code
    text = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4,
                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    audio = EncodecConfig(sampling_rate=SAMPLE_RATE, upsampling_ratios=UPSAMPLING, codebook_size=CODEBOOK_SIZE,
                          target_bandwidths=[bandwidth], num_filters=8, hidden_size=32, codebook_dim=32,
                          num_lstm_layers=1, audio_channels=1, normalize=False, chunk_length_s=None, overlap=None)
    # initializer_factor 0.15 (default 0.02): with the default the logits are nearly flat
    # and the text barely moves them, so prompts, guidance and adapters would all sound alike.
    decoder = MusicgenDecoderConfig(vocab_size=CODEBOOK_SIZE, hidden_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, ffn_dim=128, num_codebooks=NUM_CODEBOOKS,
                                    max_position_embeddings=2048, pad_token_id=CODEBOOK_SIZE, initializer_factor=0.15,
                                    bos_token_id=CODEBOOK_SIZE)
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict())
    # Not a declared field in transformers 5.x, but forward(labels=) and generate() read it.
    config.decoder.decoder_start_token_id = CODEBOOK_SIZE
    model = MusicgenForConditionalGeneration(config).eval()
    _init_codebooks(model, bandwidth)
    gen = model.generation_config
    gen.pad_token_id = gen.bos_token_id = gen.decoder_start_token_id = CODEBOOK_SIZE
    gen.do_sample, gen.guidance_scale, gen.max_length = True, 3.0, 1500
    model.save_pretrained(out_dir)
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_side="left")
    MusicgenProcessor(extractor, tokenizer).save_pretrained(out_dir)
    (out_dir / _MARKER).write_text(json.dumps({"version": _BUILD_VERSION, "note": "random weights, demo only"}))


def _init_codebooks(model, bandwidth: float) -> None:
    """Fill each residual codebook from latent frames of audio.

    A fresh EnCodec has all-zero codebooks: every frame would encode to code 0 and every
    code decode to the same sound, which would hide any adapter effect.
    """
    import torch

    codec = model.audio_encoder
    gen = torch.Generator().manual_seed(0)
    audio = torch.from_numpy(_synthetic_audio())
    with torch.no_grad():
        # Random init leaves the latents dominated by the biases (nearly the same vector for
        # every frame) and tiny, so every code would decode to nearly the same waveform:
        # zero the biases so latents and audio follow the signal, and rescale to unit scale.
        for name, param in [*codec.encoder.named_parameters(), *codec.decoder.named_parameters()]:
            if name.endswith("bias"):
                param.zero_()
        last = codec.encoder.layers[-1].conv
        last.parametrizations.weight.original0.mul_(1.0 / float(codec.encoder(audio).std()))
        latents = codec.encoder(audio)  # (B, dim, frames)
        residual = latents.transpose(1, 2).reshape(-1, latents.shape[1])
        for layer in codec.quantizer.layers[: NUM_CODEBOOKS]:
            book = layer.codebook
            pick = torch.randperm(residual.shape[0], generator=gen)[: book.codebook_size]
            book.embed.copy_(residual[pick])
            book.embed_avg.copy_(residual[pick])
            residual = residual - book.decode(book.quantize(residual))
