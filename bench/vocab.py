"""Fixed vocabularies for the synthetic workload (prompts, tags, raters)."""

from __future__ import annotations

STYLES = ["ambient", "lofi hip hop", "synthwave", "jazz", "orchestral", "techno", "folk", "drum and bass",
          "blues", "reggae", "cinematic", "chiptune", "bossa nova", "house", "post-rock", "trap"]
MOODS = ["calm", "uplifting", "dark", "melancholic", "energetic", "dreamy", "tense", "playful", "epic", "warm"]
INSTRUMENTS = ["piano", "synth", "drums", "bass", "guitar", "strings", "brass", "flute", "vocals", "pads",
               "organ", "marimba", "cello", "808", "harp"]
# ~40 tags; earlier entries are drawn more often (Zipf-like), so TAGS[0] is the most frequent.
TAGS = ["good-melody", "repetitive", "too-short", "muddy-mix", "great-groove", "off-tempo", "clipping",
        "boring", "catchy", "noisy", "lush", "thin", "wrong-mood", "nice-drums", "harsh", "creative",
        "glitchy", "warm", "cold", "abrupt-end", "well-structured", "off-key", "bass-heavy", "dynamic",
        "flat", "atmospheric", "cheesy", "professional", "amateur", "emotional", "generic", "loop-friendly",
        "distorted", "clean", "complex", "simple", "vintage", "modern", "danceable", "relaxing"]
RATERS = [f"rater{i:02d}" for i in range(1, 13)]
