"""Where bf16 pays: whether a device computes bf16 natively, and so the precision a tagger runs in by default."""

from __future__ import annotations

import functools

import torch
from torch import nn


@functools.cache
def runs_bf16_lstm(device: torch.device) -> bool:
    """Whether a bf16 autocast LSTM runs forward and backward on ``device``: tried once on a tiny LSTM, since the
    CPU flags that decide it differ between oneDNN releases and CPU vendors. On a CPU it is true where bf16 is
    native (AVX-512 BF16 or AMX); elsewhere oneDNN has no bf16 LSTM, and bf16 matrix products are emulated."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    lstm = nn.LSTM(4, 4, batch_first=True, bidirectional=True).to(device)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            output, _ = lstm(torch.ones(1, 2, 4, device=device))
        output.float().sum().backward()
    except RuntimeError:
        return False
    return True


def tagging_mode(quantize: str, device: torch.device, frozen_networks: bool) -> str:
    """The precision a tagger loaded with ``quantize`` runs in, as ``tagger.model.quantize`` names it. ``auto`` is
    bf16 for a model whose features come from frozen networks (character LMs, a contextual encoder), which are most
    of its tagging time, on a CPU that computes bf16 natively: such models then tag 1.8-2.2x as fast, and moved at
    most 14 of CoNLL-2003 test's 46,435 tags and its F1 by at most 0.04 (BENCHMARKS.md, C7). Anything else stays
    fp32 under ``auto``: the other presets gain less from bf16."""
    if quantize != "auto":
        return quantize
    native = device.type == "cpu" and runs_bf16_lstm(device)
    return "bf16" if native and frozen_networks else "none"
