"""The CPU a figure was measured on, named as a reader needs it: its model, the instruction sets that decide speed
and numerics here (AVX2, AVX-512, VNNI, bf16, AMX), and the cores this process may use. Read from /proc/cpuinfo
on Linux without importing torch; elsewhere the platform's processor name and no flags."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from tagger.runtime import usable_cpus

# /proc/cpuinfo flag -> the name speed tables use. VNNI decides whether onnxruntime's int8 products need 7-bit
# weights; AVX-512 BF16 or AMX whether PyTorch has a bf16 LSTM.
FLAGS_THAT_MATTER = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}


@dataclass(frozen=True)
class CpuDescription:
    model: str
    flags: tuple[str, ...]  # of FLAGS_THAT_MATTER's names, in its order
    cores: int  # usable by this process (affinity, container quota)

    def __str__(self) -> str:
        flags = ", ".join(self.flags) if self.flags else "no AVX2"
        return f"{self.model} ({flags}; {self.cores} cores)"

    def to_dict(self) -> dict[str, object]:
        return {"model": self.model, "flags": list(self.flags), "cores": self.cores}


def describe_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuDescription:
    model, found = platform.processor() or platform.machine(), set()
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            found = set(value.split())
            break  # every processor lists the same flags
    return CpuDescription(
        model, tuple(name for flag, name in FLAGS_THAT_MATTER.items() if flag in found), usable_cpus()
    )
