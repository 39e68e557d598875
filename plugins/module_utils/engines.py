# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The serving engines: pinned image, its CUDA, GPU need, health path; and the image-vs-driver check.

One table, read by preflight (engine_spec filter: the image's CUDA against the driver) and by the
inference role (image, health path). The engine flags of a plan are built in sizing.py.

Sources of the image facts (read 2026-12-03):
- vLLM v0.11.0 image `vllm/vllm-openai:v0.11.0`: docker/Dockerfile of the v0.11.0 tag, `ARG CUDA_VERSION=12.8.1`
  (https://github.com/vllm-project/vllm/blob/v0.11.0/docker/Dockerfile).
- SGLang v0.5.4 image `lmsysorg/sglang:v0.5.4`: docker/Dockerfile `ARG CUDA_VERSION=12.9.1` since v0.5.2
  (https://github.com/sgl-project/sglang/pull/10221); the plain release tag is the maintained one and the
  `-cu126` variant is to be removed (https://github.com/sgl-project/sglang/pull/10671).
"""

from __future__ import annotations

import copy

from ansible_collections.onprem.deepseek.plugins.module_utils import sizing

ENGINES = {
    "vllm": {
        "version": "0.11.0",
        "image": "docker.io/vllm/vllm-openai:v0.11.0",
        "image_cuda": "12.8",
        "gpu": True,
        "health_path": "/health",
    },
    "sglang": {
        "version": "0.5.4",
        "image": "docker.io/lmsysorg/sglang:v0.5.4",
        "image_cuda": "12.9",
        "gpu": True,
        "health_path": "/health",
    },
    "llama_cpp": {
        "version": "0.3.16",
        "image": "localhost/onprem-deepseek/llama-cpp:0.3.16",
        "image_cuda": None,
        "gpu": False,
        "health_path": "/health",
    },
}


def engine_names():
    return sorted(ENGINES)


def engine_spec(engine):
    """The table's entry of `engine` (a copy), with its name."""
    if engine not in ENGINES:
        raise sizing._unknown("engine", engine, engine_names())
    spec = copy.deepcopy(ENGINES[engine])
    spec["name"] = engine
    return spec


def image_driver_check(engine, driver_version=None, driver_branch=None, image_cuda=None, minor_version_compat=False):
    """Whether the driver can run the engine image's CUDA.

    The loaded driver's version is compared when given; otherwise the branch that will be installed
    (the newest driver of a branch is assumed). Minor version compatibility is off by default: the
    engines compile PTX at run time (Triton, FlashInfer), which a driver older than the toolkit
    refuses ("the provided PTX was compiled with an unsupported toolchain").
    Returns {checked, ok, cuda, minimum_driver, against, message}.
    """
    spec = engine_spec(engine)
    cuda = image_cuda if image_cuda not in (None, "") else spec["image_cuda"]
    result = {"checked": False, "ok": True, "cuda": cuda, "minimum_driver": None, "against": None, "message": ""}
    if not cuda:
        result["message"] = "engine %s runs no CUDA image" % engine
        return result
    minimum = sizing.cuda_minimum_driver(cuda, minor_version_compat=minor_version_compat)
    result["minimum_driver"] = minimum
    if driver_version not in (None, ""):
        result.update(checked=True, against="driver %s" % driver_version,
                      ok=sizing.cuda_compatible(driver_version, cuda, minor_version_compat=minor_version_compat))
    elif driver_branch not in (None, ""):
        branch = sizing._version_tuple(driver_branch, "driver_branch")[0]
        result.update(checked=True, against="driver branch %d" % branch,
                      ok=branch >= sizing._version_tuple(minimum, "minimum")[0])
    else:
        result["message"] = "no driver loaded and no driver branch given: the image's CUDA %s needs a driver >= %s" % (cuda, minimum)
        return result
    if result["ok"]:
        result["message"] = "%s runs CUDA %s (the image of %s needs >= %s)" % (result["against"], cuda, engine, minimum)
    else:
        result["message"] = ("the %s image (CUDA %s) needs an NVIDIA driver >= %s, but the host has %s: set nvidia_driver_branch "
                             "to %s or newer, or pick an image built for an older CUDA (inference_image and deepseek_image_cuda)"
                             % (engine, cuda, minimum, result["against"], minimum.split(".")[0]))
    return result
