# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""One deployment -> one plan: the inventory's deployment settings turned into gpu_plan's arguments.

The plan playbook (the report) and the preflight role (what gets deployed) both call deployment_plan(),
so the report is exactly what the roles deploy: same defaults, same host count, same engine rules.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.onprem.deepseek.plugins.module_utils import common, layout

# Deployment settings: the inventory variable is deepseek_<key> (docs/inventory.md); the value is its default.
SETTINGS = {
    "model": "",
    "gpu": "",
    "quant": "",
    "kv_dtype": "auto",
    "gpus_per_node": layout.DEFAULT_GPUS_PER_NODE,
    "max_nodes": 0,
    "max_model_len": 0,
    "concurrency": 1,
    "gpu_memory_utilization": layout.DEFAULT_GPU_MEMORY_UTILIZATION,
    "overhead_gib": None,
    "dp_attention": False,
    "engine": "vllm",
    # measured weights: a size (bytes or '131GB'), else the model store's manifest ([{name, sha256, size}]) when every
    # weight file in it has a size; the plan then sizes the weights from that total (weights.weights: source measured)
    "weights_bytes": None,
    "model_store_manifest": None,
}
# Files of a checkpoint that hold weights (a manifest's config.json, tokenizer and README do not).
WEIGHT_FILE_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt")

DEFAULT_DEPLOYMENT = "default"


def _bool(name, value):
    """Ansible's own boolean rule (yes/no, on/off, true/false, 1/0, y/n, t/f); blank is false."""
    if _blank(value):
        return False
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise common.SizingError("deepseek_%s must be true or false, got %r" % (name, value), name, value)


def _num(name, value, kind):
    if isinstance(value, bool):
        raise common.SizingError("deepseek_%s must be a number, got %r" % (name, value), name, value)
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise common.SizingError("deepseek_%s must be a number, got %r" % (name, value), name, value)


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def resolve_model(model):
    """A catalogue name or config.json dict as given; an absolute or ./ path: the config.json in it (read on the controller)."""
    if isinstance(model, str) and (model.startswith("/") or model.startswith("./")):
        path = os.path.join(os.path.abspath(model), "config.json")
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            raise common.SizingError("deepseek_model %r: cannot read %s on the controller (%s)" % (model, path, exc), "model", model)
    return model


def settings(given):
    """The deployment's settings with the defaults filled in; an unknown key is an error."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise common.SizingError("unknown deployment setting(s) %s; allowed: %s" % (", ".join(unknown), ", ".join(sorted(SETTINGS))),
                                 "settings", unknown)
    result = dict(SETTINGS)
    result.update(dict((key, value) for key, value in given.items() if value is not None))
    return result


def deployment_hosts(host_deployments, deployment=DEFAULT_DEPLOYMENT):
    """Hosts of `deployment` from {host: its deepseek_deployment or None}: a host without one is in 'default'."""
    return sorted(host for host, name in dict(host_deployments).items() if (DEFAULT_DEPLOYMENT if _blank(name) else name) == deployment)


def manifest_weights_bytes(manifest):
    """Total size of the weight files in a model store manifest, or None when there are none or one has no size."""
    if _blank(manifest):
        return None
    if not isinstance(manifest, (list, tuple)) or not all(isinstance(entry, dict) and entry.get("name") for entry in manifest):
        raise common.SizingError("model_store_manifest must be a list of {name, sha256, size}, got %r" % (manifest,),
                                 "model_store_manifest", manifest)
    files = [entry for entry in manifest if str(entry["name"]).lower().endswith(WEIGHT_FILE_SUFFIXES)]
    if not files or any(_blank(entry.get("size")) for entry in files):
        return None
    return sum(common.parse_size(entry["size"], "model_store_manifest size of %s" % entry["name"]) for entry in files)


def _measured(model, s):
    """The model with its measured weights size attached, when the settings give one."""
    size = None if _blank(s["weights_bytes"]) else s["weights_bytes"]
    if size is None:
        size = manifest_weights_bytes(s["model_store_manifest"])
    if size is None:
        return model
    if isinstance(model, dict):
        return dict(model, weights_bytes=size)
    return {"model": model, "weights_bytes": size}


def deployment_plan(given, hosts=1):
    """gpu_plan for one deployment from its settings and the number of its hosts.

    max_nodes 0 means "the deployment's hosts"; max_model_len 0 means the model's; an empty quant the
    model's own; an engine the plan does not know plans as engine-neutral. Without a model or a GPU there
    is nothing to plan: {'fits': True, 'gpus': 0, 'skipped': True, 'reason': ...}.
    """
    s = settings(given)
    model = resolve_model(s["model"])
    if not model or _blank(model) or not s["gpu"] or _blank(s["gpu"]):
        return {"fits": True, "gpus": 0, "skipped": True, "reason": "nothing to plan: no deepseek_model or no deepseek_gpu"}
    hosts = _num("hosts", hosts, int)
    max_nodes = _num("max_nodes", s["max_nodes"], int)
    max_model_len = _num("max_model_len", s["max_model_len"], int)
    engine = None if _blank(s["engine"]) or s["engine"] not in layout.PLAN_ENGINES else s["engine"]
    # ranges are gpu_plan's to check (one message per argument, whoever calls it)
    return layout.gpu_plan(
        _measured(model, s), s["gpu"],
        quant=None if _blank(s["quant"]) else s["quant"],
        kv_dtype=s["kv_dtype"] or "auto",
        gpus_per_node=_num("gpus_per_node", s["gpus_per_node"], int),
        max_nodes=max_nodes if max_nodes > 0 else max(hosts, 1),
        max_model_len=max_model_len if max_model_len > 0 else None,
        concurrency=_num("concurrency", s["concurrency"], int),
        gpu_memory_utilization=_num("gpu_memory_utilization", s["gpu_memory_utilization"], float),
        overhead_gib=None if _blank(s["overhead_gib"]) else _num("overhead_gib", s["overhead_gib"], float),
        dp_attention=_bool("dp_attention", s["dp_attention"]),
        engine=engine)
