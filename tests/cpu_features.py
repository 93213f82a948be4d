"""What the CPU running the tests offers, for the tests that need a feature: each such test names the feature
through one of these marks and is skipped elsewhere with the reason, so a run on any CPU is green and says what
it could not check there."""

from __future__ import annotations

import platform

import pytest
import torch

from tagger.precision import runs_bf16_lstm

CPU = torch.device("cpu")
X86 = platform.machine().lower() in {"x86_64", "amd64"}

requires_bf16_lstm = pytest.mark.skipif(
    not runs_bf16_lstm(CPU),
    reason="needs PyTorch's bf16 LSTM on this CPU (oneDNN has it with AVX-512 BF16 or AMX; this CPU offers "
    f"{torch.backends.cpu.get_cpu_capability()})",
)
requires_x86 = pytest.mark.skipif(
    not X86, reason=f"needs an x86-64 CPU (oneDNN's ISA cap); this is {platform.machine()}"
)
