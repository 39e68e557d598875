"""gpu_facts end to end with a fake nvidia-smi that prints the recorded outputs."""

import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.onprem.deepseek.plugins.modules import gpu_facts

FIXTURES = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, 'fixtures', 'nvidia_smi'))


def _fake_nvidia_smi(tmp_path, query, topo, banner, rc=0):
    script = tmp_path / 'nvidia-smi'
    script.write_text(
        '#!/bin/sh\n'
        'case "$1" in\n'
        '  --query-gpu=*) [ %d -eq 0 ] || { echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2; exit %d; }; cat %s ;;\n'
        '  topo) cat %s ;;\n'
        '  *) cat %s ;;\n'
        'esac\n' % (rc, rc, os.path.join(FIXTURES, query), os.path.join(FIXTURES, topo), os.path.join(FIXTURES, banner)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            gpu_facts.main()
    return json.loads(capsys.readouterr().out)


def test_hgx_h100(tmp_path, capsys):
    binary = _fake_nvidia_smi(tmp_path, 'h100_sxm_8gpu.query.csv', 'h100_sxm_8gpu.topo.txt', 'h100_sxm.banner.txt')
    result = _run(capsys, {'nvidia_smi': binary})
    facts = result['ansible_facts']['onprem_gpu']
    assert result['changed'] is False
    assert (facts['present'], facts['healthy'], facts['error']) == (True, True, None)
    assert facts['count'] == 8
    assert facts['driver_version'] == '550.90.07'
    assert facts['cuda_version'] == '12.4'
    assert facts['persistence_mode'] is True
    assert facts['topology']['nvlink_links_per_pair'] == 18


def test_absent_nvidia_smi_does_not_fail(capsys):
    result = _run(capsys, {'nvidia_smi': 'nvidia-smi-that-does-not-exist'})
    facts = result['ansible_facts']['onprem_gpu']
    assert 'failed' not in result
    assert (facts['present'], facts['healthy'], facts['count']) == (False, False, 0)
    assert facts['error'] == 'nvidia-smi is not installed'


def test_driver_not_loaded_is_present_but_unhealthy(tmp_path, capsys):
    binary = _fake_nvidia_smi(tmp_path, 'l40s_1gpu.query.csv', 'a100_sxm4_2gpu.topo.txt', 'l4_1gpu.banner.txt', rc=9)
    facts = _run(capsys, {'nvidia_smi': binary})['ansible_facts']['onprem_gpu']
    assert (facts['present'], facts['healthy']) == (True, False)
    assert facts['error'].startswith('nvidia-smi failed (rc 9): NVIDIA-SMI has failed')
