# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Every filter and test of the collection is documented for ansible-doc."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import COLLECTIONS_ROOT, REPO_ROOT

ANSIBLE_DOC = os.path.join(os.path.dirname(sys.executable), "ansible-doc")

FILTERS = {"model_spec", "gpu_spec", "weights_gib", "kv_bytes_per_token", "gpu_plan", "hugepages", "replicas_for_load", "plan_svg",
           "frontdoor_services", "frontdoor_problems", "engine_spec", "image_driver_check", "engine_command", "deployment_plan", "deployment_hosts",
           "fabric_config", "perftest_figures", "luks_volume_problems", "luks_device_verdict", "clevis_bindings",
           "jwks_verify_keys", "frontdoor_vrrp", "bundle_sources", "model_url_base", "bundle_apt_packages", "bundle_apt_sources",
           "bundle_gpu_hosts"}
TESTS = {"cuda_compatible"}

pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_DOC), reason="ansible-doc not installed beside this Python")


def _run(*args):
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS_ROOT
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    proc = subprocess.run([ANSIBLE_DOC] + list(args), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _listing(plugin_type):
    data = json.loads(_run("-t", plugin_type, "-l", "onprem.deepseek", "--json"))
    return dict((k.split(".")[-1], v) for k, v in data.items() if k.startswith("onprem.deepseek."))


@pytest.mark.parametrize("plugin_type,expected", [("filter", FILTERS), ("test", TESTS)])
def test_nothing_undocumented(plugin_type, expected):
    listing = _listing(plugin_type)
    assert set(listing) == expected
    for name, description in listing.items():
        assert description and "UNDOCUMENTED" not in str(description), name


def test_gpu_plan_doc_has_examples_and_return():
    data = json.loads(_run("-t", "filter", "onprem.deepseek.gpu_plan", "--json"))
    entry = data["onprem.deepseek.gpu_plan"]
    assert "onprem.deepseek.gpu_plan('H200')" in entry["examples"]
    assert {"fits", "tensor_parallel", "kv_tokens", "engine_args", "smallest_fit"} <= set(entry["return"]["_value"]["contains"])
    options = entry["doc"]["options"]
    assert {"quant", "kv_dtype", "gpus_per_node", "max_nodes", "max_model_len", "concurrency", "gpu_memory_utilization",
            "overhead_gib"} <= set(options)
