"""onprem.deepseek.verify parses with the example production inventory (its hosts are TEST-NET addresses: nothing runs)."""

import importlib.util
import json
import os
import ssl
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_verify_syntax_check_with_prod_inventory():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook', 'playbooks/verify.yml', '-i', 'inventories/prod', '--syntax-check'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'playbook: playbooks/verify.yml' in result.stdout


def test_verify_by_fqcn_is_the_playbook():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(['ansible-playbook', 'onprem.deepseek.verify', '-i', 'inventories/prod', '--list-tasks'],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for task in ('Check the GPUs where there are GPUs and tools', 'Send streamed chat completions through the gateway at each level',
                 'Write report.md, report.json and latency.svg'):
        assert task in result.stdout


def _load(name, relpath):
    # the fake gateway's test module imports the collection the way tests/unit/conftest.py makes it importable
    if os.path.join(ROOT, '.collections') not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, '.collections'))
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _verify(tmp_path, inventory, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    cmd = ['ansible-playbook', 'onprem.deepseek.verify', '-i', str(inventory), '-e', 'verify_report_dir=%s' % (tmp_path / 'reports')]
    result = subprocess.run(cmd + list(extra), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    result.output = result.stdout + result.stderr
    return result


def _inventory(tmp_path, **hostvars):
    host = dict({'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable, 'ansible_become': False,
                 'deepseek_deployment': 'local'}, **hostvars)
    path = tmp_path / 'hosts.yml'
    path.write_text(json.dumps({'all': {'children': {'deepseek': {'children': {'deepseek_inference': {'hosts': {'verify-1': host}}}}}}}))
    return path


def test_verify_end_to_end_on_this_machine_through_a_fake_https_gateway(tmp_path):
    # the controller itself as the one host (no GPU here: every GPU section says so), a stdlib HTTPS server with a
    # private CA as its gateway: the load test, the report files and the comparison on a second run
    fake = _load('fake_gateway', 'tests/unit/plugins/module_utils/test_serving_bench.py')
    fake._Handler.seen, fake._Handler.tokens, fake._Handler.delay, fake._Handler.fail_every, fake._Handler.usage = [], 5, 0.005, 0, True
    ca = fake._private_ca(tmp_path)
    httpd = fake.ThreadingHTTPServer(('127.0.0.1', 0), fake._Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / 'server.crt'), str(tmp_path / 'server.key'))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        inventory = _inventory(tmp_path, gateway_port=httpd.server_address[1], verify_gateway_ca=ca, inference_served_model_name='m',
                               gateway_api_keys=[{'name': 'audit', 'key': 'A' * 30, 'role': 'auditor'},
                                                 {'name': 'bench', 'key': fake.KEY}],
                               verify_bench_concurrency=[1, 2], verify_bench_requests=4, fabric_record=str(tmp_path / 'none.json'))
        first = _verify(tmp_path, inventory)
        assert first.returncode == 0, first.output
        assert fake.KEY not in first.output
        report = json.loads((tmp_path / 'reports' / 'local' / 'report.json').read_text())
        assert report['bench']['key_name'] == 'bench'  # the auditor key cannot chat
        figures = [(lv['concurrency'], lv['requests'], lv['errors'], lv['output_tokens']) for lv in report['bench']['levels']]
        assert figures == [(1, 4, 0, 20), (2, 4, 0, 20)]
        sections = report['hosts'][0]['sections']
        if sections['gpu']['status'] == 'skipped':
            assert sections['gpu']['reason'].startswith('no NVIDIA GPU on this host')
        assert sections['fabric']['reason'].startswith('no fabric record')
        markdown = (tmp_path / 'reports' / 'local' / 'report.md').read_text()
        assert 'no previous report in this directory' in markdown and 'no plan to compare with' in markdown
        ET.parse(str(tmp_path / 'reports' / 'local' / 'latency.svg'))
        second = _verify(tmp_path, inventory, '-e', 'verify_regression_pct=1000')
        assert second.returncode == 0, second.output
        assert (tmp_path / 'reports' / 'local' / 'previous.json').exists()
        assert 'No regression beyond the threshold.' in (tmp_path / 'reports' / 'local' / 'report.md').read_text()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_verify_without_a_gateway_says_why(tmp_path):
    result = _verify(tmp_path, _inventory(tmp_path, verify_gateway_ca=str(tmp_path / 'absent.crt'), gateway_api_keys=[]))
    assert result.returncode == 0, result.output
    report = json.loads((tmp_path / 'reports' / 'local' / 'report.json').read_text())
    assert report['bench']['status'] == 'skipped'
    assert report['bench']['reason'] == 'no gateway CA at %s on verify-1: has site.yml deployed the gateway?' % (tmp_path / 'absent.crt')
