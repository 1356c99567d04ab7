"""Train a LoRA adapter for MusicGen on a dataset export, then register it.

Examples (copy-paste)::

    # A tiny CPU run, fully offline (a small random MusicGen is built under the data dir):
    TD_BASE_MODEL=tiny python -m training_dashboard.training sft \\
        --data data/exports/1-my-dataset-jsonl --name my-first-lora --epochs 2 --lr 1e-2 --batch-size 2

    # Supervised fine-tuning on an export (the Datasets tab shows this exact command):
    python -m training_dashboard.training sft --data data/exports/3-good-lofi-jsonl --name lofi-sft

    # Preference optimisation (DPO; the reference model is the base with the adapter disabled):
    python -m training_dashboard.training dpo --data data/exports/4-prefs-huggingface --name lofi-dpo --beta 0.1

    # Hyper-parameters from a JSON file, one of them overridden; resume an interrupted run:
    python -m training_dashboard.training sft --data EXPORT --config train.json --lr 5e-5
    python -m training_dashboard.training sft --data EXPORT --resume data/adapters/lofi-sft-1.0.0

    # Register a finished run later (e.g. the API was down when training ended):
    python -m training_dashboard.training register data/adapters/lofi-sft-1.0.0
"""
