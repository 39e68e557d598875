"""The front door's services (plugins/module_utils/frontdoor.py) over inventories shaped like inventories/prod: the
V3 deployment on two nodes (TP8 x PP2: one engine, served by its first node) and single-node deployments."""

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import frontdoor

PROD = [
    {'name': 'ds-v3-h100-2', 'deployment': 'v3_h100', 'address': '192.0.2.12'},
    {'name': 'ds-v3-h100-1', 'deployment': 'v3_h100', 'address': '192.0.2.11'},
    {'name': 'ds-distill-l40s-1', 'deployment': 'distill_l40s', 'address': '192.0.2.21', 'port': 8443},
]


def test_each_deployment_is_one_backend_its_first_node():
    found = frontdoor.services(PROD, {'v3_h100': 443, 'distill_l40s': 8443})
    assert found == [
        {'name': 'distill_l40s', 'port': 8443,
         'backends': [{'name': 'ds-distill-l40s-1', 'deployment': 'distill_l40s', 'address': '192.0.2.21', 'port': 8443}]},
        {'name': 'v3_h100', 'port': 443,
         'backends': [{'name': 'ds-v3-h100-1', 'deployment': 'v3_h100', 'address': '192.0.2.11', 'port': 443}]},
    ]
    assert frontdoor.problems(found) == []


def test_deployments_of_one_service_are_its_replicas():
    hosts = [{'name': 'r1-a', 'deployment': 'r1_a', 'service': 'r1'}, {'name': 'r1-b', 'deployment': 'r1_b', 'service': 'r1'},
             {'name': 'lab'}]
    found = frontdoor.services(hosts, {'r1': 8443})
    assert [(s['name'], s['port'], [b['name'] for b in s['backends']]) for s in found] == [
        ('default', 443, ['lab']), ('r1', 8443, ['r1-a', 'r1-b'])]
    # Without an address the host's name is dialled; without a port, 443 (the gateway's default).
    assert found[1]['backends'][0] == {'name': 'r1-a', 'deployment': 'r1_a', 'address': 'r1-a', 'port': 443}


def test_two_services_on_one_port_are_named():
    found = frontdoor.services(PROD)
    assert frontdoor.problems(found) == [
        'services distill_l40s and v3_h100 all listen on port 443; give each its own in loadbalancer_ports ({service: port})']


@pytest.mark.parametrize('hosts, ports, message', [
    ([{'name': 'a', 'service': 'r 1'}], {}, "deepseek_service of a is 'r 1'; allowed: letters, digits, _ . -"),
    ([{'name': 'a', 'port': 70000}], {}, "the gateway port of a is 70000; allowed: a port, 1-65535"),
    ([{'name': 'a'}], {'default': 'https'}, "loadbalancer_ports[default] is 'https'; allowed: a port, 1-65535"),
    ([{'name': 'a'}], {'r2': 443}, 'loadbalancer_ports names r2, not a service of the inventory (services: default)'),
])
def test_bad_input_is_named(hosts, ports, message):
    with pytest.raises(frontdoor.FrontdoorError) as caught:
        frontdoor.services(hosts, ports)
    assert str(caught.value) == message
