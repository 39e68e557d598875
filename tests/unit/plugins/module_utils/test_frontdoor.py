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


# --- the virtual address (keepalived's VRRP instance) ---------------------------------------------------------------
# Addresses from the documentation ranges (RFC 5737 192.0.2.0/24, RFC 3849 2001:db8::/32). Router IDs are 1-255 and
# priorities 1-254 (RFC 5798 section 5.2.3/5.2.4: 255 is reserved for the address owner, 0 for "stop").

FRONT_DOORS = [{'name': 'fd-2', 'default_ipv4': {'address': '192.0.2.32'}},
               {'name': 'fd-1', 'default_ipv4': {'address': '192.0.2.31'}}]


def test_vrrp_members_in_name_order_with_falling_priorities():
    found = frontdoor.vrrp(FRONT_DOORS, '192.0.2.100/24', 51)
    assert found == {'vip': '192.0.2.100/24', 'router_id': 51, 'problems': [],
                     'members': [{'name': 'fd-1', 'address': '192.0.2.31', 'priority': 150},
                                 {'name': 'fd-2', 'address': '192.0.2.32', 'priority': 140}]}


def test_vrrp_given_address_and_priority_win_over_facts():
    hosts = [dict(FRONT_DOORS[0], address='192.0.2.42', priority=200), FRONT_DOORS[1]]
    members = frontdoor.vrrp(hosts, '192.0.2.100/24', '7')['members']
    assert members == [{'name': 'fd-1', 'address': '192.0.2.31', 'priority': 150},
                       {'name': 'fd-2', 'address': '192.0.2.42', 'priority': 200}]
    assert frontdoor.vrrp(hosts, '192.0.2.100/24', '7')['router_id'] == 7


def test_vrrp_ipv6_uses_the_ipv6_facts_and_ansible_host():
    hosts = [{'name': 'a', 'default_ipv6': {'address': '2001:db8::31'}}, {'name': 'b', 'ansible_host': '2001:db8::32'}]
    found = frontdoor.vrrp(hosts, '2001:db8::100/64', 51)
    assert found['problems'] == [] and [m['address'] for m in found['members']] == ['2001:db8::31', '2001:db8::32']


def test_no_vip_no_members_no_problems():
    assert frontdoor.vrrp(FRONT_DOORS, '', 0) == {'vip': '', 'router_id': 0, 'members': [], 'problems': []}


@pytest.mark.parametrize('vip', ['192.0.2.100', 'front-door', '192.0.2.300/24', ['192.0.2.100/24']])
def test_vrrp_vip_must_be_an_address_with_prefix(vip):
    assert frontdoor.vrrp(FRONT_DOORS, vip, 51)['problems'] == [
        "loadbalancer_vip is %r; allowed: an address with its prefix length on the front doors' network "
        "(10.0.10.100/24, fd00::100/64), or empty (no virtual address)" % (vip,)]


def test_vrrp_problems_name_host_variable_and_value():
    hosts = [{'name': 'fd-1', 'default_ipv4': {'address': '198.51.100.31'}},
             {'name': 'fd-2', 'address': '192.0.2.100'},
             {'name': 'fd-3', 'address': 'fd-3.example'},
             {'name': 'fd-4', 'ansible_host': 'fd-4.example'},
             {'name': 'fd-5', 'address': '192.0.2.35', 'priority': 255},
             {'name': 'fd-6', 'address': '192.0.2.36'}, {'name': 'fd-7', 'address': '192.0.2.36'}]
    assert frontdoor.vrrp(hosts, '192.0.2.100/24', 256)['problems'] == [
        'loadbalancer_vrrp_router_id is 256; allowed: 1-255, the same on the front doors sharing this address and different '
        'from any other VRRP router on their network',
        'the address 198.51.100.31 of fd-1 is not on the network of loadbalancer_vip 192.0.2.100/24; allowed: the VIP on the '
        "front doors' own network (set loadbalancer_vrrp_address where the default route is elsewhere)",
        "fd-2's own address is loadbalancer_vip 192.0.2.100; allowed: an address no host holds",
        "loadbalancer_vrrp_address of fd-3 is 'fd-3.example'; allowed: its IPv4 address on 192.0.2.100/24's network",
        "fd-4 has no known IPv4 address for VRRP (no default route in its facts, ansible_host 'fd-4.example'); set "
        "loadbalancer_vrrp_address to its address on 192.0.2.0/24's network",
        'loadbalancer_vrrp_priority of fd-5 is 255; allowed: 1-254',
        'front doors fd-6 and fd-7 have the same VRRP address 192.0.2.36; allowed: one address per host',
    ]


def test_vrrp_input_checks_before_facts_skip_unknown_addresses():
    hosts = [{'name': 'fd-1', 'ansible_host': 'fd-1.example'}, {'name': 'fd-2'}]
    assert frontdoor.vrrp(hosts, '192.0.2.100/24', 51, require_addresses=False)['problems'] == []
