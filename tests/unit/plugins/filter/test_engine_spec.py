# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""engine_spec and image_driver_check.

Numbers: minimum drivers from the CUDA Toolkit release notes, Table 3 (CUDA 12.8 -> 570.26,
CUDA 12.9 -> 575.51.03; https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html#id5);
minor version compatibility of CUDA 12.x from 525.60.13 (same notes, Table 2). Debian 13's
non-free driver is 550.163.01 (https://packages.debian.org/trixie/nvidia-driver).
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError


def test_vllm_image_is_cuda_12_8_and_needs_a_gpu(filters):
    spec = filters["engine_spec"]("vllm")
    assert spec["image"] == "docker.io/vllm/vllm-openai:v0.11.0"
    assert spec["image_cuda"] == "12.8"
    assert spec["gpu"] is True
    assert spec["health_path"] == "/health"


def test_sglang_uses_the_maintained_release_tag_not_cu126(filters):
    spec = filters["engine_spec"]("sglang")
    assert spec["image"] == "docker.io/lmsysorg/sglang:v0.5.4"
    assert "cu126" not in spec["image"]
    assert spec["image_cuda"] == "12.9"


def test_llama_cpp_health_path_is_the_servers(filters):
    # llama.cpp's llama-server answers /health (tools/server/README.md of ggml-org/llama.cpp); llama-cpp-python's
    # server has no /health and answers /v1/models once the model is loaded (llama_cpp/server/app.py).
    assert filters["engine_spec"]("llama_cpp")["health_path"] == "/health"
    assert filters["engine_spec"]("llama_cpp", llama_cpp_server="llama_server")["health_path"] == "/health"
    assert filters["engine_spec"]("llama_cpp", llama_cpp_server="llama_cpp_python")["health_path"] == "/v1/models"
    # The other engines ignore it.
    assert filters["engine_spec"]("vllm", llama_cpp_server="llama_cpp_python")["health_path"] == "/health"
    with pytest.raises(AnsibleFilterError, match="llama_cpp_server"):
        filters["engine_spec"]("llama_cpp", llama_cpp_server="ollama")


def test_unknown_engine_says_did_you_mean(filters):
    with pytest.raises(AnsibleFilterError, match="did you mean vllm"):
        filters["engine_spec"]("vlm")


def test_debian_13_driver_550_cannot_run_the_vllm_image(filters):
    check = filters["image_driver_check"]("vllm", driver_version="550.163.01")
    assert check["checked"] and not check["ok"]
    assert check["minimum_driver"] == "570.26"
    assert "needs an NVIDIA driver >= 570.26" in check["message"]
    assert "nvidia_driver_branch to 570" in check["message"]


def test_driver_570_runs_vllm_but_not_sglang_cuda_12_9(filters):
    assert filters["image_driver_check"]("vllm", driver_version="570.195.03")["ok"]
    check = filters["image_driver_check"]("sglang", driver_version="570.195.03")
    assert not check["ok"] and check["minimum_driver"] == "575.51.03"


def test_branch_is_compared_before_a_driver_is_installed(filters):
    assert not filters["image_driver_check"]("vllm", driver_branch="550")["ok"]
    assert filters["image_driver_check"]("vllm", driver_branch="570")["ok"]
    assert filters["image_driver_check"]("vllm", driver_branch=580)["ok"]


def test_minor_version_compatibility_accepts_any_12x_driver_from_525_60_13(filters):
    check = filters["image_driver_check"]("vllm", driver_version="550.163.01", minor_version_compat=True)
    assert check["ok"] and check["minimum_driver"] == "525.60.13"


def test_nothing_to_compare_is_not_a_failure(filters):
    check = filters["image_driver_check"]("vllm")
    assert check["checked"] is False and check["ok"] is True
    assert "needs a driver >= 570.26" in check["message"]


def test_llama_cpp_has_no_cuda(filters):
    check = filters["image_driver_check"]("llama_cpp", driver_version="550.163.01")
    assert check["checked"] is False and check["ok"] is True


def test_image_cuda_override(filters):
    assert filters["image_driver_check"]("vllm", driver_version="550.163.01", image_cuda="12.4")["ok"]
    with pytest.raises(AnsibleFilterError, match="driver_version must be a dotted version"):
        filters["image_driver_check"]("vllm", driver_version="latest")
