"""ansible-playbook onprem.deepseek.plan on the example production inventory.

The prod inventory's hosts live in 192.0.2.0/24 (TEST-NET-1, RFC 5737): nothing answers there,
so a run that passes proves that the plan connects to no host and needs no GPU.
"""

import json
import os
import subprocess
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def _plan(tmp_path, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    cmd = ['ansible-playbook', 'onprem.deepseek.plan', '-i', 'inventories/prod',
           '-e', 'deepseek_plan_report_dir=%s' % tmp_path] + list(extra)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def test_plan_writes_markdown_and_svg_without_touching_any_host(tmp_path):
    result = _plan(tmp_path)
    assert result.returncode == 0, result.output
    assert 'changed=0' in result.stdout and 'unreachable=0' in result.stdout
    report = (tmp_path / 'plan.md').read_text()
    assert '| v3_h100 | DeepSeek-V3 | fp8 | 16 x H100-80G | 8 x 2 |' in report
    assert '| distill_l40s | DeepSeek-R1-Distill-Qwen-32B |' in report
    svg = ET.parse(str(tmp_path / 'plan.svg')).getroot()
    assert svg.tag.endswith('svg')


def test_plan_that_does_not_fit_fails_with_the_smallest_hardware(tmp_path):
    result = _plan(tmp_path, '-e', 'deepseek_max_nodes=1')
    assert result.returncode != 0, result.output
    assert 'does not fit' in result.output
    assert '2 node(s) x 8 x H100-80G (TP8 x PP2)' in result.output


def _run(tmp_path, playbook, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    cmd = ['ansible-playbook', playbook, '-i', 'inventories/prod', '-e', 'deepseek_plan_report_dir=%s' % tmp_path] + list(extra)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


ONE_PLAN = os.path.join(ROOT, 'tests', 'playbooks', 'files', 'one_plan.yml')


def test_report_and_deployment_are_one_plan(tmp_path):
    # Before: overhead reached only the report, llama_cpp planned in one copy only, and hosts without
    # deepseek_deployment counted in the report but not at deploy time.
    result = _run(tmp_path, ONE_PLAN)
    assert result.returncode == 0, result.output
    assert 'ok=' in result.stdout and 'failed=0' in result.stdout


def test_one_plan_with_the_settings_the_copies_disagreed_on(tmp_path):
    # overhead, DP attention and an engine only one copy planned: the same plan on both sides
    result = _run(tmp_path, ONE_PLAN, '-e', 'deepseek_overhead_gib=6', '-e', 'deepseek_engine=llama_cpp',
                  '-e', 'deepseek_plan_fail_on_misfit=false')
    assert result.returncode == 0, result.output
    report = (tmp_path / 'plan.md').read_text()
    assert '| 6.0 |' in report or '| 6 |' in report, report


CURRENT_GENERATION = """
all:
  children:
    deepseek_inference:
      children:
        v32_h200:
          hosts: {ds-v32-h200-1: {ansible_host: 192.0.2.31}}
          vars: {deepseek_deployment: v32_h200, deepseek_model: DeepSeek-V3.2, deepseek_gpu: H200, deepseek_kv_dtype: fp8,
                 deepseek_max_model_len: 65536, deepseek_concurrency: 4}
        v32_h100:
          hosts: {ds-v32-h100-1: {ansible_host: 192.0.2.41}, ds-v32-h100-2: {ansible_host: 192.0.2.42}}
          vars: {deepseek_deployment: v32_h100, deepseek_model: DeepSeek-V3.2, deepseek_gpu: H100-80G, deepseek_kv_dtype: fp8,
                 deepseek_max_model_len: 65536, deepseek_concurrency: 4}
        r1_b200_fp4:
          hosts: {ds-r1-b200-1: {ansible_host: 192.0.2.51}}
          vars: {deepseek_deployment: r1_b200_fp4, deepseek_model: DeepSeek-R1, deepseek_quant: nvfp4, deepseek_gpu: B200,
                 deepseek_max_model_len: 65536, deepseek_concurrency: 4}
        v32_a100:
          hosts: {ds-v32-a100-1: {ansible_host: 192.0.2.61}}
          vars: {deepseek_deployment: v32_a100, deepseek_model: DeepSeek-V3.2, deepseek_gpu: A100-80G}
"""


def test_plan_shows_the_current_generation_and_fp4(tmp_path):
    # Issue 13's acceptance: V3.2 (sparse attention) planned on H200 and H100, an NVFP4 plan on B200, and V3.2
    # refused on Ampere, whose GPUs the sparse kernels do not run on.
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(CURRENT_GENERATION)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    cmd = ['ansible-playbook', 'onprem.deepseek.plan', '-i', str(inventory), '-e', 'deepseek_plan_report_dir=%s' % tmp_path]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    report = (tmp_path / 'plan.md').read_text()
    assert '| v32_h200 | DeepSeek-V3.2 | fp8 | 8 x H200 |' in report, report
    assert '| v32_h100 | DeepSeek-V3.2 | fp8 | 16 x H100-80G |' in report, report
    assert '| r1_b200_fp4 | DeepSeek-R1 | nvfp4 | ' in report and 'x B200' in report, report
    assert 'runs only on hopper, blackwell GPUs' in ' '.join(output.split()), output
    assert result.returncode != 0  # the A100 deployment does not fit: the playbook says so and fails


def test_one_plan_sizes_the_weights_from_the_model_store_manifest(tmp_path):
    # The manifest model_store verifies the copy against also sizes the weights, in the report and in preflight alike:
    # 163 safetensors shards of 4 GiB (652 GiB, not the 626.9 GiB V3's parameter count gives at FP8) and a config.json
    # (not a weight file, not counted).
    manifest = [{'name': 'model-%05d-of-00163.safetensors' % i, 'sha256': '0' * 64, 'size': 4 * 2 ** 30} for i in range(1, 164)]
    manifest.append({'name': 'config.json', 'sha256': '0' * 64, 'size': 1700})
    extra = tmp_path / 'manifest.json'
    extra.write_text(json.dumps({'model_store_manifest': manifest}))
    result = _run(tmp_path, ONE_PLAN, '-e', '@%s' % extra, '-e', 'deepseek_plan_fail_on_misfit=false')
    assert result.returncode == 0, result.output
    report = (tmp_path / 'plan.md').read_text()
    assert 'weights 652.0 GiB at fp8' in report, report
    assert 'weights size measured (weights_bytes %d)' % (163 * 4 * 2 ** 30) in report, report
    # deepseek_weights_bytes wins over the manifest
    result = _run(tmp_path, ONE_PLAN, '-e', '@%s' % extra, '-e', 'deepseek_weights_bytes=700GiB', '-e', 'deepseek_plan_fail_on_misfit=false')
    assert result.returncode == 0, result.output
    assert 'weights 700.0 GiB at fp8' in (tmp_path / 'plan.md').read_text()
