# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The serving engines: pinned image, its CUDA, GPU need, health path; the image-vs-driver check; the flags of a plan.

One table, read by preflight (engine_spec filter: the image's CUDA against the driver) and by the
inference role (image, health path). gpu_plan (layout.py) asks _engine_args for the flags of a plan. Which layouts each
engine starts, its KV paging and its memory rules are the plan rules of engine_rules.RULES, keyed like ENGINES.

Sources of the image facts (read 2026-12-03):
- vLLM v0.11.0 image `vllm/vllm-openai:v0.11.0`: docker/Dockerfile of the v0.11.0 tag, `ARG CUDA_VERSION=12.8.1`
  (https://github.com/vllm-project/vllm/blob/v0.11.0/docker/Dockerfile).
- SGLang v0.5.4 image `lmsysorg/sglang:v0.5.4`: docker/Dockerfile `ARG CUDA_VERSION=12.9.1` since v0.5.2
  (https://github.com/sgl-project/sglang/pull/10221); the plain release tag is the maintained one and the
  `-cu126` variant is to be removed (https://github.com/sgl-project/sglang/pull/10671).
"""

from __future__ import annotations

import copy
import math
import shlex

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, common, cuda_driver

ENGINES = {
    "vllm": {
        "version": "0.11.0",
        "image": "docker.io/vllm/vllm-openai:v0.11.0",
        "image_cuda": "12.8",
        "gpu": True,
        "health_path": "/health",
        "entrypoint": ["vllm"],
    },
    "sglang": {
        "version": "0.5.4",
        "image": "docker.io/lmsysorg/sglang:v0.5.4",
        "image_cuda": "12.9",
        "gpu": True,
        "health_path": "/health",
        "entrypoint": ["python3", "-m", "sglang.launch_server"],
    },
    "llama_cpp": {
        "version": "0.3.16",
        "image": "localhost/onprem-deepseek/llama-cpp:0.3.16",
        "image_cuda": None,
        "gpu": False,
        # llama.cpp's llama-server; the lab image's llama-cpp-python server differs (LLAMA_CPP_SERVERS).
        "health_path": "/health",
        "entrypoint": [],
    },
}

# The two servers the llama_cpp image may run. llama-cpp-python has no /health (its model list answers once
# loaded) and spells the plan's llama-server flags its own way (None: no equivalent, the flag is dropped).
LLAMA_CPP_SERVERS = {
    "llama_server": {"health_path": "/health", "alias_flag": "--alias", "rpc_flag": "--rpc", "flag_names": {}, "fixed": []},
    "llama_cpp_python": {
        "health_path": "/v1/models",
        "alias_flag": "--model_alias",
        "rpc_flag": "--rpc_servers",
        # Its server runs one request at a time and by default (interrupt_requests=True, llama_cpp/server/settings.py)
        # ends the running stream when another request arrives: concurrent clients got empty streams (measured with
        # the lab image on 2026-12-04: 4 concurrent streams of 64 tokens all complete with it off). Queue them instead.
        "fixed": ["--interrupt_requests", "False"],
        "flag_names": {
            "--ctx-size": "--n_ctx",
            "--n-gpu-layers": "--n_gpu_layers",
            "--parallel": None,
            "--split-mode": None,
            "--cache-type-k": None,
            "--cache-type-v": None,
            "--threads": "--n_threads",
            "--batch-size": "--n_batch",
        },
    },
}

# Ray's ports besides the head's --port, fixed so that a firewall can admit them from the cluster network only.
RAY_PORT_FLAGS = (
    ("node_manager", "--node-manager-port"),
    ("object_manager", "--object-manager-port"),
    ("dashboard_agent_grpc", "--dashboard-agent-grpc-port"),
    ("dashboard_agent_listen", "--dashboard-agent-listen-port"),
    ("metrics_export", "--metrics-export-port"),
    ("runtime_env_agent", "--runtime-env-agent-port"),
    ("min_worker", "--min-worker-port"),
    ("max_worker", "--max-worker-port"),
)
GPU_ACCESS = ("cdi", "docker_runtime", "none")


def engine_names():
    return sorted(ENGINES)


def engine_spec(engine, llama_cpp_server=None):
    """The table's entry of `engine` (a copy), with its name.

    llama_cpp_server: for llama_cpp, the server the image runs (LLAMA_CPP_SERVERS); its health path replaces the
    table's (the gateway's health check reads it when the inference role did not run, e.g. `--tags gateway`).
    """
    if engine not in ENGINES:
        raise common._unknown("engine", engine, engine_names())
    spec = copy.deepcopy(ENGINES[engine])
    spec["name"] = engine
    if engine == "llama_cpp" and llama_cpp_server is not None:
        if llama_cpp_server not in LLAMA_CPP_SERVERS:
            raise common._unknown("llama_cpp_server", llama_cpp_server, sorted(LLAMA_CPP_SERVERS))
        spec["health_path"] = LLAMA_CPP_SERVERS[llama_cpp_server]["health_path"]
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
    minimum = cuda_driver.cuda_minimum_driver(cuda, minor_version_compat=minor_version_compat)
    result["minimum_driver"] = minimum
    if driver_version not in (None, ""):
        result.update(checked=True, against="driver %s" % driver_version,
                      ok=cuda_driver.cuda_compatible(driver_version, cuda, minor_version_compat=minor_version_compat))
    elif driver_branch not in (None, ""):
        branch = common._version_tuple(driver_branch, "driver_branch")[0]
        result.update(checked=True, against="driver branch %d" % branch,
                      ok=branch >= common._version_tuple(minimum, "minimum")[0])
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


# ---------------------------------------------------------------------------
# Engine flags of a gpu_plan layout
# ---------------------------------------------------------------------------

def _engine_args(spec, gpu, quant, kv, plan, max_model_len, concurrency, util, overhead_gib, gpus_per_node, dtype_override):
    tp, pp, nodes = plan["tensor_parallel"], plan["pipeline_parallel"], plan["nodes"]
    native = spec["native_dtype"]
    kind = catalog.QUANTS[quant]["kind"]
    vllm = {}
    sglang = {}
    if plan["dp_attention"]:
        vllm["--tensor-parallel-size"] = 1
        vllm["--data-parallel-size"] = tp
        if nodes > 1:
            vllm["--data-parallel-size-local"] = tp // nodes
        vllm["--enable-expert-parallel"] = True
        sglang["--tp-size"] = tp
        sglang["--dp-size"] = tp
        sglang["--enable-dp-attention"] = True
    else:
        replicas = plan.get("data_parallel") or 1
        vllm["--tensor-parallel-size"] = tp
        vllm["--pipeline-parallel-size"] = pp
        sglang["--tp-size"] = tp
        if pp > 1:
            sglang["--pp-size"] = pp
        if replicas > 1:
            # Dense data parallel: vLLM --data-parallel-size (headless ranks on the other nodes), SGLang --dp-size on one node.
            vllm["--data-parallel-size"] = replicas
            if nodes > 1:
                vllm["--data-parallel-size-local"] = replicas // nodes
            sglang["--dp-size"] = replicas
    if nodes > 1:
        if not plan["dp_attention"] and not (plan.get("data_parallel") or 1) > 1:
            vllm["--distributed-executor-backend"] = "ray"
        sglang["--nnodes"] = nodes
    vllm["--max-model-len"] = max_model_len
    sglang["--context-length"] = max_model_len
    vllm["--gpu-memory-utilization"] = util
    # SGLang's mem_fraction_static covers weights + KV pool only; activations live outside it.
    sglang["--mem-fraction-static"] = math.floor((util - overhead_gib / gpu["memory_gib"]) * 100) / 100.0
    vllm["--kv-cache-dtype"] = "fp8" if kv == "fp8" else (kv if kv.startswith("fp8") else "auto")
    sglang["--kv-cache-dtype"] = "fp8_e4m3" if kv == "fp8" else (kv if kv.startswith("fp8") else "auto")
    if dtype_override == "fp16" or quant == "fp16" or kv == "fp16":
        vllm["--dtype"] = "half"
        sglang["--dtype"] = "half"
    if quant != native:
        engine_quant = {"fp8": "fp8", "int8": "w8a8_int8", "awq": "awq", "gptq": "gptq"}.get(quant)
        if kind == "gguf":
            vllm["--quantization"] = "gguf"
            sglang["--quantization"] = "gguf"
        elif engine_quant:
            # A pre-quantised checkpoint is auto-detected; the flag also makes a BF16 checkpoint
            # quantise on load for fp8 (vLLM dynamic FP8, SGLang fp8).
            # AWQ/GPTQ: no flag for vLLM, which then picks its Marlin kernels (awq_marlin, gptq_marlin)
            # itself; `--quantization awq` forces the slow fp16-only AWQ kernel and fails on bfloat16.
            if quant not in ("awq", "gptq"):
                vllm["--quantization"] = "fp8" if quant == "fp8" else "compressed-tensors"
            sglang["--quantization"] = engine_quant
    args = {"vllm": vllm, "sglang": sglang}
    if kind == "gguf":
        parallel = max(1, int(concurrency or 1))
        args["llama_cpp"] = {
            "--ctx-size": max_model_len * parallel,
            "--parallel": parallel,
            "--n-gpu-layers": 999,
            "--split-mode": "layer",
            "--cache-type-k": "q8_0" if kv.startswith("fp8") else "f16",
            "--cache-type-v": "q8_0" if kv.startswith("fp8") else "f16",
        }
    return args


def argv(flags, names=None):
    """Render an engine_args dict as a list of command-line strings (True -> bare flag, False/None -> none).

    `names` renames flags; a name mapped to None drops the flag.
    """
    out = []
    for flag, value in flags.items():
        name = names.get(flag, flag) if names else flag
        if name is None or value is False or value is None:
            continue
        out.append(name)
        if value is not True:
            out.append(str(value))
    return out


def _shell(words):
    return " ".join(shlex.quote(str(word)) for word in words)


def command_line(engine, flags, served_model_name="deepseek", bind_address="127.0.0.1", port=8000, extra_args=None,
                 model_file="", llama_cpp_server="llama_cpp_python", rank=0, nodes=1, head_address="",
                 cluster_address="", cluster_interface="", ray_port=6379, ray_ports=None, dp_rpc_port=13345,
                 sglang_dist_port=5000, worker_addresses=None, rpc_port=50052):
    """The container entrypoint, arguments and environment of one node of a deployment; see plugins/filter/engine_command.yml.

    llama.cpp across nodes uses ggml's RPC backend: every other node runs llama.cpp's rpc-server on its cluster
    address, and the head's server offloads layers to them (--rpc_servers / --rpc, in worker_addresses' order).
    The head returns those workers as `peers`: its unit checks that they answer before each start.
    """
    # For llama_cpp the health path is the server's: engine_spec is the one place that says so.
    spec = engine_spec(engine, llama_cpp_server=llama_cpp_server if engine == "llama_cpp" else None)
    rank, nodes = int(rank), int(nodes)
    multi, head = nodes > 1, int(rank) == 0
    extra = [str(arg) for arg in (extra_args or [])]
    listen = ["--host", bind_address, "--port", str(port)]
    entrypoint = list(spec["entrypoint"])
    health_path = spec["health_path"]
    peers = []
    if engine == "llama_cpp":
        if llama_cpp_server not in LLAMA_CPP_SERVERS:
            raise common._unknown("llama_cpp_server", llama_cpp_server, sorted(LLAMA_CPP_SERVERS))
        server = LLAMA_CPP_SERVERS[llama_cpp_server]
        workers = [str(address) for address in (worker_addresses or [])]
        if multi and head and (len(workers) != nodes - 1 or not all(workers)):
            raise common.SizingError("llama_cpp across %d nodes needs the cluster address of each of the %d other nodes "
                                     "(worker_addresses), got %r" % (nodes, nodes - 1, workers),
                                     argument="worker_addresses", value=workers)
        if multi and not head:
            if not cluster_address:
                raise common.SizingError("a llama_cpp worker (rank %d) needs its cluster address (cluster_address, empty) to bind rpc-server to" % rank,
                                         argument="cluster_address", value=cluster_address)
            # rpc-server has no authentication: it listens on the cluster network only, never on every address.
            entrypoint = ["rpc-server"]
            args = ["--host", cluster_address, "--port", str(rpc_port)]
            health_path = ""
        else:
            peers = ["%s:%s" % (address, rpc_port) for address in workers] if multi else []
            args = (["--model", "/models/" + model_file, server["alias_flag"], served_model_name] + listen + server["fixed"]
                    + argv(flags, server["flag_names"]) + ([server["rpc_flag"], ",".join(peers)] if peers else []) + extra)
    elif engine == "sglang":
        args = (["--model-path", "/models", "--served-model-name", served_model_name] + listen + argv(flags)
                + (["--node-rank", str(rank), "--dist-init-addr", "%s:%s" % (head_address, sglang_dist_port)] if multi else [])
                + extra)
    else:
        # Multi-node: with the plan's --data-parallel-size (attention data-parallel) every node runs vllm serve,
        # the others headless; otherwise Ray on every node and vllm serve on the head (TP in a node, PP across).
        data_parallel = multi and "--data-parallel-size" in flags
        ray = multi and not data_parallel
        dp_args = []
        if data_parallel:
            dp_args = ["--data-parallel-address", head_address, "--data-parallel-rpc-port", str(dp_rpc_port)]
            if not head:
                local = int(flags.get("--data-parallel-size-local") or 1)
                dp_args += ["--headless", "--data-parallel-start-rank", str(rank * local)]
        serve = ["vllm", "serve", "/models", "--served-model-name", served_model_name] + listen + argv(flags) + dp_args + extra
        ports = ray_ports or {}
        ray_node = (["--node-ip-address=%s" % cluster_address] + ["%s=%s" % (flag, ports[key]) for key, flag in RAY_PORT_FLAGS if key in ports]
                    + ["--disable-usage-stats"])
        if ray and head:
            ray_head = (["ray", "start", "--head", "--port=%s" % ray_port, "--include-dashboard=false"]
                        + (["--ray-client-server-port=%s" % ports["ray_client_server"]] if "ray_client_server" in ports else []) + ray_node)
            entrypoint = ["/bin/bash", "-c"]
            args = [_shell(ray_head) + " && exec " + _shell(serve)]
        elif ray:
            entrypoint = ["ray"]
            args = ["start", "--block", "--address=%s:%s" % (head_address, ray_port)] + ray_node
        else:
            args = serve[1:]
    env = {}
    if multi:
        # Gloo would take the hostname's address (127.0.1.1 on Debian), NCCL perhaps a podman bridge.
        env = {"GLOO_SOCKET_IFNAME": cluster_interface, "NCCL_SOCKET_IFNAME": cluster_interface}
        if engine == "vllm":
            env["VLLM_HOST_IP"] = cluster_address
    return {"role": "head" if head else "worker", "entrypoint": entrypoint, "args": entrypoint[1:] + args, "env": env,
            "health_path": health_path, "peers": peers}


def run_options(entrypoint, model_dir, gpu_access="none", shm_size="1g", env=None, rdma=False):
    """The container engine's run options (podman and docker spell them alike); see plugins/filter/engine_command.yml.

    GPU engines share the host's IPC namespace (NCCL, CUDA IPC): podman refuses --shm-size with --ipc host
    (podman 4.3: "cannot set shmsize when running in the {host } IPC Namespace", exit 125), so only the others get a
    private /dev/shm. --cgroupns private: the engine sees its own cgroup (podman's default on cgroup v2,
    not on v1, where the host namespace also breaks runc inside a lab host). --entrypoint names one
    program: docker runs a JSON list literally. RDMA (the fabric role's fabric_rdma): the verbs devices
    (/dev/infiniband), IPC_LOCK and an unlimited memlock, which ibverbs needs to pin memory (rdma-core's
    "libibverbs: Warning: couldn't lock memory" otherwise; NVIDIA's "Running RDMA in containers" guide).
    """
    if gpu_access not in GPU_ACCESS:
        raise common._unknown("gpu_access", gpu_access, list(GPU_ACCESS))
    options = ["--network", "host", "--cgroupns", "private"]
    options += ["--ulimit", "memlock=-1:-1", "--ipc", "host"] if gpu_access != "none" else ["--shm-size", str(shm_size)]
    if rdma:
        options += ["--device", "/dev/infiniband", "--cap-add", "IPC_LOCK"]
        options += ["--ulimit", "memlock=-1:-1"] if gpu_access == "none" else []
    options += ["--volume", "%s:/models:ro" % model_dir,
                "--env", "HF_HUB_OFFLINE=1", "--env", "TRANSFORMERS_OFFLINE=1", "--env", "DO_NOT_TRACK=1"]
    options += ["--env=%s=%s" % (key, value) for key, value in (env or {}).items()]
    if gpu_access == "cdi":
        options += ["--device", "nvidia.com/gpu=all"]
    elif gpu_access == "docker_runtime":
        options += ["--gpus", "all"]
    if entrypoint:
        options += ["--entrypoint", entrypoint[0]]
    return options
