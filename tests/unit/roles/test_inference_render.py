"""The inference role's engine command line, rendered by the role itself from real plans.

Each case runs the role's own `tasks/command.yml` (include_role tasks_from) under ansible-playbook
on localhost-only inventories, with the plan from `onprem.deepseek.gpu_plan`, and reads back the
container entrypoint, arguments and run options it computed. Nothing is started.
"""

import pytest
from inference_render import _check, _flag, _render  # shared with test_engine_flags_upstream.py and test_engine_run_options.py

# Management addresses (ansible_host) differ from the cluster network's: the cluster one must win.
V3_HOSTS = {'gpu-a': {'ansible_host': '192.168.1.11', 'deepseek_deployment': 'v3',
                      'deepseek_cluster_address': '10.0.0.11', 'deepseek_cluster_interface': 'ib0'},
            'gpu-b': {'ansible_host': '192.168.1.12', 'deepseek_deployment': 'v3',
                      'deepseek_cluster_address': '10.0.0.12', 'deepseek_cluster_interface': 'ib0'}}
RAY_NODE_FLAGS = ('--node-manager-port=6380 --object-manager-port=6381 --dashboard-agent-grpc-port=6382'
                  ' --dashboard-agent-listen-port=6383 --metrics-export-port=6384 --runtime-env-agent-port=6385'
                  ' --min-worker-port=10002 --max-worker-port=10199 --disable-usage-stats')
V3_VARS = {'plan_model': 'deepseek-v3', 'plan_gpu': 'H100-80G', 'plan_kwargs': {'max_nodes': 2},
           'inference_model_dir': '/srv/deepseek/models/deepseek-v3', 'inference_model_size_bytes': 688 * 2 ** 30}


def test_vllm_deepseek_v3_on_2x8_h100_ray_head_and_worker(tmp_path):
    out = _render(tmp_path, V3_HOSTS, dict(V3_VARS, inference_engine='vllm'))
    head, worker = out['gpu-a'], out['gpu-b']
    assert head['entrypoint'] == ['/bin/bash', '-c']
    assert head['run'][head['run'].index('--entrypoint') + 1] == '/bin/bash'  # one program: docker's form too
    assert head['args'] == [
        '-c', 'ray start --head --port=6379 --include-dashboard=false --ray-client-server-port=10001'
        ' --node-ip-address=10.0.0.11 ' + RAY_NODE_FLAGS +
        ' && exec vllm serve /models --served-model-name deepseek --host 127.0.0.1 --port 8000'
        ' --tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray'
        ' --max-model-len 163840 --gpu-memory-utilization 0.9 --kv-cache-dtype auto']
    assert worker['entrypoint'] == ['ray']
    assert worker['args'] == ['start', '--block', '--address=10.0.0.11:6379', '--node-ip-address=10.0.0.12'] + RAY_NODE_FLAGS.split()
    for node, address in ((head, '10.0.0.11'), (worker, '10.0.0.12')):
        run = node['run']
        # Each node advertises its cluster address, never the management one nor 0.0.0.0 / 127.0.1.1.
        assert '--env=VLLM_HOST_IP=' + address in run
        assert '--env=GLOO_SOCKET_IFNAME=ib0' in run and '--env=NCCL_SOCKET_IFNAME=ib0' in run
        assert not any('192.168.1.' in option for option in run + node['args'])
        assert run[run.index('--device') + 1] == 'nvidia.com/gpu=all'
        assert '/srv/deepseek/models/deepseek-v3:/models:ro' in run
        # podman refuses --shm-size together with --ipc host (exit 125): GPU engines get host IPC only.
        assert run[run.index('--ipc') + 1] == 'host'
        assert '--shm-size' not in run
        assert run[run.index('--network') + 1] == 'host'
    # 120 s + 10 s per GiB of a 688 GiB checkpoint.
    assert head['timeout'] == 120 + 6880


def test_sglang_deepseek_v3_on_2x8_h100_uses_its_own_multinode_flags(tmp_path):
    out = _render(tmp_path, V3_HOSTS, dict(V3_VARS, inference_engine='sglang'))
    for rank, host in enumerate(['gpu-a', 'gpu-b']):
        args = out[host]['args']
        assert out[host]['entrypoint'] == ['python3', '-m', 'sglang.launch_server']
        # SGLang spans nodes with tensor parallelism (its DeepSeek guide: --tp 16 --nnodes 2 on 2 x 8 H100), not PP
        assert _flag(args, '--tp-size') == '16'
        assert '--pp-size' not in args
        assert _flag(args, '--nnodes') == '2'
        assert _flag(args, '--node-rank') == str(rank)
        assert _flag(args, '--dist-init-addr') == '10.0.0.11:5000'
        assert _flag(args, '--context-length') == '163840'
        run = out[host]['run']
        assert '--env=GLOO_SOCKET_IFNAME=ib0' in run and '--env=NCCL_SOCKET_IFNAME=ib0' in run
        assert not any(option.startswith('--env=VLLM_HOST_IP') for option in run)


def test_vllm_dp_attention_across_two_nodes_runs_headless_workers_without_ray(tmp_path):
    out = _render(tmp_path, V3_HOSTS, dict(V3_VARS, inference_engine='vllm',
                                           plan_kwargs={'max_nodes': 2, 'dp_attention': True}))
    head, worker = out['gpu-a'], out['gpu-b']
    for node in (head, worker):
        assert node['entrypoint'] == ['vllm']
        args = node['args']
        assert args[:2] == ['serve', '/models']
        assert _flag(args, '--data-parallel-size') == '16'
        assert _flag(args, '--data-parallel-size-local') == '8'
        assert _flag(args, '--tensor-parallel-size') == '1'
        assert '--enable-expert-parallel' in args
        assert _flag(args, '--data-parallel-address') == '10.0.0.11'
        assert _flag(args, '--data-parallel-rpc-port') == '13345'
        assert '--distributed-executor-backend' not in args
    assert '--headless' not in head['args']
    # The worker serves no API: it runs DP ranks 8-15 and connects to the head's RPC port.
    assert '--headless' in worker['args'] and _flag(worker['args'], '--data-parallel-start-rank') == '8'


def test_multi_node_without_a_cluster_address_fails_naming_the_variable(tmp_path):
    hosts = {'gpu-a': {'deepseek_deployment': 'v3', 'deepseek_cluster_address': '127.0.1.1', 'deepseek_cluster_interface': 'lo'},
             'gpu-b': {'deepseek_deployment': 'v3', 'deepseek_cluster_address': '10.0.0.12'}}
    result = _check(tmp_path, hosts, dict(V3_VARS, inference_engine='vllm', deepseek_deployment='v3'))
    assert result.returncode != 0
    out = result.stdout
    assert 'inference_cluster_address is 127.0.1.1: the other nodes cannot reach a loopback' in out
    # gpu-b: an address but no interface given, and no facts that hold it.
    assert 'no interface of this host holds the cluster address 10.0.0.12' in out
    assert 'set deepseek_cluster_interface' in out


def test_vllm_r1_distill_32b_awq_on_one_l40s(tmp_path):
    hosts = {'l40s-1': {'deepseek_deployment': 'r1'}}
    out = _render(tmp_path, hosts, {
        'plan_model': 'deepseek-r1-distill-qwen-32b', 'plan_gpu': 'L40S',
        'plan_kwargs': {'quant': 'awq', 'max_model_len': 32768, 'concurrency': 2, 'max_nodes': 1},
        'inference_engine': 'vllm', 'inference_model_dir': '/srv/deepseek/models/r1-32b-awq'})
    node = out['l40s-1']
    assert node['entrypoint'] == ['vllm']
    assert node['args'] == ['serve', '/models', '--served-model-name', 'deepseek', '--host', '127.0.0.1', '--port', '8000',
                            '--tensor-parallel-size', '1', '--pipeline-parallel-size', '1', '--max-model-len', '32768',
                            '--gpu-memory-utilization', '0.9', '--kv-cache-dtype', 'auto']
    # No --quantization awq: vLLM picks awq_marlin itself (the flag forces the slow fp16-only kernel).
    assert '--device' in node['run']


def test_overrides_replace_add_and_remove_plan_flags(tmp_path):
    hosts = {'l40s-1': {'deepseek_deployment': 'r1'}}
    out = _render(tmp_path, hosts, {
        'plan_model': 'deepseek-r1-distill-qwen-32b', 'plan_gpu': 'L40S',
        'plan_kwargs': {'quant': 'awq', 'max_model_len': 32768, 'max_nodes': 1},
        'inference_engine': 'vllm', 'inference_model_dir': '/m',
        'inference_engine_args_override': {'--max-model-len': 16384, '--kv-cache-dtype': None,
                                           '--enable-prefix-caching': True},
        'inference_extra_args': ['--disable-log-stats']})
    args = out['l40s-1']['args']
    assert _flag(args, '--max-model-len') == '16384'
    assert '--kv-cache-dtype' not in args
    assert '--enable-prefix-caching' in args
    assert args[-1] == '--disable-log-stats'


def test_llama_cpp_python_translates_the_plan_flag_names_and_needs_no_gpu(tmp_path):
    hosts = {'edge-1': {'deepseek_deployment': 'edge'}}
    out = _render(tmp_path, hosts, {
        'plan_model': 'deepseek-r1-distill-qwen-32b', 'plan_gpu': 'RTX4090',
        'plan_kwargs': {'quant': 'q4_k_m', 'max_model_len': 8192, 'max_nodes': 1},
        'inference_engine': 'llama_cpp', 'inference_model_dir': '/srv/m', 'inference_model_file': 'r1-32b-q4_k_m.gguf'})
    node = out['edge-1']
    assert node['entrypoint'] == []
    assert node['args'][:8] == ['--model', '/models/r1-32b-q4_k_m.gguf', '--model_alias', 'deepseek',
                                '--host', '127.0.0.1', '--port', '8000']
    assert _flag(node['args'], '--n_ctx') == '8192'
    assert _flag(node['args'], '--n_gpu_layers') == '999'
    assert '--ctx-size' not in node['args']
    assert '--device' not in node['run'] and '--gpus' not in node['run']
    assert node['run'][node['run'].index('--shm-size') + 1] == '1g' and '--ipc' not in node['run']


@pytest.mark.parametrize('engine', ['vllm', 'sglang'])
def test_docker_hosts_get_gpus_through_the_docker_runtime(tmp_path, engine):
    hosts = {'l40s-1': {'deepseek_deployment': 'r1'}}
    out = _render(tmp_path, hosts, {
        'plan_model': 'deepseek-r1-distill-qwen-32b', 'plan_gpu': 'L40S',
        'plan_kwargs': {'quant': 'awq', 'max_model_len': 32768, 'max_nodes': 1},
        'inference_engine': engine, 'inference_container_engine': 'docker', 'inference_model_dir': '/m'})
    run = out['l40s-1']['run']
    assert run[run.index('--gpus') + 1] == 'all'
    assert '--device' not in run
    # docker runs --entrypoint literally: a program name, never a JSON list.
    entry = run[run.index('--entrypoint') + 1]
    assert entry in ('vllm', 'python3') and not entry.startswith('[')
