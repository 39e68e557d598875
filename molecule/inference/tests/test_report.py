"""onprem.deepseek.verify against the lab: each deployment's load test through its real gateway, the report files.

Runs before test_restart.py (file name order): the lab hosts keep the addresses the scenario converged with.
"""

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import lab


def test_verify_reports_each_deployment_of_the_lab(tmp_path):
    reports = tmp_path / 'reports'
    cmd = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'], os.path.join(lab.PROJECT, 'playbooks', 'verify.yml'),
           '-e', json.dumps({'verify_report_dir': str(reports), 'verify_bench_concurrency': [1, 2], 'verify_bench_requests': 4,
                             'verify_bench_max_tokens': 8})]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600,
                            env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0'))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for secret in lab.KEYS.values():
        assert secret not in output
    deployments = sorted(path.name for path in reports.iterdir())
    assert len(deployments) == 2, deployments               # the scenario's two deployments (one spans two hosts)
    for name in deployments:
        report = json.loads((reports / name / 'report.json').read_text())
        levels = [(level['concurrency'], level['requests'], level['errors']) for level in report['bench']['levels']]
        assert levels == [(1, 4, 0), (2, 4, 0)], report['bench']
        assert all(level['output_tokens'] > 0 for level in report['bench']['levels'])
        for host in report['hosts']:
            gpu = host['sections']['gpu']
            # no GPU in the lab: said, with the reason, never a figure
            assert gpu['status'] == 'skipped' and gpu['reason'].startswith('no NVIDIA GPU on this host'), gpu
        markdown = (reports / name / 'report.md').read_text()
        assert markdown.startswith('# Verify report: %s' % name) and '## Serving load test' in markdown
        ET.parse(str(reports / name / 'latency.svg'))
