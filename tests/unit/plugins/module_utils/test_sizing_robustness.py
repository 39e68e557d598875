# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Bad numbers fail by name, huge loads return, and no GPU alias resolves to two catalogue entries."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, gpu_specs, queueing, sizing

BAD_NUMBERS = [float("inf"), float("-inf"), float("nan"), "1e999", "abc", True, 10 ** 400]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_number_refuses_non_finite_and_non_numbers(value):
    with pytest.raises(common.SizingError) as err:
        common._number("requests_per_day", value, 0.0)
    assert err.value.argument == "requests_per_day"
    assert str(err.value).startswith("requests_per_day must be a")


@pytest.mark.parametrize("argument,position", [("requests_per_day", 0), ("seconds_per_request", 1)])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_replicas_for_load_names_the_bad_argument(argument, position, value):
    args = [1000, 2]
    args[position] = value
    with pytest.raises(common.SizingError) as err:
        queueing.replicas_for_load(*args, method="erlang_c")
    assert err.value.argument == argument


@pytest.mark.parametrize("kwarg", ["peak_factor", "max_wait_probability", "slots_per_replica"])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), "1e999", "abc", True])
def test_replicas_for_load_names_the_bad_keyword(kwarg, value):
    with pytest.raises(common.SizingError) as err:
        queueing.replicas_for_load(1000, 2, method="erlang_c", **{kwarg: value})
    assert err.value.argument == kwarg


def test_overflowing_product_is_refused():
    with pytest.raises(common.SizingError) as err:
        queueing.replicas_for_load(1e308, 1e308)
    assert err.value.argument == "requests_per_day"


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_parse_size_refuses_non_finite(value):
    with pytest.raises(common.SizingError) as err:
        common.parse_size(value, "size")
    assert str(err.value) == "size must be a finite size in bytes, got %r" % value


def test_parse_size_refuses_an_int_past_any_memory():
    # 10**400 bytes would overflow every float product downstream (hugepages, weights_bytes)
    with pytest.raises(common.SizingError) as err:
        common.parse_size(10 ** 400, "size")
    assert str(err.value).startswith("size must be below 2**64 bytes, got 1000")


CONFIG_KEYS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "kv_lora_rank", "q_lora_rank",
               "n_routed_experts", "max_position_embeddings"]


@pytest.mark.parametrize("key", CONFIG_KEYS)
@pytest.mark.parametrize("value", [float("inf"), float("nan"), "64", 1.5, -1, 10 ** 400])
def test_config_json_bad_integers_are_refused_by_name(key, value):
    # A config.json dict's integers are checked before any arithmetic: no OverflowError, ValueError or unbounded
    # per-layer walk (10**400 layers) reaches the caller.
    config = copy.deepcopy(catalog.MODELS[0]["config"])
    config[key] = value
    with pytest.raises(common.SizingError) as err:
        sizing.gpu_plan(config, "H200", max_model_len=4096)
    assert repr(key) in str(err.value)


def test_config_json_layers_are_capped():
    config = copy.deepcopy(catalog.MODELS[0]["config"])
    config["num_hidden_layers"] = 4097
    with pytest.raises(common.SizingError) as err:
        sizing.model_spec(config)
    assert str(err.value) == "model config.json key 'num_hidden_layers' must be an integer from 1 to 4096, got 4097"
    config["num_attention_heads"] = 0
    with pytest.raises(common.SizingError):
        sizing.model_spec(config)


def test_huge_load_erlang_c_returns_at_least_the_average_answer():
    # 1e12 requests a day of 1 s each: a = 1e12 / 86400 = 11,574,074 Erlangs, under the documented cap
    average = queueing.replicas_for_load(1e12, 1)
    erlang = queueing.replicas_for_load(1e12, 1, method="erlang_c")
    assert erlang["concurrent_requests"] >= average["concurrent_requests"]
    assert erlang["wait_probability"] <= 0.2
    # square-root staffing: the answer stays within a + 100 sqrt(a) + 100 (the search's own bound)
    load = erlang["offered_load_erlangs"]
    assert erlang["concurrent_requests"] <= load + 100 * load ** 0.5 + 100


def test_load_past_the_erlang_c_cap_is_refused_with_the_reason():
    # 1e12 requests a day of 10,000 s each: 1.16e11 Erlangs, past queueing.MAX_ERLANG_C_LOAD
    with pytest.raises(common.SizingError) as err:
        queueing.replicas_for_load(1e12, 10000, method="erlang_c")
    assert err.value.argument == "requests_per_day"
    assert "use method average" in str(err.value)
    assert queueing.replicas_for_load(1e12, 10000)["replicas"] == 115740740741  # ceil(1e12 x 10000 / 86400)


@pytest.mark.parametrize("load", [0.5, 2.0, 7.3, 42.0, 250.0, 1000.7, 12000.5])
@pytest.mark.parametrize("target", [0.5, 0.2, 0.01, 1e-6])
def test_erlang_c_walk_agrees_with_the_plain_search(load, target):
    plain = int(load) + 1
    while queueing.erlang_c(plain, load) > target:
        plain += 1
    assert queueing._erlang_c_slots(load, target)[0] == plain


def test_no_gpu_name_or_alias_maps_to_two_entries():
    owners = {}
    for entry in catalog.GPUS:
        for name in [entry["name"]] + list(entry["aliases"]):
            owners.setdefault(gpu_specs._gpu_key(name), set()).add(entry["name"])
    clashes = dict((key, sorted(names)) for key, names in owners.items() if len(names) > 1)
    assert clashes == {}
    # and every PCI name resolves, through the same key, to its own entry
    for entry in catalog.GPUS:
        for name in entry.get("pci", {}).values():
            assert owners[gpu_specs._gpu_key(name)] == set([entry["name"]]) or gpu_specs.gpu_spec(name)["name"] == entry["name"]


def test_volta_runs_neither_bf16_nor_fp8():
    v100 = gpu_specs.gpu_spec("Tesla V100-SXM2-32GB")
    assert v100["name"] == "V100-32G"
    assert "bf16" not in v100["weight_dtypes"] and "fp8" not in v100["weight_dtypes"]
    assert v100["kv_dtypes"] == ["fp16"] and v100["fp8"] is False


def test_unknown_model_and_gpu_name_the_route_without_a_catalogue_entry():
    # Issue 13: "did you mean" plus the config.json / dict route, in the sizing error itself (preflight passes it on).
    with pytest.raises(common.SizingError) as model_error:
        sizing.model_spec('deepseek-v3.3')
    assert 'did you mean DeepSeek-V3' in str(model_error.value) and "config.json as a dict" in str(model_error.value)
    with pytest.raises(common.SizingError) as gpu_error:
        sizing.gpu_spec('H2000')
    assert 'did you mean H200' in str(gpu_error.value) and 'dict with memory_gib' in str(gpu_error.value)


def test_did_you_mean_matches_the_names_nvidia_smi_prints():
    # The closest names come from the aliases too (nvidia-smi / rocm-smi spellings), reported by catalogue name.
    with pytest.raises(common.SizingError) as err:
        sizing.gpu_spec("NVIDIA RTX PRO 6000 Blackwell Workstation Edition")
    assert "did you mean RTX-PRO-6000-SE" in str(err.value)
    with pytest.raises(common.SizingError) as err:
        sizing.model_spec("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruc")
    assert "unknown model 'deepseek-ai/DeepSeek-Coder-V2-Lite-Instruc'" in str(err.value)
    assert "did you mean DeepSeek-Coder-V2-Lite-Instruct" in str(err.value)


@pytest.mark.parametrize("name", ["deepseek-ai/deepseek-vl2-small", "DeepSeek-VL2", "deepseek-vl-7b-chat", "deepseek-ai/Janus-Pro-7B",
                                  "deepseek-ai/DeepSeek-OCR"])
def test_vision_model_names_are_refused_with_the_language_tower_route(name):
    with pytest.raises(common.SizingError) as err:
        sizing.model_spec(name)
    assert str(err.value).startswith("model %r is a vision-language model" % name)
    assert "'language_config' dict" in str(err.value)
