"""fabric: ports per transport, the RoCE v2 GID index, NCCL's environment, fabric addresses, perftest figures.

Sources: the GID table layout of a ConnectX RoCE port (NVIDIA MLNX_OFED docs, "show_gids": 0/1 link-local v1/v2,
2/3 the IPv4-mapped address v1/v2); NCCL's environment variables (docs.nvidia.com/deeplearning/nccl/user-guide/docs/
env.html); the perftest report lines follow perftest's REPORT_FMT / REPORT_FMT_LAT headers (linux-rdma/perftest,
src/perftest_parameters.c); their figures are illustrative, the measured ones are in docs/fabric.md.
"""

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import common, fabric

MAPPED = '0000:0000:0000:0000:0000:ffff:0a4d:000b'
LINK_LOCAL = 'fe80:0000:0000:0000:5054:00ff:fe4d:000b'


def _gids(netdev, entries):
    return [{'index': i, 'gid': gid, 'type': kind, 'netdev': netdev} for i, (gid, kind) in entries]


def _roce_port(port=1, state='ACTIVE', rate='200 Gb/sec (4X HDR)', gids=None):
    return {'port': port, 'link_layer': 'Ethernet', 'state': state, 'rate': rate,
            'gids': _gids('ens1f0np0', [(0, (LINK_LOCAL, 'IB/RoCE v1')), (1, (LINK_LOCAL, 'RoCE v2')),
                                        (2, (MAPPED, 'IB/RoCE v1')), (3, (MAPPED, 'RoCE v2'))]) if gids is None else gids}


HGX = {'rdma_devices': [
    {'name': 'mlx5_%d' % i, 'netdevs': ['ibp%ds0' % i], 'ports': [
        {'port': 1, 'link_layer': 'InfiniBand', 'state': 'ACTIVE', 'rate': '400 Gb/sec (4X NDR)', 'gids': []}]}
    for i in range(8)] + [{'name': 'mlx5_8', 'netdevs': ['ens1f0np0'], 'ports': [_roce_port()]}]}

RXE = {'rdma_devices': [{'name': 'rxe_ens4', 'netdevs': ['ens4'], 'ports': [
    {'port': 1, 'link_layer': 'Ethernet', 'state': 'ACTIVE', 'rate': '10 Gb/sec (1X QDR)',
     'gids': _gids('ens4', [(0, (LINK_LOCAL, 'IB/RoCE v1')), (1, (LINK_LOCAL, 'RoCE v2')),
                            (2, (MAPPED, 'IB/RoCE v1')), (3, (MAPPED, 'RoCE v2'))])}]}]}


def test_gid_index_is_the_ipv4_mapped_roce_v2_entry_wherever_it_is():
    assert fabric.gid_index(_roce_port()) == 3
    moved = _roce_port(gids=_gids('eth0', [(0, (LINK_LOCAL, 'IB/RoCE v1')), (1, (LINK_LOCAL, 'RoCE v2')),
                                           (4, (MAPPED, 'IB/RoCE v1')), (5, (MAPPED, 'RoCE v2'))]))
    assert fabric.gid_index(moved) == 5
    only_link_local = _roce_port(gids=_gids('eth0', [(0, (LINK_LOCAL, 'IB/RoCE v1')), (1, (LINK_LOCAL, 'RoCE v2'))]))
    assert fabric.gid_index(only_link_local) == 1
    assert fabric.gid_index({'gids': []}) is None


def test_infiniband_on_an_hgx_board_takes_the_eight_ib_hcas_only():
    cfg = fabric.fabric_config(HGX, 'infiniband', host='gpu-a', min_rate_gbps=400, gpudirect='dmabuf', socket_ifname='bond0')
    assert [p['device'] for p in cfg['ports']] == ['mlx5_%d' % i for i in range(8)]
    assert cfg['problems'] == []
    assert cfg['rdma'] is True
    assert cfg['nccl_env'] == {'NCCL_IB_HCA': '=' + ','.join('mlx5_%d' % i for i in range(8)), 'NCCL_DMABUF_ENABLE': '1',
                               'NCCL_SOCKET_IFNAME': '=bond0'}


def test_roce_sets_the_gid_index_and_no_gpudirect_means_loc():
    cfg = fabric.fabric_config(HGX, 'roce', host='gpu-a')
    assert [p['device'] for p in cfg['ports']] == ['mlx5_8']
    assert cfg['nccl_env'] == {'NCCL_IB_HCA': '=mlx5_8', 'NCCL_IB_GID_INDEX': '3', 'NCCL_NET_GDR_LEVEL': 'LOC'}


def test_soft_roce_takes_rxe_devices_and_never_gpudirect():
    cfg = fabric.fabric_config(RXE, 'soft_roce', host='vm-a', gpudirect='dmabuf', socket_ifname='ens4')
    assert cfg['problems'] == []
    assert cfg['nccl_env'] == {'NCCL_IB_HCA': '=rxe_ens4', 'NCCL_IB_GID_INDEX': '3', 'NCCL_NET_GDR_LEVEL': 'LOC',
                               'NCCL_SOCKET_IFNAME': '=ens4'}
    # a hardware RoCE request on a host that only has rxe is refused, naming the host
    assert fabric.fabric_config(RXE, 'roce', host='vm-a')['problems'] == [
        'vm-a: fabric_transport is roce but no RoCE (Ethernet link layer on an HCA) port was found']


def test_transport_none_disables_ib_and_overrides_win():
    cfg = fabric.fabric_config(HGX, 'none', nccl_overrides={'NCCL_IB_DISABLE': '', 'NCCL_DEBUG': 'INFO'})
    assert cfg['nccl_env'] == {'NCCL_DEBUG': 'INFO'}
    assert cfg['rdma'] is False and cfg['ports'] == []
    assert fabric.fabric_config({}, 'none')['nccl_env'] == {'NCCL_IB_DISABLE': '1'}


def test_port_problems_name_host_hca_and_port():
    box = {'rdma_devices': [{'name': 'mlx5_0', 'ports': [
        {'port': 1, 'link_layer': 'InfiniBand', 'state': 'DOWN', 'rate': '100 Gb/sec (4X EDR)', 'gids': []}]}]}
    assert fabric.fabric_config(box, 'infiniband', host='gpu-b', min_rate_gbps=200)['problems'] == [
        'gpu-b: mlx5_0 port 1 is DOWN (want ACTIVE)',
        'gpu-b: mlx5_0 port 1 runs at 100 Gb/sec (4X EDR), below fabric_min_rate_gbps 200']
    no_ip = {'rdma_devices': [{'name': 'rxe_ens4', 'netdevs': ['ens4'], 'ports': [_roce_port(gids=[])]}]}
    assert fabric.fabric_config(no_ip, 'soft_roce', host='vm-b')['problems'] == [
        'vm-b: rxe_ens4 port 1 has no RoCE v2 GID (no IPv4 address on ens4?)']
    assert 'on fabric_hcas mlx5_9' in fabric.fabric_config(HGX, 'infiniband', host='h', hcas=['mlx5_9'])['problems'][0]


def test_unknown_transport_is_a_problem_with_the_allowed_values():
    assert fabric.fabric_config(HGX, 'ethernet', host='h')['problems'] == [
        "h: fabric_transport 'ethernet'; allowed: infiniband, roce, soft_roce, none"]
    with pytest.raises(common.SizingError):
        fabric.nccl_environment('ethernet', [])


def test_addresses_from_the_inventory_or_the_pool():
    assert fabric.fabric_address('a', '10.77.0.11/24', '10.77.0.0/24') == '10.77.0.11/24'
    assert fabric.fabric_address('a', pool='10.77.0.0/24', index=1) == '10.77.0.11/24'
    assert fabric.fabric_address('a') == ''
    cfg = fabric.fabric_config(RXE, 'soft_roce', host='vm-a', address='10.78.0.11/24', pool='10.77.0.0/24')
    assert cfg['problems'] == ['vm-a: fabric_address 10.78.0.11/24 is outside fabric_address_pool 10.77.0.0/24']
    for bad in ('10.77.0.11', 'ten/24'):
        with pytest.raises(ValueError, match="vm-a: fabric_address"):
            fabric.fabric_address('vm-a', bad)
    with pytest.raises(ValueError, match="no address at offset 300"):
        fabric.fabric_address('vm-a', pool='10.77.0.0/24', index=290)


BW = """
---------------------------------------------------------------------------------------
                    RDMA_Write BW Test
 Dual-port       : OFF          Device         : rxe_ens4
---------------------------------------------------------------------------------------
 #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]
 65536      2500             0.92               0.91               0.001736
---------------------------------------------------------------------------------------
"""
LAT = """
 #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]
 2       1000          152.34         2310.55      201.17              230.40          95.12           611.03                  2310.55
"""


def test_perftest_figures():
    assert fabric.perftest_bandwidth(BW) == {'bytes': 65536, 'peak_gbps': 0.92, 'average_gbps': 0.91, 'msg_rate_mpps': 0.001736}
    assert fabric.perftest_latency(LAT) == {'bytes': 2, 'min_us': 152.34, 'typical_us': 201.17, 'average_us': 230.4, 'p99_us': 611.03}
    with pytest.raises(ValueError, match='no perftest bandwidth line'):
        fabric.perftest_bandwidth('Couldn\'t connect to 10.77.0.12:18515')


# RoCE QoS. DSCP 26 (AF31) on priority 3 with PFC and ECN is the usual lossless class of RoCE v2 (mlnx_qos's examples:
# `mlnx_qos -i DEV --trust dscp --pfc 0,0,0,1,0,0,0,0`); NCCL_IB_TC is the IP traffic class, DSCP << 2 plus ECT(0) = 2:
# 26 * 4 + 2 = 106 (NCCL's env.html, NCCL_IB_TC). dcb-pfc(8) prints "prio-pfc 0:off 1:off 2:off 3:on ...".
def test_roce_qos_wants_dscp_26_on_priority_3_and_gives_nccl_traffic_class_106():
    cfg = fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={})
    assert cfg['qos']['state'] == 'wanted' and cfg['qos']['netdevs'] == ['ens1f0np0']
    assert (cfg['qos']['priority'], cfg['qos']['dscp'], cfg['qos']['traffic_class']) == (3, 26, 106)
    assert cfg['nccl_env']['NCCL_IB_TC'] == '106'
    # Without ECN: 104; the user's override wins; qos unset (preflight's call) adds nothing.
    assert fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={'ecn': False})['nccl_env']['NCCL_IB_TC'] == '104'
    assert fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={}, nccl_overrides={'NCCL_IB_TC': '98'})['nccl_env']['NCCL_IB_TC'] == '98'
    assert 'NCCL_IB_TC' not in fabric.fabric_config(HGX, 'roce', host='gpu-a')['nccl_env']


def test_roce_qos_is_not_applicable_on_soft_roce_and_infiniband_with_the_reason():
    soft = fabric.fabric_config(RXE, 'soft_roce', host='vm-a', qos={})
    assert soft['qos']['state'] == 'not applicable' and 'Soft-RoCE' in soft['qos']['reason']
    assert 'NCCL_IB_TC' not in soft['nccl_env']
    assert fabric.fabric_config(HGX, 'infiniband', host='gpu-a', qos={})['qos']['state'] == 'not applicable'
    assert fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={'enabled': False})['qos']['state'] == 'off'


def test_roce_qos_bad_values_are_problems_naming_the_key():
    cfg = fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={'priority': 8})
    assert cfg['problems'] == ["gpu-a: fabric RoCE QoS: priority 8; allowed: an integer 0 to 7"]
    with pytest.raises(ValueError, match='dscp 64'):
        fabric.roce_qos('roce', [], {'dscp': 64})


def test_the_dcb_arguments_turn_pfc_on_for_the_priority_only():
    assert fabric.pfc_arguments(3) == ['0:off', '1:off', '2:off', '3:on', '4:off', '5:off', '6:off', '7:off']
    assert fabric.fabric_config(HGX, 'roce', host='gpu-a', qos={'priority': '4'})['qos']['pfc_args'][4] == '4:on'
