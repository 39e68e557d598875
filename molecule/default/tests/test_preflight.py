"""Preflight on a fresh Debian host: facts and plan recorded, and bad input fails before any change."""

import json
import os
import subprocess

import pytest

REPORT = '/var/lib/onprem-deepseek/preflight.json'


def _report(host):
    return json.loads(host.file(REPORT).content_string)


def test_report_written_root_only_writable(host):
    report = host.file(REPORT)
    assert report.is_file
    assert report.user == 'root'
    assert report.mode == 0o644


def test_report_matches_the_host(host):
    data = _report(host)
    os_release = host.system_info
    assert data['host']['distribution'].lower() == os_release.distribution
    assert str(data['host']['distribution_major_version']) == os_release.release.split('.')[0]
    assert data['host']['kernel'] == host.check_output('uname -r')
    assert int(data['host']['cpus']) >= 1
    assert float(data['host']['ram_gib']) > 1


def test_no_gpu_means_no_gpu_plan(host):
    data = _report(host)
    assert data['host']['gpu_count'] == 0
    assert data['plan']['gpus'] == 0
    assert data['plan']['hugepages']['count'] == 0


def _run_preflight(extra_vars, limit):
    """Run the preflight role against one molecule container with extra vars; return the completed process."""
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    playbook = os.path.join(os.environ['MOLECULE_SCENARIO_DIRECTORY'], 'converge.yml')
    cmd = ['ansible-playbook', '-i', inventory, playbook, '--limit', limit, '-e', json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, env=env)
    # ansible-core 2.19 prints task errors on stderr: read both.
    result.output = result.stdout + result.stderr
    return result


@pytest.mark.parametrize('host_name', ['onprem-bookworm'])
def test_unsupported_release_fails_before_any_change(host, host_name):
    if host.backend.get_hostname() != host_name:
        pytest.skip('run once, against ' + host_name)
    before = host.file(REPORT).sha256sum
    result = _run_preflight({'preflight_supported_releases': {'Debian': ['11']},
                             'preflight_report_path': '/var/lib/onprem-deepseek/never.json'}, host_name)
    assert result.returncode != 0, result.output
    assert 'unsupported OS release: Debian 12 (supported: Debian 11)' in result.output
    assert not host.file('/var/lib/onprem-deepseek/never.json').exists
    assert host.file(REPORT).sha256sum == before


@pytest.mark.parametrize('host_name', ['onprem-trixie'])
def test_gpu_engine_without_gpu_names_every_problem(host, host_name):
    if host.backend.get_hostname() != host_name:
        pytest.skip('run once, against ' + host_name)
    result = _run_preflight({'deepseek_engine': 'vllm', 'preflight_min_ram_gib': 100000}, host_name)
    assert result.returncode != 0, result.output
    assert 'Preflight found 2 problem(s) on onprem-trixie' in result.output
    assert 'no GPU found on the PCI bus, but engine vllm needs GPUs' in result.output
    assert 'too little RAM:' in result.output


@pytest.mark.parametrize('host_name', ['onprem-trixie'])
def test_mistyped_model_and_gpu_fail_with_did_you_mean_on_a_gpu_less_host(host, host_name):
    # Before: rc=0 with "no GPU plan" (the names were resolved only when a GPU was present).
    if host.backend.get_hostname() != host_name:
        pytest.skip('run once, against ' + host_name)
    before = host.file(REPORT).sha256sum
    result = _run_preflight({'deepseek_model': 'DeepSeek-V3x', 'deepseek_gpu': 'H1000'}, host_name)
    assert result.returncode != 0, result.output
    text = ' '.join(result.output.split())  # the YAML callback folds long lines
    assert 'Preflight found 2 problem(s) on onprem-trixie' in text
    assert 'deepseek_model: unknown model' in text and 'DeepSeek-V3x' in text
    assert 'did you mean DeepSeek-V3 or' in text
    assert 'deepseek_gpu: unknown gpu' in text and 'H1000' in text
    assert 'did you mean H100-80G' in text
    assert host.file(REPORT).sha256sum == before


@pytest.mark.parametrize('host_name', ['onprem-bookworm'])
def test_model_that_cannot_fit_fails_naming_model_and_memory(host, host_name):
    if host.backend.get_hostname() != host_name:
        pytest.skip('run once, against ' + host_name)
    # DeepSeek-V3 in FP8 is about 640 GiB of weights: it cannot fit in one node of 8 x H100 80GB.
    # vLLM's rules (the scenario's own engine is llama.cpp, which refuses FP8 weights before any memory sum: GGUF only).
    result = _run_preflight({'deepseek_model': 'deepseek-ai/DeepSeek-V3', 'deepseek_quant': 'fp8', 'deepseek_gpu': 'H100-80G',
                             'deepseek_engine': 'vllm', 'deepseek_max_nodes': 1,
                             'preflight_report_path': '/var/lib/onprem-deepseek/never.json'}, host_name)
    assert result.returncode != 0, result.output
    assert 'model deepseek-ai/DeepSeek-V3 does not fit on 8 x H100-80G' in result.output
    assert 'GiB per GPU' in result.output and 'GiB budget' in result.output
    assert not host.file('/var/lib/onprem-deepseek/never.json').exists


@pytest.mark.parametrize('host_name', ['onprem-bookworm'])
def test_driver_branch_too_old_for_the_engine_image_is_a_problem(host, host_name):
    # The vLLM v0.11.0 image is built on CUDA 12.8, which needs a 570.26+ driver (CUDA release notes,
    # Table 3); Debian 13's non-free branch is 550. Preflight names it before anything changes.
    if host.backend.get_hostname() != host_name:
        pytest.skip('run once, against ' + host_name)
    result = _run_preflight({'deepseek_engine': 'vllm', 'nvidia_driver_branch': '550',
                             'preflight_report_path': '/var/lib/onprem-deepseek/never.json'}, host_name)
    assert result.returncode != 0, result.output
    text = ' '.join(result.output.split())
    assert 'the vllm image (CUDA 12.8) needs an NVIDIA driver >= 570.26, but the host has driver branch 550' in text
    assert 'set nvidia_driver_branch to 570 or newer' in text
    assert not host.file('/var/lib/onprem-deepseek/never.json').exists


def test_os_tuning_leaves_a_container_alone(host):
    # The role ends itself on container guests: no sysctl.d, modprobe.d or limits.d file appears.
    assert not host.file('/etc/sysctl.d/90-onprem-deepseek.conf').exists
    assert not host.file('/etc/modprobe.d/onprem-deepseek-blacklist-nouveau.conf').exists
    assert host.run('ls /etc/security/limits.d/ 2>/dev/null').stdout.count('onprem') == 0
