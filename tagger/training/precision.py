"""The training forward pass's precision: bf16 autocast where it was asked for (or chosen by ``auto`` on a CUDA
GPU with bf16), refused before any work where the device cannot run it."""

from __future__ import annotations

from typing import Any

import torch

from tagger.errors import ConfigError, setting
from tagger.precision import runs_bf16_lstm


def check_precision(device: torch.device, precision: str) -> None:
    """bf16 asked for where this device cannot run the model's bf16 LSTM is refused before any work: oneDNN has
    bf16 LSTM kernels only on CPUs with AVX-512 BF16 or AMX, and elsewhere PyTorch fails at the first batch with
    "could not create a primitive descriptor for the LSTM forward propagation primitive"."""
    if precision != "bf16" or runs_bf16_lstm(device):
        return
    if device.type == "cuda":
        where = f"this GPU ({torch.cuda.get_device_name(device)}) has no bf16 support"
    else:
        capability = torch.backends.cpu.get_cpu_capability()
        where = (
            f"PyTorch has no bf16 LSTM kernel for this CPU (it needs AVX-512 BF16 or AMX; this one offers {capability})"
        )
    raise ConfigError(f"{setting('train.precision', 'bf16')}: {where}; use {setting('train.precision', 'fp32')}")


def autocast(device: torch.device, precision: str) -> Any:
    """bf16 autocast for the forward pass on CUDA (``auto``: where the GPU supports bf16; no loss scaling
    needed, unlike fp16), or fp32 as it is; the CRF and softmax losses are computed in fp32 either way."""
    wanted = precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=wanted)
