"""Contracts between roles go through public variables, never another role's internals.

Each case templates a role default with the public variable of the role it follows, as Ansible does.
"""

import os
import re

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def _default(role, name, variables):
    with open(os.path.join(ROOT, 'roles', role, 'defaults', 'main.yml'), encoding='utf-8') as handle:
        value = yaml.safe_load(handle)[name]
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(value))


@pytest.mark.parametrize('engine', ['podman', 'docker'])
def test_container_toolkit_follows_the_container_runtime_engine(engine):
    # Before: a site that set only container_runtime_engine: docker got no nvidia runtime in daemon.json.
    assert _default('container_toolkit', 'container_toolkit_runtime', {'container_runtime_engine': engine}) == engine


def test_container_toolkit_runtime_alone_is_podman():
    assert _default('container_toolkit', 'container_toolkit_runtime', {}) == 'podman'


def test_the_canary_reads_the_gateways_log_where_the_gateway_writes_it():
    assert _default('inference', 'inference_canary_log', {'gateway_log_dir': '/srv/logs/gw'}) == '/srv/logs/gw/access.log'
    assert _default('inference', 'inference_canary_log', {}) == '/var/log/onprem-deepseek/gateway/access.log'
    assert _default('gateway', 'gateway_log_dir', {}) == '/var/log/onprem-deepseek/gateway'


def test_no_role_reads_another_roles_internal_variables():
    roles = sorted(os.listdir(os.path.join(ROOT, 'roles')))
    offenders = []
    for role in roles:
        for folder, _dirs, files in os.walk(os.path.join(ROOT, 'roles', role)):
            for name in files:
                if not name.endswith(('.yml', '.j2')):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as handle:
                    text = handle.read()
                for other in roles:
                    if other != role and re.search(r'\b__%s_' % re.escape(other), text):
                        offenders.append('%s reads __%s_*' % (os.path.relpath(path, ROOT), other))
    assert offenders == []


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_engine_names_in_the_roles_are_the_engine_tables():
    # One engine table (plugins/module_utils/engines.py): the names the roles must still spell out for
    # argument-spec validation and their input checks are the table's, and the GPU ones are those it marks gpu.
    from ansible_collections.onprem.deepseek.plugins.module_utils import engines
    names = sorted(engines.ENGINES)
    gpu = sorted(name for name, spec in engines.ENGINES.items() if spec['gpu'])
    for role, variable in (('inference', 'inference_engine'), ('preflight', 'preflight_engine')):
        spec = _yaml('roles', role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options'][variable]
        assert sorted(spec['choices']) == names, (role, variable)
    assert sorted(_yaml('roles', 'inference', 'vars', 'main.yml')['__inference_engines']) == names
    assert sorted(_yaml('roles', 'preflight', 'vars', 'main.yml')['__preflight_gpu_engines']) == gpu
