# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which GPU runs which weight and KV-cache dtype, and which engine runs it there.

check() is the first step of gpu_plan: a refusal (one sentence, with the reason), the notes a plan carries
(FP8 weights weight-only on Ampere, an FP8 KV cache stored but computed in 16-bit, BF16 mapped to FP16), and the
engines that cannot run the dtypes on that GPU (their flags are left out; a plan for them is refused).
"""

from __future__ import annotations

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, models


def compute_major(gpu):
    """Major compute capability of an NVIDIA GPU ("9.0" -> 9), None for AMD (gfx942) or a dict without one."""
    try:
        return int(str(gpu.get("compute_capability", "")).split(".", 1)[0])
    except ValueError:
        return None


def check(spec, gpu, quant, kv):
    """Returns (reason or None, effective kv name, notes, dtype override, {engine: why it cannot run these dtypes})."""
    notes = []
    dtype_override = None
    unsupported = {}
    kind = catalog.QUANTS[quant]["kind"]
    base = "gguf" if kind == "gguf" else quant
    name = gpu["name"]
    arch = "%s (compute capability %s)" % (gpu.get("architecture", "unknown"), gpu.get("compute_capability"))
    required = tuple(spec.get("requires_architectures") or ())
    if required and gpu.get("architecture") not in required:
        return ("%s runs only on %s GPUs; %s is %s" % (spec["name"], ", ".join(required), name, arch), kv, notes, dtype_override, unsupported)
    major = compute_major(gpu)
    if spec.get("attention_kind") == "mla_sparse" and major is not None and major not in models.SPARSE_COMPUTE_MAJORS:
        return ("%s's sparse attention kernels (vLLM FlashMLA sparse) run on compute capability %s only (Hopper, data-centre "
                "Blackwell); %s is %s" % (spec["name"], " and ".join("%d.x" % m for m in models.SPARSE_COMPUTE_MAJORS), name, arch),
                kv, notes, dtype_override, unsupported)
    if base not in gpu["weight_dtypes"]:
        if base == "bf16" and "fp16" in gpu["weight_dtypes"]:
            dtype_override = "fp16"
            notes.append("%s has no BF16; weights run as FP16 (vLLM --dtype half), as the engines map it" % name)
        else:
            return ("quant %r cannot run on %s, %s; weight dtypes it runs: %s" % (quant, name, arch, ", ".join(gpu["weight_dtypes"])),
                    kv, notes, dtype_override, unsupported)
    if quant == "fp8" and not gpu.get("fp8"):
        notes.append("%s has no FP8 tensor cores: FP8 weights run weight-only (FP8 Marlin, W8A16) in vLLM; "
                     "SGLang needs a BF16 or INT8 checkpoint" % name)
        unsupported["sglang"] = "SGLang runs no FP8 checkpoint on %s, %s, which has no FP8 tensor cores; vLLM does, weight-only" % (name, arch)
    if kv.startswith("fp8") and not gpu.get("fp8"):
        allowed = ["auto"] + list(gpu["kv_dtypes"])
        # vLLM 0.11 on compute capability 8.x: an FP8 KV cache selects its Triton attention backend, which stores FP8 and
        # computes in 16-bit (vllm/platforms/cuda.py get_attn_backend_cls: "if (has_sink or use_fp8_kv_cache) and not
        # cls.is_device_capability(90): ... return TRITON_ATTN"); MLA models there run TRITON_MLA, which refuses it
        # ("TritonMLA V1 with FP8 KV cache not yet supported", vllm/v1/attention/backends/mla/triton_mla.py).
        if major != 8:
            return ("kv_dtype %r needs FP8 support: vLLM stores an FP8 KV cache on compute capability 8.x (Ampere) and newer; %s is %s; "
                    "kv_dtype it runs: %s" % (kv, name, arch, ", ".join(allowed)), kv, notes, dtype_override, unsupported)
        if spec["attention"] == "mla":
            return ("kv_dtype %r with MLA on %s, %s: vLLM's Triton MLA backend has no FP8 KV cache (\"TritonMLA V1 with FP8 KV cache "
                    "not yet supported\"); kv_dtype it runs: %s" % (kv, name, arch, ", ".join(allowed)), kv, notes, dtype_override, unsupported)
        notes.append("%s has no FP8 tensor cores: vLLM stores the FP8 KV cache and computes attention in 16-bit (Triton attention "
                     "backend); SGLang is not planned for it" % name)
        unsupported["sglang"] = "SGLang is not planned with an FP8 KV cache on %s, %s, which has no FP8 tensor cores; vLLM is" % (name, arch)
    if kv == "bf16" and "bf16" not in gpu["kv_dtypes"]:
        notes.append("%s has no BF16; KV cache stored as FP16" % name)
        kv = "fp16"
    return None, kv, notes, dtype_override, unsupported
