# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Sizing filters of onprem.deepseek; each filter is documented in the sidecar <name>.yml beside this file.

Thin wrappers: the logic lives in plugins/module_utils (models, gpu_specs, weights, kvcache, layout, hugepages,
queueing, report, engines, deployment).
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.onprem.deepseek.plugins.module_utils import common, deployment, engines, gpu_specs, kvcache, layout, models, queueing, report, weights
# the module under another name: this file's filter function is called hugepages
from ansible_collections.onprem.deepseek.plugins.module_utils import hugepages as hugepages_utils

PREFIX = "onprem.deepseek."


def _wrap(name, func):
    fqcn = PREFIX + name

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except common.SizingError as exc:
            raise AnsibleFilterError("%s: %s" % (fqcn, exc))
        except TypeError as exc:
            # wrong number or names of arguments: report them instead of a traceback
            raise AnsibleFilterError("%s: bad arguments: %s" % (fqcn, exc))

    return wrapper


def model_spec(model):
    return models.model_spec(model)


def gpu_spec(gpu):
    return gpu_specs.gpu_spec(gpu)


def weights_gib(model, quant=None, include_mtp=False):
    return weights.weights(model, quant, include_mtp=include_mtp)


def kv_bytes_per_token(model, kv_dtype="auto"):
    return kvcache.kv_bytes_per_token(model, kv_dtype)


def gpu_plan(model, gpu, quant=None, kv_dtype="auto", gpus_per_node=layout.DEFAULT_GPUS_PER_NODE, max_nodes=None,
             max_model_len=None, concurrency=1, gpu_memory_utilization=layout.DEFAULT_GPU_MEMORY_UTILIZATION,
             overhead_gib=None, dp_attention=False, engine=None, margin_gib=None, min_kv_gib=None):
    return layout.gpu_plan(model, gpu, quant=quant, kv_dtype=kv_dtype, gpus_per_node=gpus_per_node, max_nodes=max_nodes,
                           max_model_len=max_model_len, concurrency=concurrency, gpu_memory_utilization=gpu_memory_utilization,
                           overhead_gib=overhead_gib, dp_attention=dp_attention, engine=engine, margin_gib=margin_gib, min_kv_gib=min_kv_gib)


def deployment_plan(settings, hosts=1):
    return deployment.deployment_plan(settings, hosts=hosts)


def deployment_hosts(hosts, hostvars, deployment_name=deployment.DEFAULT_DEPLOYMENT):
    host_deployments = {}
    for host in hosts or []:
        variables = hostvars[host]
        host_deployments[host] = variables.get("deepseek_deployment") if "deepseek_deployment" in variables else None
    return deployment.deployment_hosts(host_deployments, deployment_name)


def hugepages(size, page_size="2M", ram_total_gib=None, max_fraction=0.5):
    return hugepages_utils.hugepages(size, page_size=page_size, ram_total_gib=ram_total_gib, max_fraction=max_fraction)


def replicas_for_load(requests_per_day, seconds_per_request, peak_factor=1.0, method="average", max_wait_probability=0.2, slots_per_replica=1):
    return queueing.replicas_for_load(requests_per_day, seconds_per_request, peak_factor=peak_factor, method=method,
                                      max_wait_probability=max_wait_probability, slots_per_replica=slots_per_replica)


def plan_svg(plans, title="Per-GPU memory budget", width=900):
    return report.plan_svg(plans, title=title, width=width)


def engine_spec(engine, llama_cpp_server=None):
    return engines.engine_spec(engine, llama_cpp_server=llama_cpp_server)


def image_driver_check(engine, driver_version=None, driver_branch=None, image_cuda=None, minor_version_compat=False):
    return engines.image_driver_check(engine, driver_version=driver_version, driver_branch=driver_branch,
                                      image_cuda=image_cuda, minor_version_compat=minor_version_compat)


def engine_command(engine, flags=None, served_model_name="deepseek", bind_address="127.0.0.1", port=8000, extra_args=None,
                   model_file="", llama_cpp_server="llama_cpp_python", rank=0, nodes=1, head_address="", cluster_address="",
                   cluster_interface="", ray_port=6379, ray_ports=None, dp_rpc_port=13345, sglang_dist_port=5000,
                   model_dir="", gpu_access="none", shm_size="1g", env=None, fabric_env=None, rdma=False, worker_addresses=None,
                   rpc_port=50052):
    command = engines.command_line(engine, dict(flags or {}), served_model_name=served_model_name, bind_address=bind_address, port=port,
                                   extra_args=extra_args, model_file=model_file, llama_cpp_server=llama_cpp_server, rank=rank, nodes=nodes,
                                   head_address=head_address, cluster_address=cluster_address, cluster_interface=cluster_interface,
                                   ray_port=ray_port, ray_ports=ray_ports, dp_rpc_port=dp_rpc_port, sglang_dist_port=sglang_dist_port,
                                   worker_addresses=worker_addresses, rpc_port=rpc_port)
    # The fabric's NCCL settings (the same as /etc/nccl.conf, set by the operator) over the engine's derived cluster
    # variables, the inventory's env on top.
    command["env"] = dict(command["env"], **dict(dict(fabric_env or {}), **dict(env or {})))
    command["run_options"] = engines.run_options(command["entrypoint"], model_dir, gpu_access=gpu_access, shm_size=shm_size,
                                                 env=command["env"], rdma=bool(rdma))
    return command


FILTERS = {
    "model_spec": model_spec,
    "gpu_spec": gpu_spec,
    "weights_gib": weights_gib,
    "kv_bytes_per_token": kv_bytes_per_token,
    "gpu_plan": gpu_plan,
    "deployment_plan": deployment_plan,
    "deployment_hosts": deployment_hosts,
    "hugepages": hugepages,
    "replicas_for_load": replicas_for_load,
    "plan_svg": plan_svg,
    "engine_spec": engine_spec,
    "image_driver_check": image_driver_check,
    "engine_command": engine_command,
}


class FilterModule(object):
    """onprem.deepseek sizing filters."""

    def filters(self):
        return dict((name, _wrap(name, func)) for name, func in FILTERS.items())
