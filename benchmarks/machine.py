"""Describe the machine a benchmark ran on (cores, CPU model, GPU) for its table caption."""

from __future__ import annotations

import os
import platform

import torch


def describe() -> str:
    """One line: CPU cores and model, torch threads, and the GPU when there is one."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} cores ({cpu}), torch threads {torch.get_num_threads()}, {gpu}"
