"""The model: loading MusicGen (or the tiny offline one), LoRA hot-swap, generation, audio files.

Depends on nothing above it (config, schemas, files). Importing this package does not import
torch: the modules that need it import it when called, so the web app starts fast.
"""
