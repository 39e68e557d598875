"""Render the inference role's engine command line with the role itself (shared by the role tests).

`_render` runs the role's own `tasks/command.yml` (include_role tasks_from) under ansible-playbook on
a localhost-only inventory, with the plan from `onprem.deepseek.gpu_plan`, and reads back the
container entrypoint, arguments and run options it computed. Nothing is started.

`rendered_layouts()` does the same for every GPU engine layout of LAYOUTS in one ansible-playbook
run (one inventory group per layout, its variables as group vars), once per test session: the
upstream-flag and container-option tests both read it.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))

# Both playbooks plan first, then run one task file of the role.
_PLAN = """
- hosts: deepseek_inference
  gather_facts: false
  connection: local
  tasks:
    - name: Plan
      ansible.builtin.set_fact:
        preflight_plan: "{{ plan_model | onprem.deepseek.gpu_plan(plan_gpu, **plan_kwargs) }}"
"""
PLAYBOOK = _PLAN + """    - name: Render
      ansible.builtin.include_role:
        name: onprem.deepseek.inference
        tasks_from: command.yml
    - name: Show
      ansible.builtin.debug:
        msg: "{{ {'entrypoint': __inference_entrypoint, 'args': __inference_args, 'run': __inference_run_options,
                  'timeout': __inference_health_timeout | int} | to_json }}"
"""
ASSERT_PLAYBOOK = _PLAN + """    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.inference
        tasks_from: assert.yml
      vars:
        __inference_assert_early: true
"""


def _playbook_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK='json',
                ANSIBLE_NOCOLOR='1', ANSIBLE_PYTHON_INTERPRETER='auto_silent')


def _run_render(directory, inventory, extra_vars, forks=None):
    """Run PLAYBOOK on `inventory`; return (the Show results by host, the completed process)."""
    with open(os.path.join(directory, 'inventory.json'), 'w') as handle:
        json.dump(inventory, handle)
    with open(os.path.join(directory, 'render.yml'), 'w') as handle:
        handle.write(PLAYBOOK)
    cmd = ['ansible-playbook', '-i', os.path.join(directory, 'inventory.json'), os.path.join(directory, 'render.yml'),
           '-e', json.dumps(extra_vars)]
    env = _playbook_env()
    if forks:
        env['ANSIBLE_FORKS'] = str(forks)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        tasks = json.loads(result.stdout)['plays'][0]['tasks']
    except (ValueError, KeyError, IndexError):
        return {}, result
    shown = [t for t in tasks if t['task']['name'] == 'Show']
    hosts = shown[0]['hosts'] if shown else {}
    return dict((host, json.loads(res['msg'])) for host, res in hosts.items() if 'msg' in res), result


def _render(tmp_path, hosts, extra_vars):
    """Run the render playbook; return {host: {entrypoint, args, run, timeout}}."""
    inventory = {'all': {'children': {'deepseek_inference': {'hosts': hosts}}}}
    out, result = _run_render(str(tmp_path), inventory, extra_vars)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def _check(tmp_path, hosts, extra_vars):
    """Run the role's input checks (assert.yml) on `hosts`; return the completed process.

    Modules run with this Python: the cluster address check gathers this host's network facts.
    """
    inventory = {'all': {'children': {'deepseek_inference': {'hosts': hosts}}}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    (tmp_path / 'check.yml').write_text(ASSERT_PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    cmd = ['ansible-playbook', '-i', str(tmp_path / 'inventory.json'), str(tmp_path / 'check.yml'), '-e', json.dumps(extra_vars)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def _flag(args, name):
    return args[args.index(name) + 1]


def _two_nodes(layout):
    return {layout + '-a': {'deepseek_deployment': layout, 'deepseek_cluster_address': '10.0.0.11', 'deepseek_cluster_interface': 'ib0'},
            layout + '-b': {'deepseek_deployment': layout, 'deepseek_cluster_address': '10.0.0.12', 'deepseek_cluster_interface': 'ib0'}}


_R1_32B = {'plan_model': 'deepseek-r1-distill-qwen-32b', 'plan_gpu': 'L40S',
           'plan_kwargs': {'quant': 'awq', 'max_model_len': 32768, 'concurrency': 2, 'max_nodes': 1}}
_V3 = {'plan_model': 'deepseek-v3', 'plan_gpu': 'H100-80G', 'plan_kwargs': {'max_nodes': 2}, 'inference_model_size_bytes': 688 * 2 ** 30}
_V3_DP = dict(_V3, plan_kwargs={'max_nodes': 2, 'dp_attention': True})

# Every GPU engine layout the role renders: {name: (engine, plan and role vars, number of nodes)}.
GPU_LAYOUTS = {
    'vllm-single': ('vllm', _R1_32B, 1),
    'sglang-single': ('sglang', _R1_32B, 1),
    'vllm-ray': ('vllm', _V3, 2),            # TP8 x PP2: Ray head (bash -c) and worker (ray start)
    'vllm-dp': ('vllm', _V3_DP, 2),          # DP16 + EP: API server on the head, headless engines on the worker
    'sglang-multi': ('sglang', _V3, 2),      # TP8 x PP2 with --nnodes/--node-rank
    'sglang-dp': ('sglang', _V3_DP, 2),      # DP attention across two nodes
}
CONTAINER_ENGINES = ('podman', 'docker')
# docker differs from podman in the GPU option only (--gpus all for --device nvidia.com/gpu=all):
# the docker renders cover one layout of each entrypoint (vllm, python3, bash -c and ray).
DOCKER_LAYOUTS = ('vllm-single', 'sglang-single', 'vllm-ray')


def layout_name(layout, container_engine):
    return '%s-%s' % (layout, container_engine)


_CACHE = {}


def rendered_layouts():
    """{'<layout>-<podman|docker>': {host: rendered} or {'error': text}}, rendered once per session.

    The model directory is a real, empty temporary directory (podman refuses a volume whose
    source does not exist): rendered_model_dir(), removed at exit.
    """
    if 'layouts' in _CACHE:
        return _CACHE['layouts']
    work = tempfile.mkdtemp(prefix='onprem-render-')
    atexit.register(shutil.rmtree, work, True)
    model_dir = os.path.join(work, 'models')
    os.makedirs(model_dir)
    children = {}
    for layout, (engine, plan_vars, nodes) in GPU_LAYOUTS.items():
        for container_engine in CONTAINER_ENGINES:
            if container_engine == 'docker' and layout not in DOCKER_LAYOUTS:
                continue
            name = layout_name(layout, container_engine)
            hosts = _two_nodes(name) if nodes == 2 else {name + '-a': {'deepseek_deployment': name}}
            group_vars = dict(plan_vars, inference_engine=engine, inference_container_engine=container_engine,
                              inference_model_dir=model_dir)
            children[name.replace('-', '_')] = {'hosts': hosts, 'vars': group_vars}
    inventory = {'all': {'children': {'deepseek_inference': {'children': children}}}}
    shown, result = _run_render(work, inventory, {}, forks=len(children) * 2)
    layouts = {}
    for group, spec in children.items():
        name = group.replace('_', '-')
        missing = [h for h in spec['hosts'] if h not in shown]
        if missing:
            layouts[name] = {'error': 'no render for %s:\n%s\n%s' % (missing, result.stdout[-3000:], result.stderr[-2000:])}
        else:
            layouts[name] = dict((h, shown[h]) for h in spec['hosts'])
    _CACHE['layouts'] = layouts
    _CACHE['model_dir'] = model_dir
    return layouts


def rendered_model_dir():
    rendered_layouts()
    return _CACHE['model_dir']
