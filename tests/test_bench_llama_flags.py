"""The decode benchmark builds llama.cpp for the instruction sets the kernel lists, not cpuid's."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_decode import llama_cmake_args


def test_an_avx2_only_host_builds_without_avx512(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx f16c fma avx2 bmi2\n", "utf-8")
    args = llama_cmake_args(cpuinfo).split()
    assert args[0] == "-DGGML_NATIVE=OFF"
    assert "-DGGML_AVX2=ON" in args and "-DGGML_FMA=ON" in args
    assert "-DGGML_AVX512=OFF" in args


def test_an_avx512_host_enables_it_and_an_unknown_host_enables_nothing(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: avx avx2 fma f16c avx512f avx512_vnni\n", "utf-8")
    args = llama_cmake_args(cpuinfo).split()
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args
    assert "-DGGML_AVX512_BF16=OFF" in args and "-DGGML_AVX_VNNI=OFF" in args
    unknown = llama_cmake_args(tmp_path / "missing").split()
    assert unknown[0] == "-DGGML_NATIVE=OFF" and all(a.endswith("=OFF") for a in unknown)
