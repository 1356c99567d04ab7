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

What a run writes in its run dir: ``metrics.jsonl`` (one JSON object a line: training steps
``{step, epoch, loss, lr, grad_norm[, reward_margin, reward_accuracy], time}``, evaluations
``{step, eval_loss, time}``; step 0 is the untrained adapter), ``checkpoints/``, ``best/``
(the best trained adapter on held-out data), the adapter itself and ``training_report.json``.

The adapter kept is the one with the lowest held-out loss, if training ever took it below
the untrained adapter's (step 0); otherwise the final one, registered marked "held-out loss
did not improve" (report: ``heldout_improved: false`` and a warning that says what to try).

Exit status:
    0    adapter trained and saved (and registered, unless --no-register)
    1    the run failed: the base model did not load, or saving the adapter or report failed
    2    bad usage: options, the export or the run directory (nothing was trained)
    3    adapter saved, but not registered (API unreachable or refused it); the message
         gives the reason and the ``register`` command to retry
    130  interrupted (Ctrl-C) or stopped on request (SIGTERM, the dashboard's Cancel) after a
         checkpoint: continue with --resume RUN_DIR
"""
