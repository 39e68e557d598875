"""The lab llama.cpp image's entrypoint (scripts/llama/onprem_llama_server.py): which RPC servers it registers.

The registration itself (ggml's RPC device API through ctypes) needs the image: the inference scenario's
test_multinode.py proves it, a layer on the worker's rpc-server.
"""

import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _module():
    spec = importlib.util.spec_from_file_location('onprem_llama_server', os.path.join(ROOT, 'scripts', 'llama', 'onprem_llama_server.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rpc_servers_are_read_in_both_spellings_and_absent_means_none():
    find = _module()._rpc_servers
    assert find(['--model', '/models/m.gguf', '--rpc_servers', '10.0.0.12:50052,10.0.0.13:50052']) == '10.0.0.12:50052,10.0.0.13:50052'
    assert find(['--rpc_servers=10.0.0.12:50052']) == '10.0.0.12:50052'
    assert find(['--model', '/models/m.gguf', '--n_gpu_layers', '1']) == ''
