"""nvidia_smi parsing against recorded nvidia-smi outputs (tests/unit/fixtures/nvidia_smi, sources in its README)."""

import os

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import nvidia_smi

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, 'fixtures', 'nvidia_smi')


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


# fixture stem -> (count, model, memory MiB per GPU, driver, persistence, power limit W, compute capability)
QUERIES = {
    'h100_sxm_8gpu': (8, 'NVIDIA H100 80GB HBM3', 81559, '550.90.07', True, 700, '9.0'),
    'a100_sxm4_8gpu': (8, 'NVIDIA A100-SXM4-80GB', 81920, '535.129.03', True, 400, '8.0'),
    'l40s_1gpu': (1, 'NVIDIA L40S', 46068, '550.127.05', True, 350, '8.9'),
    'h100_pcie_1gpu': (1, 'NVIDIA H100 PCIe', 81559, '535.161.08', False, 310, '9.0'),
}


@pytest.mark.parametrize('stem', sorted(QUERIES))
def test_query_fixture(stem):
    count, model, memory, driver, persistence, power, cap = QUERIES[stem]
    gpus = nvidia_smi.parse_query(_fixture(stem + '.query.csv'))
    assert len(gpus) == count
    assert [g['index'] for g in gpus] == list(range(count))
    assert set(g['name'] for g in gpus) == {model}
    assert all(g['memory_mib'] == memory for g in gpus)
    assert all(g['driver_version'] == driver for g in gpus)
    assert all(g['persistence_mode'] is persistence for g in gpus)
    assert gpus[0]['power_limit_w'] == power
    assert gpus[0]['compute_cap'] == cap
    assert gpus[0]['pci_bus_id'].startswith('00000000:')
    assert gpus[0]['uuid'].startswith('GPU-')


def test_not_applicable_values_become_none():
    gpu = nvidia_smi.parse_query(_fixture('l40s_1gpu.query.csv'))[0]
    assert gpu['mig_mode'] is None
    assert gpu['mig_enabled'] is False
    line = '0, NVIDIA L4, GPU-1, 00000000:31:00.0, 23034, 570.133.20, [Not Supported], [N/A], [N/A], [N/A], 8.9'
    gpu = nvidia_smi.parse_query(line)[0]
    assert gpu['persistence_mode'] is None
    assert gpu['power_limit_w'] is None
    assert gpu['power_max_limit_w'] is None


def test_power_limit_below_maximum_is_kept_apart():
    gpu = nvidia_smi.parse_query(_fixture('h100_pcie_1gpu.query.csv'))[0]
    assert (gpu['power_limit_w'], gpu['power_max_limit_w']) == (310, 350)


def test_mig_enabled_gpus_are_listed():
    facts = nvidia_smi.facts(_fixture('a100_sxm4_8gpu.query.csv'))
    assert facts['mig_enabled'] == [7]


def test_malformed_query_line_names_the_fields():
    with pytest.raises(nvidia_smi.NvidiaSmiParseError) as err:
        nvidia_smi.parse_query('0, NVIDIA H100, GPU-1')
    assert str(err.value).startswith('nvidia-smi query line 1 has 3 fields, expected 11 (index,name,uuid,')


@pytest.mark.parametrize('name, version', [
    ('h100_sxm.banner.txt', '12.4'),
    ('a100_sxm4.banner.txt', '13.0'),
    ('l4_1gpu.banner.txt', '12.8'),
    ('gtx1650.q.txt', '11.6'),
])
def test_cuda_version_from_banner_and_query_log(name, version):
    assert nvidia_smi.parse_cuda_version(_fixture(name)) == version


def test_cuda_version_absent():
    assert nvidia_smi.parse_cuda_version('') is None
    assert nvidia_smi.parse_cuda_version(None) is None


def test_hgx_h100_topology_is_all_to_all_nv18_on_two_numa_nodes():
    topo = nvidia_smi.parse_topology(_fixture('h100_sxm_8gpu.topo.txt'))
    summary = nvidia_smi.nvlink_summary(topo)
    assert summary['nvlink'] is True
    assert summary['nvlink_all_to_all'] is True
    assert summary['nvlink_links_per_pair'] == 18
    assert len(summary['nvlink_pairs']) == 28
    assert topo['affinity']['GPU0'] == {'CPU Affinity': '0-47,96-143', 'NUMA Affinity': '0', 'GPU NUMA ID': None}
    assert topo['affinity']['GPU7']['CPU Affinity'] == '48-95,144-191'


def test_pcie_box_has_no_nvlink_and_nics_are_not_gpus():
    topo = nvidia_smi.parse_topology(_fixture('rtx4090_pcie_8gpu.topo.txt'))
    summary = nvidia_smi.nvlink_summary(topo)
    assert summary == {'nvlink': False, 'nvlink_pairs': {}, 'nvlink_links_per_pair': None, 'nvlink_all_to_all': False}
    assert topo['matrix']['GPU6']['NIC0'] == 'PHB'
    assert topo['matrix']['NIC0']['NIC1'] == 'PIX'
    assert sorted(topo['affinity']) == ['GPU%d' % i for i in range(8)]
    # nvidia-smi pads the empty cell before GPU NUMA ID with a second tab: the NUMA node must stay 1, not shift.
    assert topo['affinity']['GPU4']['NUMA Affinity'] == '1'


def test_a100_pair_nv12():
    topo = nvidia_smi.parse_topology(_fixture('a100_sxm4_2gpu.topo.txt'))
    assert nvidia_smi.nvlink_summary(topo)['nvlink_pairs'] == {'GPU0-GPU1': 12}
    assert topo['matrix']['GPU0']['NIC0'] == 'PXB'
    assert topo['affinity']['GPU1']['NUMA Affinity'] == '3'


def test_nic_legend_maps_names():
    text = '\tGPU0\tNIC0\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tPIX\t0-7\t0\nNIC0\tPIX\t X \n\nLegend:\n\n  X    = Self\n\nNIC Legend:\n\n  NIC0: mlx5_0\n'
    topo = nvidia_smi.parse_topology(text)
    assert topo['nics'] == {'NIC0': 'mlx5_0'}


@pytest.mark.parametrize('query, topo, banner, model, count, all_to_all, numa', [
    ('h100_sxm_8gpu.query.csv', 'h100_sxm_8gpu.topo.txt', 'h100_sxm.banner.txt', 'NVIDIA H100 80GB HBM3', 8, True, [0] * 4 + [1] * 4),
    ('l40s_1gpu.query.csv', None, 'l4_1gpu.banner.txt', 'NVIDIA L40S', 1, False, []),
    ('h100_pcie_1gpu.query.csv', None, None, 'NVIDIA H100 PCIe', 1, False, []),
])
def test_facts(query, topo, banner, model, count, all_to_all, numa):
    facts = nvidia_smi.facts(_fixture(query), _fixture(topo) if topo else None, _fixture(banner) if banner else None)
    assert facts['count'] == count
    assert facts['models'] == [model]
    assert facts['topology']['nvlink_all_to_all'] is all_to_all
    assert [a['numa_node'] for a in facts['topology']['affinity']] == numa
    assert facts['memory_total_mib'] == sum(g['memory_mib'] for g in facts['gpus'])


def test_mixed_driver_versions_are_reported_as_a_list():
    lines = _fixture('h100_sxm_8gpu.query.csv').splitlines()
    lines[3] = lines[3].replace('550.90.07', '550.127.05')
    assert nvidia_smi.facts('\n'.join(lines))['driver_version'] == ['550.127.05', '550.90.07']
