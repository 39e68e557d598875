# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""engine_command: the one place that turns a plan's flags into a container command line.

Upstream facts the cases rest on: podman refuses --shm-size with --ipc host ("cannot set shmsize when
running in the host IPC Namespace", libpod/options.go); docker's --entrypoint takes one program string
(docs.docker.com/reference/cli/docker/container/run/#entrypoint); vLLM's multi-node data-parallel
layout: the head `vllm serve --data-parallel-address A --data-parallel-rpc-port P`, the others add
`--headless --data-parallel-start-rank R` (docs.vllm.ai, "Data Parallel Deployment").
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError


def test_llama_cpp_python_translates_and_drops_flags_and_has_its_own_health_path(filters):
    out = filters["engine_command"]("llama_cpp", flags={"--ctx-size": 4096, "--parallel": 2, "--n-gpu-layers": 999},
                                    model_file="m.gguf", model_dir="/srv/m")
    assert out["entrypoint"] == []
    # --interrupt_requests False: llama-cpp-python's server otherwise ends a running stream when another request
    # arrives (llama_cpp/server/settings.py, interrupt_requests, default True).
    assert out["args"] == ["--model", "/models/m.gguf", "--model_alias", "deepseek", "--host", "127.0.0.1", "--port", "8000",
                           "--interrupt_requests", "False", "--n_ctx", "4096", "--n_gpu_layers", "999"]
    assert out["health_path"] == "/v1/models"
    assert out["run_options"][:6] == ["--network", "host", "--cgroupns", "private", "--shm-size", "1g"]
    assert "--entrypoint" not in out["run_options"]


def test_llama_server_keeps_the_plan_names(filters):
    out = filters["engine_command"]("llama_cpp", flags={"--ctx-size": 4096}, model_file="m.gguf", llama_cpp_server="llama_server")
    assert out["args"][2:4] == ["--alias", "deepseek"] and "--ctx-size" in out["args"]
    assert out["health_path"] == "/health"


def test_gpu_engine_gets_host_ipc_never_shm_size_and_one_entrypoint_program(filters):
    for access, gpu in (("cdi", ["--device", "nvidia.com/gpu=all"]), ("docker_runtime", ["--gpus", "all"])):
        out = filters["engine_command"]("sglang", flags={"--tp-size": 8}, model_dir="/m", gpu_access=access)
        run = out["run_options"]
        assert "--shm-size" not in run and run[run.index("--ipc") + 1] == "host"
        assert run[run.index(gpu[0]) + 1] == gpu[1]
        assert run[run.index("--entrypoint") + 1] == "python3"
        assert out["args"][:4] == ["-m", "sglang.launch_server", "--model-path", "/models"]


def test_user_env_adds_to_and_wins_over_the_cluster_variables(filters):
    out = filters["engine_command"]("vllm", flags={"--tensor-parallel-size": 8, "--pipeline-parallel-size": 2}, rank=1, nodes=2,
                                    head_address="10.0.0.11", cluster_address="10.0.0.12", cluster_interface="ib0",
                                    env={"NCCL_SOCKET_IFNAME": "=ib0,ib1", "NCCL_DEBUG": "INFO"}, gpu_access="cdi")
    assert out["env"] == {"GLOO_SOCKET_IFNAME": "ib0", "NCCL_SOCKET_IFNAME": "=ib0,ib1", "VLLM_HOST_IP": "10.0.0.12", "NCCL_DEBUG": "INFO"}
    assert "--env=NCCL_SOCKET_IFNAME==ib0,ib1" in out["run_options"]
    assert out["role"] == "worker" and out["entrypoint"] == ["ray"]


def test_vllm_dp_worker_start_rank_is_rank_times_local_size(filters):
    flags = {"--tensor-parallel-size": 1, "--data-parallel-size": 24, "--data-parallel-size-local": 8, "--enable-expert-parallel": True}
    out = filters["engine_command"]("vllm", flags=flags, rank=2, nodes=3, head_address="10.0.0.11", cluster_address="10.0.0.13",
                                    cluster_interface="ib0")
    args = out["args"]
    assert args[args.index("--data-parallel-start-rank") + 1] == "16" and "--headless" in args
    assert "VLLM_HOST_IP" in out["env"]


def test_bad_gpu_access_and_server_are_named(filters):
    with pytest.raises(AnsibleFilterError, match="gpu_access"):
        filters["engine_command"]("vllm", gpu_access="nvidia")
    with pytest.raises(AnsibleFilterError, match="llama_cpp_server"):
        filters["engine_command"]("llama_cpp", llama_cpp_server="ollama")


# llama.cpp across nodes: ggml's RPC backend. Worker flags from llama.cpp's tools/rpc/rpc-server.cpp usage
# ("-H HOST, --host HOST", "-p PORT, --port PORT", default port 50052); the server's from llama-cpp-python's
# server/settings.py (rpc_servers: "comma seperated list of rpc servers for offloading") and llama-server's `--rpc SERVERS`.
def test_llama_cpp_worker_runs_rpc_server_on_its_cluster_address_only(filters):
    out = filters["engine_command"]("llama_cpp", flags={"--n-gpu-layers": 1}, model_file="m.gguf", rank=1, nodes=2,
                                    head_address="10.0.0.11", cluster_address="10.0.0.12", cluster_interface="eth1", model_dir="/m")
    assert out["role"] == "worker" and out["entrypoint"] == ["rpc-server"]
    assert out["args"] == ["--host", "10.0.0.12", "--port", "50052"]
    assert out["health_path"] == "" and out["peers"] == []
    run = out["run_options"]
    assert run[run.index("--entrypoint") + 1] == "rpc-server"


def test_llama_cpp_head_offloads_to_its_workers_in_rank_order(filters):
    for server, flag in (("llama_cpp_python", "--rpc_servers"), ("llama_server", "--rpc")):
        out = filters["engine_command"]("llama_cpp", flags={"--n-gpu-layers": 1}, model_file="m.gguf", rank=0, nodes=3,
                                        head_address="10.0.0.11", cluster_address="10.0.0.11", cluster_interface="eth1",
                                        worker_addresses=["10.0.0.13", "10.0.0.12"], rpc_port=50100, llama_cpp_server=server)
        args = out["args"]
        assert out["role"] == "head" and args[args.index(flag) + 1] == "10.0.0.13:50100,10.0.0.12:50100"
        assert out["peers"] == ["10.0.0.13:50100", "10.0.0.12:50100"]
    single = filters["engine_command"]("llama_cpp", model_file="m.gguf")
    assert single["peers"] == [] and "--rpc_servers" not in single["args"]


def test_llama_cpp_head_without_its_workers_addresses_is_refused(filters):
    with pytest.raises(AnsibleFilterError, match="worker_addresses"):
        filters["engine_command"]("llama_cpp", model_file="m.gguf", rank=0, nodes=2, worker_addresses=[""])
    with pytest.raises(AnsibleFilterError, match="cluster_address"):
        filters["engine_command"]("llama_cpp", model_file="m.gguf", rank=1, nodes=2)
