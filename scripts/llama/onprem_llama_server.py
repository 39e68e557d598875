"""Entrypoint of the lab's llama.cpp image: llama-cpp-python's OpenAI server, plus llama.cpp's RPC devices.

llama-cpp-python 0.3.16's server accepts --rpc_servers (server/settings.py) but its Llama class never hands
them to llama.cpp (llama.py does not read the argument), so a model would silently stay on the local CPU.
This registers each server as a ggml RPC device the way llama.cpp's own --rpc does (common/arg.cpp,
add_rpc_devices: ggml_backend_reg_by_name("RPC") -> ggml_backend_rpc_add_device -> ggml_backend_device_register),
then runs llama_cpp.server unchanged: with the devices registered, --n_gpu_layers layers go to the rpc-servers.
Without --rpc_servers it is exactly `python3 -m llama_cpp.server`.
"""

import ctypes
import runpy
import sys


def _rpc_servers(argv):
    for index, arg in enumerate(argv):
        if arg == "--rpc_servers" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--rpc_servers="):
            return arg.split("=", 1)[1]
    return ""


def register_rpc_devices(servers):
    from llama_cpp._ggml import libggml  # the package's own libggml.so (its RPC backend is built in: GGML_RPC=ON)

    libggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    libggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    libggml.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    libggml.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libggml.ggml_backend_device_register.restype = None
    libggml.ggml_backend_device_register.argtypes = [ctypes.c_void_p]
    reg = libggml.ggml_backend_reg_by_name(b"RPC")
    if not reg:
        sys.exit("onprem_llama_server: this llama.cpp has no RPC backend (build it with GGML_RPC=ON)")
    address = libggml.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_rpc_add_device")
    if not address:
        sys.exit("onprem_llama_server: the RPC backend has no ggml_backend_rpc_add_device")
    add_device = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)(address)
    for server in [s.strip() for s in servers.split(",") if s.strip()]:
        device = add_device(server.encode())
        if not device:
            sys.exit("onprem_llama_server: could not add the RPC device %s" % server)
        libggml.ggml_backend_device_register(device)
        print("onprem_llama_server: RPC device %s registered" % server, file=sys.stderr, flush=True)


if __name__ == "__main__":
    if _rpc_servers(sys.argv[1:]):
        register_rpc_devices(_rpc_servers(sys.argv[1:]))
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
