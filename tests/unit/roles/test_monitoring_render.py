"""The monitoring role's files, rendered by ansible from the role's own templates, defaults and vars, checked by the
tools that will read them: `promtool check config` (prometheus.yml generated from a test inventory), `promtool check
rules` and `promtool test rules` (every alert firing and not firing, tests/unit/fixtures/monitoring/rules_test.yml),
`promtool check web-config`, `amtool check-config`; the mtail program run by mtail on gateway access-log lines in the
gateway role's log_format; the textfile collector; the dashboards (valid JSON, every expression parsed by promtool,
every metric produced by an exporter or a recording rule of the role); and tasks/assert.yml on its own.
promtool and amtool come from the Debian packages in scripts/monitoring/packages.txt: without them those tests skip.
"""

import glob
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'monitoring')
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'monitoring')
PROMTOOL = shutil.which('promtool')
PROMETHEUS = shutil.which('prometheus')
AMTOOL = shutil.which('amtool')
MTAIL = shutil.which('mtail')
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason='promtool is not installed (apt-get install prometheus: scripts/monitoring/packages.txt)')
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason='amtool is not installed (apt-get install prometheus-alertmanager: scripts/monitoring/packages.txt)')
needs_mtail = pytest.mark.skipif(MTAIL is None, reason='mtail is not installed (apt-get install mtail: scripts/monitoring/packages.txt)')

# The role's bcrypt hash of 'lab-prometheus-password' on host mon-1 (tasks/prometheus.yml's expression, computed with
# passlib 1.7.4); the render tests pass it in, so that they do not need passlib on the controller.
PASSWORD = 'lab-prometheus-password'
PASSWORD_HASH = '$2b$12$e293b50035ac6cbe2319cexGp2KjAZySvfRJ2Mqqs1SPxvys2teQa'
needs_passlib = pytest.mark.skipif(importlib.util.find_spec('passlib') is None,
                                   reason='passlib is not installed on the controller (ansible.builtin.password_hash needs it)')

INVENTORY = {
    'all': {
        'children': {
            'deepseek': {
                'vars': {'deepseek_deployment': 'prod'},
                'children': {
                    'deepseek_inference': {
                        'hosts': {
                            'gpu-1': {'ansible_host': '10.0.0.11', 'monitoring_gpu_count': 8},
                            'gpu-2': {'ansible_host': '10.0.0.12', 'monitoring_gpu_count': 8, 'inference_port': 8010,
                                      'inference_bind_address': '10.0.0.12'},
                            'cpu-1': {'ansible_host': '10.0.0.13', 'monitoring_gpu_count': 0, 'deepseek_deployment': 'lab',
                                      'deepseek_engine': 'llama_cpp'},
                            # Not reached by this run (--limit): its cached preflight fact counts its GPUs.
                            'gpu-3': {'ansible_host': '10.0.0.14', 'preflight_host': {'gpu_count': 4}},
                        },
                    },
                },
            },
            'monitoring': {'hosts': {'mon-1': {'ansible_host': '10.0.0.2'}}},
        },
        'vars': {'ansible_connection': 'local'},
    },
}

# The inference lab's shape: every host reached over an SSH port forward on 127.0.0.1; the role's fact
# monitoring_scrape_address (tasks/vars.yml: the default IPv4 there) set as that run sets it; lab-w is the worker of a
# two-node engine (the inference role's fact inference_node_role), without a gateway.
LAB_INVENTORY = {
    'all': {
        'children': {
            'deepseek': {
                'children': {
                    'deepseek_inference': {
                        'hosts': {
                            'lab-1': {'ansible_host': '127.0.0.1', 'deepseek_deployment': 'molecule', 'deepseek_engine': 'llama_cpp'},
                            'lab-b': {'ansible_host': '127.0.0.1', 'monitoring_scrape_address': '10.88.0.12',
                                      'deepseek_deployment': 'molecule-b', 'deepseek_engine': 'llama_cpp', 'inference_node_role': 'head'},
                            'lab-w': {'ansible_host': '127.0.0.1', 'monitoring_scrape_address': '10.88.0.13',
                                      'deepseek_deployment': 'molecule-b', 'deepseek_engine': 'llama_cpp', 'inference_node_role': 'worker'},
                        },
                    },
                },
            },
        },
        'vars': {'ansible_connection': 'local'},
    },
}
TEMPLATES = ['prometheus.yml', 'rules.yml', 'alertmanager.yml', 'web-config.yml', 'prometheus.default', 'alertmanager.default',
             'node-exporter.default', 'mtail.default', 'textfile.service', 'textfile.timer', 'dcgm-exporter.service']

# Each variant is one debug task whose task vars override the role's defaults (loaded as vars_files, lower precedence):
# every template rendered through the template lookup, all variants in one ansible-playbook run (a template task per
# file and variant took minutes on a loaded 2-core machine).
RENDER_PLAY = """
- hosts: {host}
  gather_facts: false
  vars_files: [{role}/defaults/main.yml, {role}/vars/main.yml, {role}/vars/Debian.yml]
  tasks:
"""
RENDER_TASK = """
    - name: {name}
      ansible.builtin.debug:
        msg: "{{{{ dict(templates | zip(query('ansible.builtin.template', *templates))) }}}}"
      vars: {variables}
"""
SHORT_FOR = dict((name, '1m') for name in (
    'monitoring_alert_gpu_temperature_for', 'monitoring_alert_gpu_utilisation_for', 'monitoring_alert_engine_latency_p99_for',
    'monitoring_alert_gateway_latency_p99_for', 'monitoring_alert_error_ratio_for', 'monitoring_alert_waiting_requests_for',
    'monitoring_alert_kv_cache_usage_for', 'monitoring_alert_engine_down_for', 'monitoring_alert_exporter_down_for',
    'monitoring_alert_node_down_for', 'monitoring_alert_model_store_disk_usage_for', 'monitoring_alert_certificate_days_for',
    'monitoring_alert_gpu_error_for', 'monitoring_alert_engine_restart_for'))

RULES_TEST = os.path.join(FIXTURES, 'rules_test.yml')


def _env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')


def _ansible(tmp_path, playbook, extra_vars, inventory=None, name='play'):
    (tmp_path / ('%s.yml' % name)).write_text(playbook)
    (tmp_path / ('%s.json' % name)).write_text(json.dumps(dict(extra_vars, ansible_python_interpreter=sys.executable)))
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory or INVENTORY))
    cmd = ['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / ('%s.yml' % name)),
           '-e', '@%s' % (tmp_path / ('%s.json' % name))]
    result = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def render(tmp_path, variants, host='mon-1', inventory=None):
    """Render the role's templates for each {name: extra vars} on `host`; return {name: {template: text}}."""
    play = RENDER_PLAY.format(host=host, role=ROLE)
    for name, extra in variants.items():
        variables = {'__monitoring_password_hash': PASSWORD_HASH, '__monitoring_prometheus_dir': '/etc/prometheus',
                     'templates': [os.path.join(ROLE, 'templates', t + '.j2') for t in TEMPLATES]}
        variables.update(extra)
        play += RENDER_TASK.format(name=name, variables=json.dumps(variables))
    (tmp_path / 'render.yml').write_text(play)
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory or INVENTORY))
    cmd = ['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / 'render.yml'),
           '-e', 'ansible_python_interpreter=%s' % sys.executable]
    env = dict(_env(), ANSIBLE_STDOUT_CALLBACK='json')
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    rendered = {}
    for task in json.loads(result.stdout)['plays'][0]['tasks']:
        texts = task['hosts'][host]['msg']
        rendered[task['task']['name']] = dict((os.path.basename(path)[:-3], text) for path, text in texts.items())
    return rendered


THRESHOLDS = {'monitoring_alert_gpu_temperature': 77, 'monitoring_alert_gpu_utilisation': 55,
              'monitoring_alert_engine_latency_p99': 1.25, 'monitoring_alert_gateway_latency_p99': 2.5,
              'monitoring_alert_error_ratio': 0.02, 'monitoring_alert_waiting_requests': 33,
              'monitoring_alert_kv_cache_usage': 0.75, 'monitoring_alert_model_store_disk_usage': 0.6,
              'monitoring_alert_certificate_days': 10, 'monitoring_alert_event_window': '7m',
              'monitoring_model_store_mountpoints': ['/data/models']}
RECEIVERS = {'monitoring_alert_webhook_urls': ['https://hooks.example.com/alert', 'http://10.0.0.9:8080/'],
             'monitoring_alert_email_to': ['oncall@example.com'], 'monitoring_smtp_smarthost': 'smtp.example.com:587',
             'monitoring_smtp_from': 'prometheus@example.com', 'monitoring_smtp_auth_username': 'prometheus',
             'monitoring_smtp_auth_password': 'smtp-secret'}


@pytest.fixture(scope='module')
def variants(tmp_path_factory):
    found = render(tmp_path_factory.mktemp('monitoring-render'), {
        'default': {}, 'short': SHORT_FOR, 'thresholds': dict(THRESHOLDS, **dict((n, '3m') for n in SHORT_FOR)),
        'receivers': RECEIVERS, 'all-engines': {'monitoring_engine_metrics_engines': ['vllm', 'sglang', 'llama_cpp']}})
    # One box: the serving host gpu-1 is its own monitoring server.
    found.update(render(tmp_path_factory.mktemp('monitoring-onebox'), {'onebox': {'monitoring_server': True}}, host='gpu-1'))
    lab_vars = {'lab': {'monitoring_server': True},
                'lab-all-engines': {'monitoring_server': True, 'monitoring_engine_metrics_engines': ['vllm', 'sglang', 'llama_cpp']}}
    found.update(render(tmp_path_factory.mktemp('monitoring-lab'), lab_vars, host='lab-1', inventory=LAB_INVENTORY))
    return found


@pytest.fixture(scope='module')
def rendered(variants):
    return variants['default']


@pytest.fixture(scope='module')
def rendered_short(variants):
    return variants['short']


def _run(cmd, cwd=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, result.stdout + result.stderr


# --- prometheus.yml: targets from the inventory, checked by promtool ---

def _jobs(text):
    config = yaml.safe_load(text)
    jobs = {}
    for job in config['scrape_configs']:
        jobs[job['job_name']] = [(target, entry['labels']) for entry in job['static_configs'] for target in entry['targets']]
    return config, jobs


def test_scrape_targets_come_from_the_inventory(rendered):
    config, jobs = _jobs(rendered['prometheus.yml'])

    def targets(job):
        return sorted(target for target, _labels in jobs[job])

    assert targets('node') == ['10.0.0.11:9100', '10.0.0.12:9100', '10.0.0.13:9100', '10.0.0.14:9100', '10.0.0.2:9100']
    # DCGM only where the host counted GPUs (gpu-3: by its cached preflight fact).
    assert targets('dcgm') == ['10.0.0.11:9400', '10.0.0.12:9400', '10.0.0.14:9400']
    assert targets('mtail') == ['10.0.0.11:3903', '10.0.0.12:3903', '10.0.0.13:3903', '10.0.0.14:3903']
    # The engine's port is the host's inference_port where the inventory sets it; llama.cpp serves no /metrics here.
    assert targets('engine') == ['10.0.0.11:8000', '10.0.0.12:8010', '10.0.0.14:8000']
    labels = dict((t, l) for t, l in jobs['node'])
    assert labels['10.0.0.11:9100'] == {'instance': 'gpu-1', 'deployment': 'prod'}
    assert labels['10.0.0.13:9100'] == {'instance': 'cpu-1', 'deployment': 'lab'}
    assert config['global']['scrape_interval'] == '15s'
    assert config['alerting']['alertmanagers'][0]['static_configs'][0]['targets'] == ['127.0.0.1:9093']


def test_engines_without_metrics_are_not_scraped_unless_listed(variants):
    jobs = _jobs(variants['all-engines']['prometheus.yml'])[1]
    assert sorted(target for target, _labels in jobs['engine']) == ['10.0.0.11:8000', '10.0.0.12:8010', '10.0.0.13:8000', '10.0.0.14:8000']


def test_one_box_scrapes_its_own_loopback_engine(variants):
    """On a serving host that is its own monitoring server, its loopback engine is scraped on 127.0.0.1."""
    jobs = _jobs(variants['onebox']['prometheus.yml'])[1]
    assert sorted(target for target, _labels in jobs['engine']) == ['10.0.0.12:8010', '10.0.0.14:8000', '127.0.0.1:8000']


def test_lab_scrapes_port_forwarded_hosts_on_their_own_address_and_no_worker_mtail(variants):
    """Hosts reached on 127.0.0.1 (SSH port forwards) are scraped on the address the role published for them; the
    worker of a multi-node engine has no gateway, so no mtail target; llama.cpp: no engine target."""
    jobs = _jobs(variants['lab']['prometheus.yml'])[1]
    assert sorted(t for t, _l in jobs['node']) == ['10.88.0.12:9100', '10.88.0.13:9100', '127.0.0.1:9100']
    assert sorted(t for t, _l in jobs['mtail']) == ['10.88.0.12:3903', '127.0.0.1:3903']
    assert jobs['engine'] == [] and jobs['dcgm'] == []
    # With every engine's /metrics scraped, still none on the worker.
    jobs = _jobs(variants['lab-all-engines']['prometheus.yml'])[1]
    assert sorted(t for t, _l in jobs['engine']) == ['10.88.0.12:8000', '127.0.0.1:8000']
    assert dict(jobs['node'])['10.88.0.13:9100'] == {'instance': 'lab-w', 'deployment': 'molecule-b'}


@needs_promtool
def test_promtool_checks_the_config(rendered, tmp_path):
    for name in ('prometheus.yml', 'rules.yml', 'web-config.yml'):
        (tmp_path / name).write_text(rendered[name])
    config = rendered['prometheus.yml'].replace(
        '- %s' % yaml.safe_load(rendered['prometheus.yml'])['rule_files'][0], '- %s' % (tmp_path / 'rules.yml'))
    (tmp_path / 'prometheus.yml').write_text(config)
    code, output = _run([PROMTOOL, 'check', 'config', str(tmp_path / 'prometheus.yml')])
    assert code == 0, output
    assert 'SUCCESS: 27 rules found' in output, output


@needs_promtool
def test_promtool_checks_the_web_config(rendered, tmp_path):
    web = yaml.safe_load(rendered['web-config.yml'])
    assert web['basic_auth_users'] == {'admin': PASSWORD_HASH}
    assert web['tls_server_config']['cert_file'] == '/etc/prometheus/onprem-tls/prometheus.crt'
    assert web['tls_server_config']['key_file'] == '/etc/prometheus/onprem-tls/prometheus.key'
    # promtool reads the certificate and key it names: a throwaway pair below tmp_path.
    cert, key = str(tmp_path / 'prometheus.crt'), str(tmp_path / 'prometheus.key')
    code, output = _run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                         '-subj', '/CN=test', '-days', '1', '-keyout', key, '-out', cert])
    assert code == 0, output
    web['tls_server_config'].update(cert_file=cert, key_file=key)
    (tmp_path / 'web.yml').write_text(yaml.safe_dump(web))
    code, output = _run([PROMTOOL, 'check', 'web-config', str(tmp_path / 'web.yml')])
    assert code == 0, output


@needs_passlib
def test_password_hash_is_bcrypt_and_stable(tmp_path):
    """The task's own expression, run twice: the same bcrypt hash (no change on a re-run), and it verifies the password."""
    with open(os.path.join(ROLE, 'tasks', 'prometheus.yml'), encoding='utf-8') as handle:
        task = [t for t in yaml.safe_load(handle) if '__monitoring_password_hash' in t.get('vars', {})][0]
    play = ('- hosts: mon-1\n  gather_facts: false\n  tasks:\n' + ''.join(
        '    - name: hash{n}\n      ansible.builtin.debug:\n        msg: {expr}\n'.format(
            n=n, expr=json.dumps(task['vars']['__monitoring_password_hash'].strip())) for n in (1, 2)))
    (tmp_path / 'hash.yml').write_text(play)
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(INVENTORY))
    cmd = ['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / 'hash.yml'),
           '-e', 'monitoring_prometheus_password=%s' % PASSWORD]
    result = subprocess.run(cmd, cwd=ROOT, env=dict(_env(), ANSIBLE_STDOUT_CALLBACK='json'), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    hashes = [t['hosts']['mon-1']['msg'] for t in json.loads(result.stdout)['plays'][0]['tasks']]
    assert hashes == [PASSWORD_HASH, PASSWORD_HASH]
    from passlib.hash import bcrypt
    assert bcrypt.verify(PASSWORD, PASSWORD_HASH)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _get(url, context, auth=None):
    request = urllib.request.Request(url)
    if auth:
        import base64
        request.add_header('Authorization', 'Basic ' + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:  # nosec B310: a loopback URL of the test
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ''
    except (urllib.error.URLError, ConnectionError):
        return 0, ''


@pytest.mark.skipif(PROMETHEUS is None or PROMTOOL is None, reason='prometheus is not installed (scripts/monitoring/packages.txt)')
def test_prometheus_serves_the_rendered_files(rendered, tmp_path):
    """A throwaway Prometheus on 127.0.0.1 with the rendered config, rules and web config (the real bcrypt hash):
    TLS only, 401 without or with a wrong password, the API with the password, every rule group loaded."""
    (tmp_path / 'rules.yml').write_text(rendered['rules.yml'])
    config = yaml.safe_load(rendered['prometheus.yml'])
    config['rule_files'] = [str(tmp_path / 'rules.yml')]
    (tmp_path / 'prometheus.yml').write_text(yaml.safe_dump(config))
    cert, key = str(tmp_path / 'prometheus.crt'), str(tmp_path / 'prometheus.key')
    code, output = _run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                         '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert])
    assert code == 0, output
    web = yaml.safe_load(rendered['web-config.yml'])
    web['tls_server_config'].update(cert_file=cert, key_file=key)
    (tmp_path / 'web.yml').write_text(yaml.safe_dump(web))
    port = _free_port()
    args = [a for a in re.search(r'ARGS="([^"]*)"', rendered['prometheus.default']).group(1).split()
            if not a.startswith(('--web.listen-address', '--web.config.file'))]
    log = open(tmp_path / 'prometheus.log', 'w', encoding='utf-8')
    server = subprocess.Popen([PROMETHEUS, '--config.file', str(tmp_path / 'prometheus.yml'), '--web.config.file', str(tmp_path / 'web.yml'),
                               '--storage.tsdb.path', str(tmp_path / 'data'), '--web.listen-address', '127.0.0.1:%d' % port] + args,
                              stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False
    base = 'https://127.0.0.1:%d' % port
    try:
        deadline = time.time() + 60
        while _get(base + '/-/ready', context, 'admin:' + PASSWORD)[0] != 200:
            assert server.poll() is None and time.time() < deadline, (tmp_path / 'prometheus.log').read_text()[-3000:]
            time.sleep(0.5)
        assert _get(base + '/api/v1/rules', context)[0] == 401
        assert _get(base + '/api/v1/rules', context, 'admin:wrong-password')[0] == 401
        status, body = _get(base + '/api/v1/rules', context, 'admin:' + PASSWORD)
        assert status == 200
        groups = json.loads(body)['data']['groups']
        assert sorted((g['name'], len(g['rules'])) for g in groups) == [('onprem-deepseek-alerts', 15), ('onprem-deepseek-recording', 12)]
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen('http://127.0.0.1:%d/-/ready' % port, timeout=5).read()  # nosec B310: plain HTTP refused
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_prometheus_arguments(rendered):
    args = rendered['prometheus.default']
    assert '--storage.tsdb.retention.time=15d' in args
    assert '--web.listen-address=0.0.0.0:9090' in args
    assert re.search(r'--web\.config\.file=\S+/onprem-web-config\.yml', args)
    assert '--web.listen-address=127.0.0.1:9093' in rendered['alertmanager.default']


# --- rules: check and test ---

def _alerts(text):
    rules = [r for g in yaml.safe_load(text)['groups'] for r in g['rules']]
    return dict((r['alert'], r) for r in rules if 'alert' in r), [r['record'] for r in rules if 'record' in r]


def test_every_threshold_and_duration_is_a_variable(variants):
    alerts = _alerts(variants['thresholds']['rules.yml'])[0]
    assert all(rule['for'] == '3m' for rule in alerts.values()), dict((a, r['for']) for a, r in alerts.items())
    assert alerts['DeepseekGpuTemperatureHigh']['expr'] == 'DCGM_FI_DEV_GPU_TEMP > 77.0'
    assert alerts['DeepseekGpuUtilisationHigh']['expr'] == 'DCGM_FI_DEV_GPU_UTIL > 55.0'
    assert alerts['DeepseekEngineLatencyP99High']['expr'].endswith('> 1.25')
    assert alerts['DeepseekGatewayLatencyP99High']['expr'].endswith('> 2.5')
    assert alerts['DeepseekErrorRatioHigh']['expr'].endswith('> 0.02')
    assert alerts['DeepseekRequestsWaiting']['expr'].endswith('> 33')
    assert alerts['DeepseekKvCacheFull']['expr'].endswith('> 0.75')
    assert alerts['DeepseekModelStoreDiskFull']['expr'].endswith('> 0.6')
    assert 'mountpoint=~`/data/models`' in alerts['DeepseekModelStoreDiskFull']['expr']
    assert alerts['DeepseekCertificateExpiring']['expr'].endswith('< 864000')
    for name in ('DeepseekGpuXidError', 'DeepseekGpuEccUncorrectable', 'DeepseekEngineRestarted'):
        assert '[7m]' in alerts[name]['expr'], name


@needs_promtool
@pytest.mark.parametrize('which', ['rendered', 'rendered_short'])
def test_promtool_checks_the_rules(which, request, tmp_path):
    (tmp_path / 'rules.yml').write_text(request.getfixturevalue(which)['rules.yml'])
    code, output = _run([PROMTOOL, 'check', 'rules', str(tmp_path / 'rules.yml')])
    assert code == 0, output


def _rules_test_cases():
    with open(RULES_TEST, encoding='utf-8') as handle:
        tests = yaml.safe_load(handle)['tests']
    firing, silent = set(), set()
    for case in tests:
        for check in case.get('alert_rule_test', []):
            (firing if check.get('exp_alerts') else silent).add(check['alertname'])
    return firing, silent


def test_the_rules_test_covers_every_alert_firing_and_not(rendered_short):
    alerts = _alerts(rendered_short['rules.yml'])[0]
    firing, silent = _rules_test_cases()
    assert sorted(set(alerts) - firing) == [], 'alerts never tested firing'
    assert sorted(set(alerts) - silent) == [], 'alerts never tested silent'
    assert sorted((firing | silent) - set(alerts)) == [], 'tests of alerts the rules do not have'


@needs_promtool
def test_promtool_test_rules(rendered_short, tmp_path):
    """The unit tests of the rules, on the rules rendered with every `for:` at 1m."""
    (tmp_path / 'rules.yml').write_text(rendered_short['rules.yml'])
    test = yaml.safe_load(open(RULES_TEST, encoding='utf-8'))
    test['rule_files'] = [str(tmp_path / 'rules.yml')]
    (tmp_path / 'rules_test.yml').write_text(yaml.safe_dump(test, sort_keys=False))
    code, output = _run([PROMTOOL, 'test', 'rules', str(tmp_path / 'rules_test.yml')])
    assert code == 0, output


@needs_promtool
def test_default_durations_hold_an_alert_back(rendered, tmp_path):
    """With the default 10m, GPU utilisation above 90 % for 5 minutes does not fire; for 11 minutes it does."""
    (tmp_path / 'rules.yml').write_text(rendered['rules.yml'])
    test = {'rule_files': [str(tmp_path / 'rules.yml')], 'evaluation_interval': '1m', 'tests': [{
        'interval': '1m',
        'input_series': [{'series': 'DCGM_FI_DEV_GPU_UTIL{instance="gpu-1", gpu="0", deployment="prod"}', 'values': '95x20'}],
        'alert_rule_test': [
            {'eval_time': '5m', 'alertname': 'DeepseekGpuUtilisationHigh', 'exp_alerts': []},
            {'eval_time': '11m', 'alertname': 'DeepseekGpuUtilisationHigh', 'exp_alerts': [{
                'exp_labels': {'severity': 'warning', 'instance': 'gpu-1', 'gpu': '0', 'deployment': 'prod'},
                'exp_annotations': {'summary': 'GPU 0 on gpu-1 is above 90 % busy'}}]}]}]}
    (tmp_path / 'test.yml').write_text(yaml.safe_dump(test, sort_keys=False))
    code, output = _run([PROMTOOL, 'test', 'rules', str(tmp_path / 'test.yml')])
    assert code == 0, output


# --- Alertmanager ---

@needs_amtool
@pytest.mark.parametrize('variant,extra', [('default', {}), ('receivers', RECEIVERS)], ids=['no-receiver', 'webhooks-and-email'])
def test_amtool_checks_the_alertmanager_config(variant, extra, variants, tmp_path):
    text = variants[variant]['alertmanager.yml']
    (tmp_path / 'alertmanager.yml').write_text(text)
    code, output = _run([AMTOOL, 'check-config', str(tmp_path / 'alertmanager.yml')])
    assert code == 0, output
    receiver = yaml.safe_load(text)['receivers'][0]
    assert [w['url'] for w in receiver.get('webhook_configs', [])] == extra.get('monitoring_alert_webhook_urls', [])
    assert [e['to'] for e in receiver.get('email_configs', [])] == extra.get('monitoring_alert_email_to', [])


# --- exporters' configuration ---

def test_exporter_units(rendered):
    assert '--collector.textfile.directory=/var/lib/prometheus/node-exporter' in rendered['node-exporter.default']
    assert 'LOGS=/var/log/onprem-deepseek/gateway/access.log' in rendered['mtail.default']
    dcgm = rendered['dcgm-exporter.service']
    assert '--device nvidia.com/gpu=all' in dcgm and '--publish 9400:9400' in dcgm
    assert 'nvcr.io/nvidia/k8s/dcgm-exporter:' in dcgm and '-f /etc/dcgm-exporter/onprem-counters.csv' in dcgm
    service = rendered['textfile.service']
    assert '--certificate /etc/nginx/onprem-deepseek/tls/server.crt' in service
    assert '--unit deepseek-inference.service' in service
    assert '--watchdog-dir /var/lib/onprem-deepseek/inference' in service


def test_dcgm_counters_hold_every_field_the_rules_read():
    with open(os.path.join(ROLE, 'files', 'dcgm-counters.csv'), encoding='utf-8') as handle:
        fields = set(line.split(',')[0].strip() for line in handle if line.strip() and not line.startswith('#'))
    assert {'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_XID_ERRORS', 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL'} <= fields
    assert _metrics_read_by('DCGM_FI_') <= fields


# --- mtail on the gateway's log format ---

# Lines in the gateway role's log_format (roles/gateway/templates/site.conf.j2), as nginx writes them.
ACCESS_LOG = """\
10.0.0.5 [2026-12-03T17:00:00+00:00] "POST /v1/chat/completions HTTP/2.0" 200 1234 456 0.123 key=alice upstream_time=0.120
10.0.0.5 [2026-12-03T17:00:01+00:00] "POST /v1/chat/completions HTTP/2.0" 200 99 456 2.000 key=alice upstream_time=1.999 \
role=admin auth="ok" prompt_tokens=12 completion_tokens=16 owner="Risk team"
10.0.0.5 [2026-12-03T17:00:01+00:00] "POST /v1/chat/completions HTTP/2.0" 200 99 456 0.200 key=jwt:dana upstream_time=0.199 \
role=user auth="ok" prompt_tokens=7 completion_tokens=200 owner=""
10.0.0.5 [2026-12-03T17:00:01+00:00] "POST /v1/chat/completions HTTP/2.0" 200 99 456 0.200 key=alice upstream_time=0.199 \
role=admin auth="ok" prompt_tokens=- completion_tokens=-
10.0.0.6 [2026-12-03T17:00:02+00:00] "GET /v1/models HTTP/2.0" 401 80 60 0.000 key= upstream_time=-
10.0.0.6 [2026-12-03T17:00:03+00:00] "POST /v1/completions HTTP/1.1" 502 80 60 30.500 key=batch upstream_time=30.499, 0.001 role=x auth="ok"
"""


def test_the_gateway_log_format_is_what_mtail_reads():
    with open(os.path.join(ROOT, 'roles', 'gateway', 'templates', 'site.conf.j2'), encoding='utf-8') as handle:
        site = handle.read()
    fmt = re.search(r"log_format deepseek_gateway (.*?);", site, re.S).group(1)
    literal = ''.join(re.findall(r"'([^']*)'", fmt))
    # mtail reads the fields up to upstream_time; fields the gateway adds after it are allowed.
    assert literal.startswith('$remote_addr [$time_iso8601] "$request_method $uri $server_protocol" $status $body_bytes_sent '
                              '$request_length $request_time key=$deepseek_api_key_name upstream_time=$upstream_response_time'), literal


@needs_mtail
def test_mtail_counts_requests_and_latency(tmp_path):
    (tmp_path / 'access.log').write_text(ACCESS_LOG + 'not a gateway line\n')
    code, output = _run([MTAIL, '--one_shot', '--one_shot_format', 'prometheus', '--logtostderr',
                         '--progs', os.path.join(ROLE, 'files', 'gateway.mtail'), '--logs', str(tmp_path / 'access.log')],
                        cwd=str(tmp_path))
    assert code == 0, output
    samples = {}
    for name, labels, number in re.findall(r'^(onprem_\w+)\{([^}]*)\} (\S+)$', output, re.M):
        samples[(name, frozenset(re.findall(r'(\w+)="([^"]*)"', labels)))] = float(number)

    def value(name, **labels):
        return samples[(name, frozenset(dict(labels, prog='gateway.mtail').items()))]

    assert value('onprem_gateway_requests_total', key='alice', status='200') == 3
    assert value('onprem_gateway_tokens_total', key='alice', kind='prompt') == 12
    assert value('onprem_gateway_tokens_total', key='alice', kind='completion') == 16
    assert value('onprem_gateway_tokens_total', key='jwt:dana', kind='completion') == 200
    assert value('onprem_gateway_requests_total', key='-', status='401') == 1
    assert value('onprem_gateway_requests_total', key='batch', status='502') == 1
    assert value('onprem_gateway_log_lines_unparsed_total') == 1
    assert value('onprem_gateway_request_duration_seconds_count') == 6
    assert value('onprem_gateway_request_duration_seconds_sum') == pytest.approx(33.023)
    assert value('onprem_gateway_request_duration_seconds_bucket', le='0.025') == 1
    assert value('onprem_gateway_request_duration_seconds_bucket', le='0.25') == 4
    assert value('onprem_gateway_request_duration_seconds_bucket', le='2.5') == 5
    assert value('onprem_gateway_request_duration_seconds_bucket', le='60') == 6
    assert value('onprem_gateway_request_duration_seconds_bucket', le='+Inf') == 6


# --- textfile collector ---

def _collector():
    loader = importlib.machinery.SourceFileLoader('monitoring_textfile', os.path.join(ROLE, 'files', 'monitoring-textfile'))
    spec = importlib.util.spec_from_loader('monitoring_textfile', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_textfile_collector_renders_exposition_format():
    module = _collector()
    text = module.render({'/etc/x.crt': 1800000000}, {'deepseek-inference': {'restarts': 3, 'last_restart': 1799999999.5}},
                         {'deepseek-inference.service': 2, 'other.service': 0}, [],
                         {'deepseek-inference.service': True, 'other.service': False})
    assert 'onprem_certificate_expiry_timestamp_seconds{path="/etc/x.crt"} 1800000000\n' in text
    assert 'onprem_inference_watchdog_restarts_total{unit="deepseek-inference"} 3\n' in text
    assert 'onprem_inference_watchdog_last_restart_timestamp_seconds{unit="deepseek-inference"} 1799999999.5\n' in text
    assert 'onprem_systemd_unit_restarts_total{unit="deepseek-inference.service"} 2\n' in text
    assert 'onprem_systemd_unit_active{unit="deepseek-inference.service"} 1\n' in text
    assert 'onprem_systemd_unit_active{unit="other.service"} 0\n' in text
    assert text.endswith('onprem_textfile_collector_errors 0\n')
    assert module.parse_not_after('notAfter=Mar  3 12:00:00 2027 GMT\n') == 1804075200


@pytest.mark.parametrize('output, expected', [
    ('LoadState=loaded\nActiveState=active\nNRestarts=2\n', (True, True, 2)),
    ('NRestarts=0\nLoadState=loaded\nActiveState=inactive\n', (True, False, 0)),
    ('LoadState=loaded\nActiveState=activating\nNRestarts=1\n', (True, False, 1)),
    ('LoadState=loaded\nActiveState=reloading\nNRestarts=0\n', (True, True, 0)),
    # systemd's answer for a unit this host does not have (a worker without that engine unit): left out.
    ('LoadState=not-found\nActiveState=inactive\nNRestarts=0\n', (False, False, 0)),
])
def test_textfile_collector_reads_unit_state(output, expected):
    assert _collector().parse_unit(output) == expected


def test_textfile_collector_refuses_unexpected_systemctl_output():
    with pytest.raises(ValueError, match="unexpected output 'NRestarts=\\[not set\\]'"):
        _collector().parse_unit('NRestarts=[not set]\n')


@needs_promtool
def test_textfile_collector_end_to_end(tmp_path):
    """The program run as the timer runs it: a real certificate and a watchdog state file; promtool accepts the output."""
    cert = tmp_path / 'server.crt'
    code, output = _run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                         '-subj', '/CN=test', '-days', '10', '-keyout', str(tmp_path / 'server.key'), '-out', str(cert)])
    assert code == 0, output
    (tmp_path / 'watchdog-deepseek-inference.json').write_text('{"restarts": 2, "consecutive_failures": 0}\n')
    out = tmp_path / 'onprem.prom'
    code, output = _run([os.path.join(ROLE, 'files', 'monitoring-textfile'), '--output', str(out), '--certificate', str(cert),
                         '--certificate', str(tmp_path / 'absent.crt'), '--watchdog-dir', str(tmp_path)])
    assert code == 0, output
    text = out.read_text()
    expiry = float(re.search(r'onprem_certificate_expiry_timestamp_seconds\{path="%s"\} (\S+)' % re.escape(str(cert)), text).group(1))
    import time
    assert 9 * 86400 < expiry - time.time() <= 10 * 86400 + 60
    assert 'absent.crt' not in text
    assert 'onprem_inference_watchdog_restarts_total{unit="deepseek-inference"} 2' in text
    code, output = subprocess.run([PROMTOOL, 'check', 'metrics'], input=text, capture_output=True, text=True, check=False).returncode, ''
    assert code == 0


# --- dashboards ---

DASHBOARDS = sorted(glob.glob(os.path.join(ROLE, 'files', 'dashboards', '*.json')))
PROMQL_WORDS = {
    'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
    'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool',
    'rate', 'irate', 'increase', 'delta', 'idelta', 'changes', 'resets', 'deriv', 'histogram_quantile', 'time', 'vector',
    'scalar', 'abs', 'clamp_min', 'clamp_max', 'label_replace', 'label_join', 'max_over_time', 'min_over_time',
    'avg_over_time', 'sum_over_time', 'absent', 'round', 'le', 'inf', 'nan'}


def _metric_names(expr):
    """Metric names an expression reads (label matchers, strings, durations and grouping clauses left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', expr)
    expr = re.sub(r'\{[^}]*\}', '', expr)
    expr = re.sub(r'\[[^\]]*\]', '', expr)
    expr = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', '', expr)
    names = set(re.findall(r'[A-Za-z_:][A-Za-z0-9_:]*', expr))
    return set(n for n in names if n.lower() not in PROMQL_WORDS and not re.fullmatch(r'\d+|e', n))


def _produced_metrics(rules_text):
    """Every metric something of the role publishes: the recording rules, the mtail program, the textfile collector,
    the DCGM counters, and the exporters and engines the rules name in their sources comment."""
    records = _alerts(rules_text)[1]
    produced = set(records) | {'up', 'ALERTS'}
    with open(os.path.join(ROLE, 'files', 'gateway.mtail'), encoding='utf-8') as handle:
        for kind, name in re.findall(r'^(counter|gauge|histogram)\s+(\w+)', handle.read(), re.M):
            produced.add(name)
            if kind == 'histogram':
                produced.update(name + suffix for suffix in ('_bucket', '_sum', '_count'))
    produced.update(re.findall(r"\('(onprem_\w+)'", open(os.path.join(ROLE, 'files', 'monitoring-textfile'), encoding='utf-8').read()))
    with open(os.path.join(ROLE, 'files', 'dcgm-counters.csv'), encoding='utf-8') as handle:
        produced.update(line.split(',')[0].strip() for line in handle if line.strip() and not line.startswith('#'))
    sources = '\n'.join(line for line in rules_text.splitlines() if line.startswith('#'))
    produced.update(re.findall(r'\b((?:vllm|sglang|llamacpp):\w+|node_\w+)', sources))
    for name in list(produced):
        if re.match(r'(vllm|sglang):\w+_seconds$', name):
            produced.update(name + suffix for suffix in ('_bucket', '_sum', '_count'))
    return produced


def _metrics_read_by(prefix):
    text = open(os.path.join(ROLE, 'templates', 'rules.yml.j2'), encoding='utf-8').read()
    return set(n for n in re.findall(r'\b(%s\w+)' % prefix, text.split('groups:', 1)[1]))


def test_rules_read_only_metrics_the_role_knows(rendered):
    alerts, records = _alerts(rendered['rules.yml'])
    produced = _produced_metrics(rendered['rules.yml'])
    rules = [r for g in yaml.safe_load(rendered['rules.yml'])['groups'] for r in g['rules']]
    unknown = dict((r.get('alert') or r.get('record'), sorted(_metric_names(r['expr']) - produced)) for r in rules)
    assert dict((k, v) for k, v in unknown.items() if v) == {}


def _dashboard_exprs(path):
    with open(path, encoding='utf-8') as handle:
        dashboard = json.load(handle)
    exprs = [(panel['title'], target['expr']) for panel in dashboard['panels'] for target in panel.get('targets', [])]
    return dashboard, exprs


def test_three_dashboards():
    assert [os.path.basename(p) for p in DASHBOARDS] == ['deployment-serving.json', 'fleet-overview.json', 'gpu.json']
    with open(os.path.join(ROLE, 'vars', 'main.yml'), encoding='utf-8') as handle:
        assert sorted(yaml.safe_load(handle)['__monitoring_dashboards']) == [os.path.basename(p) for p in DASHBOARDS]


@pytest.mark.parametrize('path', DASHBOARDS, ids=os.path.basename)
def test_dashboard_metrics_are_produced(path, rendered):
    dashboard, exprs = _dashboard_exprs(path)
    assert dashboard['uid'].startswith('onprem-deepseek-') and exprs
    ids = [panel['id'] for panel in dashboard['panels']]
    assert len(ids) == len(set(ids))
    produced = _produced_metrics(rendered['rules.yml'])
    unknown = dict((title, sorted(_metric_names(expr) - produced)) for title, expr in exprs)
    assert dict((k, v) for k, v in unknown.items() if v) == {}


@needs_promtool
@pytest.mark.parametrize('path', DASHBOARDS, ids=os.path.basename)
def test_dashboard_expressions_parse(path, tmp_path):
    """promtool parses every panel's expression (as a recording rule), Grafana's $variables replaced by a value."""
    exprs = _dashboard_exprs(path)[1]
    rules = [{'record': 'dashboard:panel_%d' % i, 'expr': re.sub(r'\$\{?\w+\}?', 'x', expr)} for i, (_title, expr) in enumerate(exprs)]
    (tmp_path / 'panels.yml').write_text(yaml.safe_dump({'groups': [{'name': 'panels', 'rules': rules}]}))
    code, output = _run([PROMTOOL, 'check', 'rules', str(tmp_path / 'panels.yml')])
    assert code == 0, output


# --- tasks/assert.yml on its own ---

ASSERT = """
- hosts: mon-1
  gather_facts: false
  tasks:
    - name: Role defaults
      ansible.builtin.include_vars: {role}/defaults/main.yml
    - name: Role vars
      ansible.builtin.include_vars: {role}/vars/main.yml
    - name: Checks
      ansible.builtin.import_tasks: {role}/tasks/assert.yml
""".format(role=ROLE)


def _problems(output):
    """The sentences of the failure message, in order."""
    match = re.search(r'Action failed: monitoring: (\d+) problem\(s\) on mon-1:\n((?:- .*\n)+)', output)
    assert match, output[-3000:]
    problems = [line[2:] for line in match.group(2).splitlines()]
    assert len(problems) == int(match.group(1))
    return problems


def test_assert_passes_with_good_settings(tmp_path):
    result = _ansible(tmp_path, ASSERT, {'monitoring_prometheus_password': 'a-long-vaulted-password'})
    assert result.returncode == 0, result.output[-3000:]


def test_assert_names_every_problem_and_no_secret(tmp_path):
    bad = {'monitoring_prometheus_password': 'short', 'monitoring_prometheus_retention': '15 days',
           'monitoring_alert_gpu_utilisation_for': 'ten', 'monitoring_alertmanager_port': 70000,
           'monitoring_alert_error_ratio': 5, 'monitoring_alert_gpu_temperature': 'hot',
           'monitoring_alert_webhook_urls': ['ftp://x'], 'monitoring_alert_email_to': ['oncall@example.com'],
           'monitoring_grafana_url': 'https://grafana.example.com', 'monitoring_grafana_api_key': '',
           'monitoring_smtp_auth_password': 'smtp-secret-value', 'monitoring_tls_private_key': 'PRIVATE-KEY-TEXT',
           'monitoring_engine_metrics_engines': ['vllm', 'tgi']}
    result = _ansible(tmp_path, ASSERT, bad)
    assert result.returncode != 0
    problems = _problems(result.output)
    assert problems == [
        'monitoring_prometheus_password is empty or shorter than 8 characters on a monitoring server; allowed: 8 or more characters (vault it)',
        'monitoring_tls_certificate and monitoring_tls_private_key go together: one of them is empty',
        'monitoring_alert_webhook_urls is ["ftp://x"]; allowed: a list of http:// or https:// URLs',
        'monitoring_alert_email_to is set but monitoring_smtp_smarthost is "" and monitoring_smtp_from is ""; allowed: host:port and an e-mail address',
        'monitoring_engine_metrics_engines is [\"vllm\", \"tgi\"]; allowed: a list of vllm, sglang, llama_cpp',
        'monitoring_grafana_api_key is empty while monitoring_grafana_url is set; allowed: a Grafana API key or service account token',
        'monitoring_alert_gpu_temperature is "hot"; allowed: degrees Celsius, 0-150',
        'monitoring_alert_error_ratio is 5; allowed: a share, 0-1 (0.05 is 5 %)',
        'monitoring_prometheus_retention is 15 days; allowed: a Prometheus duration (0s, 30s, 5m, 1h30m, 15d)',
        'monitoring_alert_gpu_utilisation_for is ten; allowed: a Prometheus duration (0s, 30s, 5m, 1h30m, 15d)',
        'monitoring_alertmanager_port is 70000; allowed: 1-65535',
    ], problems
    for secret in ('short', 'smtp-secret-value', 'PRIVATE-KEY-TEXT'):
        assert secret not in result.output.replace('shorter', '')
