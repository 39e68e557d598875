"""site.yml's fabric on the prod example: the V3 2 x 8 x H100 deployment renders its fabric (the eight InfiniBand
HCAs, pool addresses, /etc/nccl.conf) and the engine containers' RDMA devices and NCCL environment.

The fabric role's own config.yml and the inference role's command.yml run under ansible-playbook on the prod
inventory (connection local, nothing started), over an HGX H100 sysfs tree read by the real hardware_facts module:
8 ConnectX-7 HCAs mlx5_0..7, InfiniBand NDR 400 Gb/s (NVIDIA DGX H100 user guide: eight single-port ConnectX-7
for the compute fabric). The plan is the one preflight computes (deployment_plan).
"""

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

PLAYBOOK = """
- hosts: v3_h100
  gather_facts: false
  connection: local
  tasks:
    - name: Read the fake HGX sysfs tree
      onprem.deepseek.hardware_facts:
        root: "{{ sysfs_root }}"
    - name: Plan (as preflight)
      ansible.builtin.set_fact:
        preflight_plan: >-
          {{ {'model': deepseek_model, 'gpu': deepseek_gpu, 'quant': deepseek_quant, 'kv_dtype': deepseek_kv_dtype,
              'gpus_per_node': deepseek_gpus_per_node, 'max_model_len': deepseek_max_model_len,
              'concurrency': deepseek_concurrency, 'engine': deepseek_engine}
             | onprem.deepseek.deployment_plan(hosts=2) }}
    - name: Fabric
      ansible.builtin.include_role:
        name: onprem.deepseek.fabric
        tasks_from: config.yml
      vars:
        fabric_nccl_conf_path: "{{ out_dir }}/{{ inventory_hostname }}.nccl.conf"
        cuda_gpudirect_mode: dmabuf
        __fabric_transport: "{{ fabric_transport }}"
    - name: Engine command
      ansible.builtin.include_role:
        name: onprem.deepseek.inference
        tasks_from: command.yml
      vars:
        __inference_cluster_address: "{{ deepseek_cluster_address }}"
        __inference_cluster_interface: "{{ deepseek_cluster_interface }}"
        inference_gpu_access: cdi
    - name: Show
      ansible.builtin.debug:
        msg: "{{ {'run': __inference_run_options, 'fabric': __fabric, 'rdma': fabric_rdma} | to_json }}"
"""


def _hgx(root):
    for i in range(8):
        port = os.path.join(root, 'sys/class/infiniband/mlx5_%d/ports/1' % i)
        os.makedirs(port)
        for name, text in (('link_layer', 'InfiniBand'), ('state', '4: ACTIVE'), ('rate', '400 Gb/sec (4X NDR)')):
            with open(os.path.join(port, name), 'w') as handle:
                handle.write(text + '\n')


def test_v3_h100_renders_its_infiniband_fabric_and_engine_containers(tmp_path):
    _hgx(str(tmp_path / 'sys-root'))
    (tmp_path / 'render.yml').write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    extra = {'sysfs_root': str(tmp_path / 'sys-root'), 'out_dir': str(tmp_path)}
    result = subprocess.run(['ansible-playbook', '-i', os.path.join(ROOT, 'inventories', 'prod'), str(tmp_path / 'render.yml'),
                             '-e', json.dumps(extra)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tasks = json.loads(result.stdout)['plays'][0]['tasks']
    shown = dict((host, json.loads(res['msg'])) for host, res in [t for t in tasks if t['task']['name'] == 'Show'][0]['hosts'].items())
    assert sorted(shown) == ['ds-v3-h100-1', 'ds-v3-h100-2']
    hcas = '=' + ','.join('mlx5_%d' % i for i in range(8))
    for index, host in enumerate(sorted(shown)):
        out = shown[host]
        fabric = out['fabric']
        assert fabric['problems'] == []
        assert [p['device'] for p in fabric['ports']] == ['mlx5_%d' % i for i in range(8)]
        assert fabric['address'] == '10.77.0.%d/24' % (10 + index)
        assert fabric['nccl_env'] == {'NCCL_IB_HCA': hcas, 'NCCL_DMABUF_ENABLE': '1', 'NCCL_SOCKET_IFNAME': '=ens1f0'}
        conf = [line for line in (tmp_path / ('%s.nccl.conf' % host)).read_text().splitlines() if not line.startswith('#')]
        assert conf == ['NCCL_DMABUF_ENABLE=1', 'NCCL_IB_HCA=' + hcas, 'NCCL_SOCKET_IFNAME==ens1f0']
        run = out['run']
        # the same settings reach the container, with the verbs devices, IPC_LOCK and an unlimited memlock
        for line in conf:
            assert '--env=' + line in run
        assert run[run.index('--device') + 1] == '/dev/infiniband'
        assert run[run.index('--cap-add') + 1] == 'IPC_LOCK'
        assert 'memlock=-1:-1' in run and run[run.index('--ipc') + 1] == 'host'
        assert 'nvidia.com/gpu=all' in run


ASSERT = """
- hosts: ds-v3-h100-1
  gather_facts: false
  connection: local
  tasks:
    - name: Read the fake HGX sysfs tree
      onprem.deepseek.hardware_facts:
        root: "{{ sysfs_root }}"
    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.fabric
        tasks_from: assert.yml
"""


def _check(tmp_path, **fabric_vars):
    """The fabric role's tasks/assert.yml on ds-v3-h100-1 of the prod example over the HGX sysfs tree: (result, output)."""
    _hgx(str(tmp_path / 'sys-root'))
    (tmp_path / 'assert.yml').write_text(ASSERT)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    extra = dict(fabric_vars, sysfs_root=str(tmp_path / 'sys-root'))
    result = subprocess.run(['ansible-playbook', '-i', os.path.join(ROOT, 'inventories', 'prod'), str(tmp_path / 'assert.yml'),
                             '-e', json.dumps(extra)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, result.stdout + result.stderr


def test_an_ofed_mirror_needs_a_url_and_its_key(tmp_path):
    # A site mirror of DOCA-OFED goes through nvidia_driver's source entry point, which pins its key: without one the
    # input checks refuse it before anything changes (a source is never trusted without a key). The role reads this
    # machine's facts (it has no ibp24s0: that sentence is listed too, not checked here).
    result, output = _check(tmp_path, fabric_ofed_mirror_url='ftp://mirror.example.internal/doca')
    assert result.returncode != 0
    assert ('fabric_ofed_mirror_url is "ftp://mirror.example.internal/doca"; allowed: an http(s) or file URL, or empty') in output, output[-3000:]
    assert ("fabric_ofed_mirror_url is set but fabric_ofed_repo_key is empty; allowed: the mirror's signing key"
            " (ASCII-armoured or an http(s) URL): a source is never trusted without one") in output


def test_an_ofed_mirror_cannot_be_the_gpu_stacks_mirror(tmp_path):
    # APT refuses one URI with two Signed-By keys (seen in the gpu_stack lab: "Conflicting values set for option
    # Signed-By"), which breaks every apt run on the host: refused before anything changes.
    result, output = _check(tmp_path, fabric_ofed_repo_key='https://mirror.example.internal/key.asc',
                            fabric_ofed_mirror_url='https://mirror.example.internal/nvidia/cuda/debian12/x86_64/')
    assert result.returncode != 0
    assert ("fabric_ofed_mirror_url is the GPU stack's mirror (nvidia_driver_mirror_url); allowed: another URL, or empty"
            " when that mirror holds the OFED packages too (APT refuses one URI with two keys)") in output, output[-3000:]
    assert 'fabric_ofed_repo_key is empty' not in output


def test_a_gate_of_fewer_than_five_messages_is_refused(tmp_path):
    # perftest's usage: "-n, --iters=<iters> Number of exchanges (at least 5, ...)": refused before the gate would run it.
    result, output = _check(tmp_path, fabric_gate_iterations=3)
    assert result.returncode != 0
    assert ("fabric_gate_iterations is 3; allowed: 0 (use fabric_gate_duration) or 5 and more (perftest's least)") in output, output[-3000:]
