# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""NVFP4, MXFP4 and W4A8 weights, the GPUs that run them, and sizing from a measured weights size."""

from __future__ import annotations

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, models, sizing, weights


@pytest.mark.parametrize("quant,bits", [
    # NVFP4: 4-bit e2m1 + one FP8 e4m3 scale per 16 values (NVIDIA "Introducing NVFP4" technical blog) = 4.5
    ("nvfp4", 4.5),
    # MXFP4: 4-bit e2m1 + one E8M0 scale per 32 values (OCP Microscaling Formats v1.0, MXFP4 k = 32) = 4.25
    ("mxfp4", 4.25),
    # W4A8: INT4 weights + one 16-bit scale per group of 128 (SGLang w4afp8, group_size 128) = 4.125
    ("w4a8", 4.125),
])
def test_bits_per_weight(quant, bits):
    assert catalog.QUANTS[quant]["bits"] == bits
    result = weights.weights("DeepSeek-R1", quant)
    assert result["bits_per_weight"] == bits
    # embeddings, head, norms and router stay 16-bit, as in FP8 checkpoints
    b = models.model_spec("DeepSeek-R1")["params_breakdown"]
    matrices = b["attention"] + b["mlp_dense"] + b["experts_shared"] + b["experts_routed"]
    assert result["bytes"] == int(round(matrices * bits / 8 + (b["embed"] + b["lm_head"] + b["norms_router_bias"]) * 2))


@pytest.mark.parametrize("spelling,quant", [
    ("NVFP4", "nvfp4"), ("modelopt_fp4", "nvfp4"), ("MXFP4", "mxfp4"), ("W4AFP8", "w4a8"), ("w4a8_fp8", "w4a8"),
])
def test_aliases(spelling, quant):
    assert weights.normalize_quant(spelling) == quant


@pytest.mark.parametrize("gpu,runs", [
    ("B200", {"nvfp4", "mxfp4"}), ("B300", {"nvfp4", "mxfp4"}), ("GB200", {"nvfp4", "mxfp4"}),
    ("RTX-PRO-6000-SE", {"nvfp4", "mxfp4"}), ("RTX5090", {"nvfp4", "mxfp4"}),
    ("MI355X", {"mxfp4"}), ("MI300X", set()), ("MI325X", set()),
    ("H100-80G", {"w4a8"}), ("H200", {"w4a8"}), ("H20", {"w4a8"}),
    ("L40S", set()), ("A100-80G", set()), ("V100-32G", set()),
])
def test_native_4bit_formats_per_gpu(gpu, runs):
    assert set(sizing.gpu_spec(gpu)["weight_dtypes"]) & {"nvfp4", "mxfp4", "w4a8"} == runs


def test_nvfp4_plan_on_b200_through_sizing_facade():
    plan = sizing.gpu_plan("DeepSeek-R1", "B200", quant="nvfp4")
    assert plan["fits"] is True
    assert plan["quant"] == "nvfp4"
    # 671B parameters at 4.5 bits (+ 16-bit embeddings/norms) = 354 GiB: four 180 GB B200s, not eight as at FP8
    assert plan["weights_total_gib"] == 354.155
    assert plan["gpus"] == 4


def test_nvfp4_is_refused_on_hopper_by_name():
    plan = sizing.gpu_plan("DeepSeek-R1", "H200", quant="nvfp4")
    assert plan["fits"] is False
    assert plan["reason"].startswith("quant 'nvfp4' cannot run on H200, hopper (compute capability 9.0)")


@pytest.mark.parametrize("quant_config,native", [
    ({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16}, "nvfp4"),
    ({"quant_method": "mxfp4"}, "mxfp4"),
    ({"quant_method": "w4afp8", "weight_group_size": 128}, "w4a8"),
    ({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized"}, "nvfp4"),
])
def test_native_dtype_of_a_4bit_checkpoint(quant_config, native):
    config = dict(catalog.MODELS[0]["config"], quantization_config=quant_config)
    assert models.model_spec(config)["native_dtype"] == native


# Mixed "dynamic" GGUF quants have no single bits per weight: unsloth's DeepSeek-R1 UD-IQ1_S is published as 131GB
# (https://unsloth.ai/blog/deepseekr1-dynamic, "1.58bit UD-IQ1_S 131GB").
MEASURED = {"model": "DeepSeek-R1", "weights_bytes": "131GB"}


def test_measured_weights_size_is_the_total():
    result = weights.weights(MEASURED, "iq1_s")
    assert result["bytes"] == 131 * 10 ** 9
    assert result["source"] == "measured"
    assert result["note"].startswith("weights size measured (weights_bytes 131000000000), not estimated from bits per weight")
    estimated = weights.weights("DeepSeek-R1", "iq1_s")
    assert estimated["source"] == "estimated"
    # the IQ1_S estimate (1.56 bits for every matrix, F32 norms) lands near the file by chance, 131.26 GB; the
    # measured size is what the plan uses
    assert estimated["bytes"] == 131258946847 != result["bytes"]


def test_measured_size_is_split_in_proportion_to_the_estimate():
    spec = models.model_spec(MEASURED)
    mat, emb, small = weights._component_bytes(spec, "iq1_s")
    base = weights._estimated_component_bytes(spec, "iq1_s")
    assert mat / base[0] == pytest.approx(emb / base[1]) == pytest.approx(small / base[2])
    plan = sizing.gpu_plan(MEASURED, "H200", quant="iq1_s")
    assert plan["weights_total_gib"] == round(131e9 / 2 ** 30, 3)


def test_measured_size_on_a_config_dict():
    config = dict(catalog.MODELS[0]["config"], weights_bytes=200 * 2 ** 30)
    assert weights.weights(config, "q2_k")["total_gib"] == 200.0


@pytest.mark.parametrize("model,message", [
    ({"model": "DeepSeek-R1", "weights_bytes": 0}, "weights_bytes must be > 0, got 0"),
    ({"model": "DeepSeek-R1", "weights_bytes": "lots"}, "weights_bytes must be a size in bytes or a string like '100GiB'"),
    ({"model": "DeepSeek-R1", "quant": "iq1_s"}, "model dict with 'model' takes only 'weights_bytes' beside it, got quant"),
])
def test_bad_measured_size_is_refused_by_name(model, message):
    with pytest.raises(common.SizingError) as err:
        weights.weights(model, "iq1_s")
    assert str(err.value).startswith(message)


def test_catalogue_is_not_mutated_by_measured_sizes():
    weights.weights(MEASURED, "iq1_s")
    assert models.model_spec("DeepSeek-R1")["weights_bytes"] is None
    assert weights.weights("DeepSeek-R1", "iq1_s")["source"] == "estimated"


@pytest.mark.parametrize("gpu,gib", [("MI325X", 256), ("MI355X", 288)])
def test_datasheet_memory_is_named_in_the_plan(gpu, gib):
    # No rocm-smi total for these boards was found to cite (MI300X's, 205822885888 B, is): the catalogue holds the
    # datasheet's GiB and every plan on them says so, so nobody mistakes it for a measured total.
    assert sizing.gpu_spec(gpu)["memory_gib"] == gib
    plan = sizing.gpu_plan("DeepSeek-R1-Distill-Llama-70B", gpu, quant="bf16")
    assert any(note.startswith("%s memory is the datasheet's %d GiB" % (gpu, gib)) for note in plan["notes"]), plan["notes"]
    assert not any("datasheet" in note for note in sizing.gpu_plan("DeepSeek-R1-Distill-Llama-70B", "MI300X", quant="bf16")["notes"])
