"""Canary upgrades in the lab (inference_upgrade_strategy: canary; docs/frontdoor.md, "Canary").

While a bounded client loop sends 1-token chat completions through the gateway (about 4 a second, key `bench`),
site.yml rolls out a new version on onprem-inference as a canary that gets half of the requests for a short window:
- the flaky image (prepare.yml, files/flaky_canary.py: healthy, but every third POST answered 500) is rolled back
  at the first reading over 5 %: the run fails with the canary's numbers, the old version still serves every request,
  the candidate is stopped, the gateway has one upstream again, the audit log says so;
- a healthy new version (the same image with another seed) is promoted after the window: the candidate takes every
  request while the service restarts on the new version, then the service does again; the clients saw no error.
The lab is put back on the scenario's version at the end (the other tests expect it).
"""

import contextlib
import json
import re
import threading
import time

import httpx

from lab import BASE_URL, KEYS, MODEL, SERVICE, chat as _chat, converge as _converge

FLAKY = 'localhost/onprem-deepseek/llama-cpp:flaky'
ARCHIVE = '/srv/onprem-cache/inference-lab/llama-cpp-flaky.tar'
ACTIVE = '/var/lib/onprem-deepseek/inference/active.json'
SITE = '/etc/nginx/conf.d/onprem-deepseek.conf'
AUDIT = '/var/log/onprem-deepseek/audit.log'
# The roles a new engine version goes through (as in test_inference.py's model upgrade): a third of a whole run.
TAGS = 'fabric,model_store,inference'
CANARY = {'inference_upgrade_strategy': 'canary', 'inference_canary_weight': 50, 'inference_canary_window': 30,
          'inference_canary_interval': 5, 'inference_canary_min_requests': 6}


@contextlib.contextmanager
def _traffic(ca_file, limit=600):
    """A client loop in a thread: one request at a time, about 4 a second, at most `limit`; yields its statuses."""
    statuses, stop = [], threading.Event()

    def loop():
        with httpx.Client(verify=ca_file, timeout=60) as client:
            while not stop.is_set() and len(statuses) < limit:
                try:
                    answer = client.post(BASE_URL + '/chat/completions', headers={'Authorization': 'Bearer ' + KEYS['bench']},
                                         json={'model': MODEL, 'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 1})
                    statuses.append(answer.status_code)
                except httpx.HTTPError as exc:
                    statuses.append(type(exc).__name__)
                time.sleep(0.25)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(120)


def _upstream_servers(host):
    site = host.file(SITE).content_string
    block = re.search(r'^upstream deepseek_engine \{\n(.*?)^\}', site, re.M | re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip().startswith('server ')]


def _audit(host, action):
    return [json.loads(line) for line in host.file(AUDIT).content_string.splitlines() if '"%s"' % action in line]


def test_a_canary_that_fails_a_share_of_requests_is_rolled_back(host, ca_file):
    host.check_output('podman image exists %s || podman load -q -i %s' % (FLAKY, ARCHIVE))
    before = json.loads(host.file(ACTIVE).content_string)
    with _traffic(ca_file) as statuses:
        result = _converge(dict(CANARY, inference_image=FLAKY), tags=TAGS)
    assert result.returncode != 0, result.output[-3000:]
    # The numbers of the decision are in the audit log (the run's message says the same; ansible's YAML output may
    # fold it across lines).
    assert 'was rolled back: canary:' in ' '.join(result.output.split()), result.output[-3000:]
    rolled = _audit(host, 'engine canary rolled back')
    assert rolled and rolled[-1]['detail']['refused_image'] == FLAKY, rolled
    canary, serving = rolled[-1]['detail']['canary'], rolled[-1]['detail']['serving']
    errors, requests, ratio = canary['errors'], canary['requests'], canary['error_percent']
    assert requests >= 6 and errors >= 1 and ratio > 5 and serving['errors'] == 0, rolled[-1]
    # The old version serves every request again; the canary is stopped; the audit log names it.
    assert json.loads(host.file(ACTIVE).content_string)['fingerprint'] == before['fingerprint']
    assert not host.service(SERVICE + '-candidate').is_running
    assert len(_upstream_servers(host)) == 1
    _chat(ca_file)
    print('canary rolled back: %d of %d requests failed (%.2f %%); the clients saw %d non-200 of %d'
          % (errors, requests, ratio, len([s for s in statuses if s != 200]), len(statuses)))


def test_a_healthy_canary_is_promoted_without_a_failed_request(host, ca_file):
    before = json.loads(host.file(ACTIVE).content_string)
    try:
        with _traffic(ca_file) as statuses:
            result = _converge(dict(CANARY, inference_extra_args=['--seed', '4242']), tags=TAGS)
        assert result.returncode == 0, result.output[-3000:]
        after = json.loads(host.file(ACTIVE).content_string)
        assert after['fingerprint'] != before['fingerprint']
        assert '4242' in host.check_output('podman inspect --format "{{json .Config.Cmd}}" %s' % SERVICE)
        assert not host.service(SERVICE + '-candidate').is_running
        assert len(_upstream_servers(host)) == 1
        promoted = _audit(host, 'engine canary promoted')
        assert promoted and promoted[-1]['detail']['fingerprint'] == after['fingerprint']
        assert promoted[-1]['detail']['canary']['errors'] == 0 and promoted[-1]['detail']['canary']['requests'] >= 6, promoted[-1]
        failed = [s for s in statuses if s != 200]
        assert statuses and not failed, failed
        print('canary promoted: %s; the clients sent %d requests, none failed' % (promoted[-1]['detail']['canary'], len(statuses)))
    finally:
        # Back to the scenario's version (the candidate strategy, its default) for the tests after this one.
        back = _converge({}, tags=TAGS)
        assert back.returncode == 0, back.output[-3000:]
    assert json.loads(host.file(ACTIVE).content_string)['fingerprint'] == before['fingerprint']
