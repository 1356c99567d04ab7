"""Model loading, LoRA hot-swap and the generation worker.

Importing this package does not import torch: the web app starts fast and the API can
check adapters at registration cheaply. Torch is loaded by the worker thread.
"""

from training_dashboard.engine.adapter_check import adapter_base_model, read_adapter_config, verify_adapter_dir
from training_dashboard.engine.prompting import conditioning_text
from training_dashboard.engine.worker import Engine, job_seeds

__all__ = ["Engine", "adapter_base_model", "conditioning_text", "job_seeds", "read_adapter_config",
           "verify_adapter_dir"]
