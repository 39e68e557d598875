"""Helpers shared by the inference scenario's test files (the lab host, its gateway, re-converging).

pytest puts this directory on sys.path (rootdir-less test directory, prepend import mode), so each
test file does `import lab`. Test files run in name order: test_gateway_* before test_inference, test_model_* after it,
test_restart (the lab host's restart, which gives it a new address) last of all.
"""

import json
import os
import subprocess
import time

import httpx
import openai
import yaml

HOST = 'onprem-inference'
SCENARIO = os.environ.get('MOLECULE_SCENARIO_DIRECTORY', os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT = os.environ.get('MOLECULE_PROJECT_DIRECTORY', os.path.dirname(os.path.dirname(SCENARIO)))
LAB_CACHE = os.path.join(PROJECT, '.cache', 'inference-lab')
with open(os.path.join(SCENARIO, 'inventory', 'group_vars', 'all.yml'), encoding='utf-8') as handle:
    CONVERGE_VARS = yaml.safe_load(handle)
KEYS = dict((k['name'], k['key']) for k in CONVERGE_VARS['gateway_api_keys'])
MODEL = CONVERGE_VARS['inference_served_model_name']
ORIGIN = 'https://localhost:18443'
BASE_URL = ORIGIN + '/v1'
CA = '/etc/onprem-deepseek/gateway-ca.crt'
SERVICE = 'deepseek-inference'
# The roles a new engine or model version goes through (site.yml's tags): inference reads the model directory from
# model_store and the NCCL environment from fabric.
ENGINE_ROLES = 'fabric,model_store,inference'


def client(ca_file, key):
    return openai.OpenAI(base_url=BASE_URL, api_key=key, max_retries=0, timeout=60,
                         http_client=httpx.Client(verify=ca_file, timeout=60))


def chat(ca_file, key='alice', **kwargs):
    return client(ca_file, KEYS[key]).chat.completions.create(
        model=MODEL, messages=[{'role': 'user', 'content': 'hello world'}], max_tokens=8, **kwargs)


def journal(host, unit=SERVICE, lines=40):
    return host.run('journalctl -u %s --no-pager -n %d' % (unit, lines)).stdout


def wait_serving(ca_file, timeout=180):
    """Poll a chat completion through the gateway until it answers; return the seconds it took."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        try:
            chat(ca_file)
            return time.monotonic() - start
        except (openai.APIError, httpx.HTTPError) as exc:  # not up yet: 502 from nginx, refused, reset
            last = exc
            time.sleep(2)
    raise AssertionError('no completion within %d s: %r' % (timeout, last))


def converge(extra_vars, check=False, playbook=None, tags=None):
    """Run the scenario's converge playbook again with extra vars; returns the CompletedProcess with .output.

    tags: only these roles' tasks (site.yml's role tags, e.g. 'preflight,backup'), for a test whose change touches those
    roles alone: a whole site.yml run takes about 75 s here, one role with preflight 10-20 s.
    """
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    # Only the host the tests probe: the second deployment (onprem-inference-b) keeps what the scenario converged.
    cmd = ['ansible-playbook', '-i', inventory, playbook or os.path.join(SCENARIO, 'converge.yml'), '--limit', HOST,
           '-e', json.dumps(extra_vars)]
    if check:
        cmd += ['--check', '--diff']
    if tags:
        cmd += ['--tags', tags]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600, env=env)
    result.output = result.stdout + result.stderr
    return result


def manifest():
    with open(os.path.join(LAB_CACHE, 'manifest.json'), encoding='utf-8') as handle:
        return json.load(handle)
