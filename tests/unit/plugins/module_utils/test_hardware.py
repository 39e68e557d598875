"""hardware.scan() over fake sysfs trees shaped like real servers.

Device ids and classes: pci.ids (https://pci-ids.ucw.cz/read/PC/10de); an HGX H100 board shows
8 GPUs as 3D controllers (class 0x030200) and 4 NVSwitch chips as bridges (class 0x068000),
per NVIDIA's HGX H100 documentation (https://docs.nvidia.com/dgx/dgxh100-user-guide/).
"""

import os

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import hardware


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text + '\n')


def _pci(root, address, vendor, device, klass, numa=0, driver=None):
    base = os.path.join(root, 'sys/bus/pci/devices', address)
    _write(os.path.join(base, 'vendor'), vendor)
    _write(os.path.join(base, 'device'), device)
    _write(os.path.join(base, 'class'), klass)
    _write(os.path.join(base, 'numa_node'), str(numa))
    if driver:
        drv = os.path.join(root, 'sys/bus/pci/drivers', driver)
        os.makedirs(drv, exist_ok=True)
        os.symlink(drv, os.path.join(base, 'driver'))


def _ib_port(root, dev, port, link_layer, state, rate):
    base = os.path.join(root, 'sys/class/infiniband', dev, 'ports', str(port))
    _write(os.path.join(base, 'link_layer'), link_layer)
    _write(os.path.join(base, 'state'), state)
    _write(os.path.join(base, 'rate'), rate)


@pytest.fixture(name='hgx')
def hgx_fixture(tmp_path):
    root = str(tmp_path)
    for i in range(8):
        _pci(root, '0000:%02x:00.0' % (0x18 + i * 0x10), '0x10de', '0x2330', '0x030200', numa=i // 4, driver='nvidia' if i == 0 else None)
    for i in range(4):
        _pci(root, '0000:%02x:00.0' % (0x05 + i), '0x10de', '0x22a3', '0x068000', numa=0)
    _pci(root, '0000:01:00.0', '0x15b3', '0x1021', '0x020700')          # ConnectX-7, not a GPU
    _pci(root, '0000:02:00.0', '0x102b', '0x0536', '0x030000')          # BMC VGA (Matrox), not NVIDIA/AMD
    for node in (0, 1):
        os.makedirs(os.path.join(root, 'sys/devices/system/node/node%d' % node))
    _ib_port(root, 'mlx5_0', 1, 'InfiniBand', '4: ACTIVE', '400 Gb/sec (4X NDR)')
    _ib_port(root, 'mlx5_1', 1, 'Ethernet', '4: ACTIVE', '200 Gb/sec (4X HDR)')
    _write(os.path.join(root, 'sys/module/nvidia/version'), '550.127.05')
    _write(os.path.join(root, 'usr/local/cuda/version.json'), '{"cuda": {"name": "CUDA SDK", "version": "12.4.1"}}')
    efivars = os.path.join(root, 'sys/firmware/efi/efivars')
    os.makedirs(efivars)
    with open(os.path.join(efivars, 'SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c'), 'wb') as handle:
        handle.write(b'\x06\x00\x00\x00\x01')
    return root


def test_hgx_h100_board(hgx):
    facts = hardware.scan(hgx)
    assert facts['gpu_count'] == 8
    assert facts['gpu_models'] == ['NVIDIA H100 80GB HBM3']
    assert facts['nvswitch_count'] == 4
    assert [g['numa_node'] for g in facts['gpus']] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert facts['gpus'][0]['driver'] == 'nvidia'
    assert facts['gpus'][1]['driver'] is None
    assert facts['numa_nodes'] == 2
    assert facts['rdma_link_layers'] == ['Ethernet', 'InfiniBand']
    assert facts['rdma_devices'][0] == {'name': 'mlx5_0', 'netdevs': [], 'ports': [
        {'port': 1, 'link_layer': 'InfiniBand', 'state': 'ACTIVE', 'rate': '400 Gb/sec (4X NDR)', 'gids': []}]}
    assert facts['nvidia_driver_version'] == '550.127.05'
    assert facts['nvidia_driver_loaded'] is True
    assert facts['cuda_version'] == '12.4.1'
    assert facts['secure_boot'] is True
    assert facts['nouveau_loaded'] is False


def test_empty_machine_before_any_driver(tmp_path):
    facts = hardware.scan(str(tmp_path))
    assert facts['gpu_count'] == 0
    assert facts['gpus'] == []
    assert facts['nvswitch_count'] == 0
    assert facts['rdma_devices'] == []
    assert facts['numa_nodes'] == 1
    assert facts['nvidia_driver_version'] is None
    assert facts['cuda_version'] is None
    assert facts['secure_boot'] is None


@pytest.mark.parametrize('vendor, device, name', [
    ('0x10de', '0x26b9', 'NVIDIA L40S'),
    ('0x10de', '0x2335', 'NVIDIA H200'),
    ('0x10de', '0x20b2', 'NVIDIA A100-SXM4-80GB'),
    ('0x1002', '0x74a1', 'AMD Instinct MI300X'),
])
def test_known_gpus_get_the_names_the_sizing_catalogue_resolves(tmp_path, vendor, device, name):
    _pci(str(tmp_path), '0000:3b:00.0', vendor, device, '0x030200')
    facts = hardware.scan(str(tmp_path))
    assert facts['gpu_models'] == [name]
    assert facts['gpus'][0]['known'] is True


def test_unknown_gpu_named_from_pci_ids_database(tmp_path):
    root = str(tmp_path)
    _pci(root, '0000:3b:00.0', '0x10de', '0x1eb8', '0x030200')
    _write(os.path.join(root, 'usr/share/misc/pci.ids'),
           '# test database\n10de  NVIDIA Corporation\n\t1eb8  TU104GL [Tesla T4]\n\t\t10de 12a2  T4 16GB\n10df  Emulex')
    facts = hardware.scan(root)
    assert facts['gpu_models'] == ['TU104GL [Tesla T4]']
    assert facts['gpus'][0]['known'] is False


def test_unknown_gpu_without_database(tmp_path):
    _pci(str(tmp_path), '0000:3b:00.0', '0x10de', '0x1eb8', '0x030200')
    assert hardware.scan(str(tmp_path))['gpu_models'] == ['NVIDIA device 0x1eb8']


@pytest.mark.parametrize('gpu', ['NVIDIA H100 80GB HBM3', 'NVIDIA L40S', 'NVIDIA H200', 'NVIDIA A100-SXM4-80GB', 'NVIDIA A800-SXM4-80GB',
                                 'NVIDIA H20', 'NVIDIA H800', 'NVIDIA L20', 'NVIDIA GeForce RTX 4090', 'NVIDIA B200',
                                 'AMD Instinct MI300X', 'NVIDIA A100-SXM4-40GB', 'NVIDIA H100 PCIe'])
def test_every_named_gpu_resolves_in_the_sizing_catalogue(gpu):
    from ansible_collections.onprem.deepseek.plugins.filter.sizing import FilterModule
    spec = FilterModule().filters()['gpu_spec'](gpu)
    assert spec['memory_gib'] > 0


# Device IDs and chip names from the pci.ids database, version 2026.10.24 (https://pci-ids.ucw.cz/read/PC/10de).
@pytest.mark.parametrize('device, generation', [
    ('0x1db1', 'pre-turing'),    # GV100GL [Tesla V100 SXM2 16GB]
    ('0x15f8', 'pre-turing'),    # GP100GL [Tesla P100 PCIe 16GB]
    ('0x1eb8', 'turing'),        # TU104GL [Tesla T4]
    ('0x20b2', 'ampere'),        # GA100 [A100 SXM4 80GB]
    ('0x2235', 'ampere'),        # GA102GL [A40]
    ('0x26b9', 'ada'),           # AD102GL [L40S]
    ('0x27b8', 'ada'),           # AD104GL [L4]
    ('0x2330', 'hopper'),        # GH100 [H100 SXM5 80GB]
    ('0x2335', 'hopper'),        # GH100 [H200 SXM 141GB]
    ('0x2342', 'grace-hopper'),  # GH100 [GH200 120GB / 480GB]
    ('0x2348', 'grace-hopper'),  # GH100 [GH200 144G HBM3e]
    ('0x2901', 'blackwell'),     # GB100 [B200]
    ('0x2941', 'blackwell'),     # GB100 [HGX GB200]
    ('0x2bb5', 'blackwell'),     # GB202GL [RTX PRO 6000 Blackwell Server Edition]
    ('0x3182', 'blackwell'),     # GB110 [B300 SXM6 AC]
    ('0x3021', 'rubin'),         # GR100 [PCIe Faber]
])
def test_gpu_generation_from_the_pci_device_id(device, generation):
    assert hardware.gpu_generation('0x10de', device) == generation


@pytest.mark.parametrize('vendor, device', [('0x1002', '0x74a1'), ('0x10de', 'zz'), ('0x10de', ''), ('0x10de', '0x9000')])
def test_gpu_generation_unknown(vendor, device):
    assert hardware.gpu_generation(vendor, device) is None


@pytest.mark.parametrize('device, nvlink5', [('0x2901', True), ('0x3182', True), ('0x2bb5', False), ('0x2335', False)])
def test_nvlink5_boards_are_data_centre_blackwell(device, nvlink5):
    assert hardware.nvlink5_board('0x10de', device) is nvlink5


@pytest.mark.parametrize('generations, flavor', [
    ([], 'open'), (['hopper'], 'open'), (['ampere', 'ada'], 'open'), (['blackwell'], 'open'),
    (['pre-turing'], 'proprietary'), (['pre-turing', 'ampere'], 'proprietary'), (['pre-turing', 'blackwell'], None),
])
def test_kernel_module_flavor(generations, flavor):
    assert hardware.kernel_module_flavor(generations) == flavor


def test_hgx_h100_board_needs_open_modules_by_default_and_no_nvlink5(hgx):
    facts = hardware.scan(hgx)
    assert facts['gpu_generations'] == ['hopper']
    assert facts['gpus'][0]['generation'] == 'hopper'
    assert facts['nvidia_kernel_flavor'] == 'open'
    assert facts['nvidia_open_required'] is False
    assert facts['nvlink5'] is False


def test_hgx_b200_board_requires_open_modules_and_nvlink5(tmp_path):
    root = str(tmp_path)
    for i in range(8):
        _pci(root, '0000:%02x:00.0' % (0x18 + i * 0x10), '0x10de', '0x2901', '0x030200')
    facts = hardware.scan(root)
    assert facts['gpu_generations'] == ['blackwell']
    assert facts['nvidia_open_required'] is True
    assert facts['nvlink5'] is True
    assert facts['nvidia_kernel_flavor'] == 'open'


def test_v100_host_gets_proprietary_modules(tmp_path):
    _pci(str(tmp_path), '0000:3b:00.0', '0x10de', '0x1db5', '0x030200')
    facts = hardware.scan(str(tmp_path))
    assert facts['gpu_generations'] == ['pre-turing']
    assert facts['nvidia_kernel_flavor'] == 'proprietary'


def test_empty_machine_has_no_generation_and_nvidia_default_flavor(tmp_path):
    facts = hardware.scan(str(tmp_path))
    assert facts['gpu_generations'] == []
    assert facts['nvidia_kernel_flavor'] == 'open'
    assert facts['nvlink5'] is False


# One GPU table: the PCI ids live in the sizing catalogue (catalog.GPUS[*]['pci']); hardware.scan() reads them
# from there. Every name scan() can report resolves, through the plan's own lookup, to the entry holding its id.
def test_every_pci_name_resolves_to_the_catalogue_entry_that_lists_it():
    from ansible_collections.onprem.deepseek.plugins.module_utils import catalog, gpu_specs
    seen = {}
    for gpu in catalog.GPUS:
        for device, name in gpu.get('pci', {}).items():
            key = (hardware.PCI_VENDOR_IDS[gpu['vendor']], device)
            assert key not in seen, '%s listed by %s and %s' % (key, seen.get(key), gpu['name'])
            seen[key] = gpu['name']
            assert gpu_specs.gpu_spec(name)['name'] == gpu['name'], name
    assert seen == dict((key, value[1]) for key, value in hardware.PCI_GPUS.items())
    # every catalogue GPU can be recognised on the PCI bus
    assert sorted(set(seen.values())) == sorted(g['name'] for g in catalog.GPUS)


@pytest.mark.parametrize('device, catalog_gpu', [
    ('0x2321', 'H100-NVL'),    # pci.ids: GH100 [H100 NVL]
    ('0x2322', 'H800-PCIe'),   # pci.ids: GH100 [H800 PCIe]
    ('0x26b5', 'L40'),         # pci.ids: AD102GL [L40]
])
def test_boards_without_a_catalogue_entry_before_now_are_known(tmp_path, device, catalog_gpu):
    _pci(str(tmp_path), '0000:18:00.0', '0x10de', device, '0x030200')
    gpu = hardware.scan(str(tmp_path))['gpus'][0]
    assert gpu['known'] and gpu['catalog_gpu'] == catalog_gpu


def test_roce_port_gid_table(tmp_path):
    """A ConnectX RoCE port's GID table as `show_gids` prints it (NVIDIA MLNX_OFED docs, "RoCE v2 GID index"):
    0/1 the link-local GID as RoCE v1/v2, 2/3 the IPv4-mapped address as v1/v2; unused entries are the zero GID
    and their gid_attrs files fail (EINVAL), read here as absent."""
    root = str(tmp_path)
    _ib_port(root, 'mlx5_1', 1, 'Ethernet', '4: ACTIVE', '200 Gb/sec (4X HDR)')
    port = os.path.join(root, 'sys/class/infiniband/mlx5_1/ports/1')
    table = [('fe80:0000:0000:0000:0e42:a1ff:fe00:0001', 'IB/RoCE v1'), ('fe80:0000:0000:0000:0e42:a1ff:fe00:0001', 'RoCE v2'),
             ('0000:0000:0000:0000:0000:ffff:0a4d:0001', 'IB/RoCE v1'), ('0000:0000:0000:0000:0000:ffff:0a4d:0001', 'RoCE v2')]
    for index, (gid, kind) in enumerate(table):
        _write(os.path.join(port, 'gids', str(index)), gid)
        _write(os.path.join(port, 'gid_attrs/types', str(index)), kind)
        _write(os.path.join(port, 'gid_attrs/ndevs', str(index)), 'ens1f0np0')
    _write(os.path.join(port, 'gids', '4'), '0000:0000:0000:0000:0000:0000:0000:0000')
    device = hardware.scan(root)['rdma_devices'][0]
    assert device['netdevs'] == ['ens1f0np0']
    assert [(g['index'], g['type']) for g in device['ports'][0]['gids']] == [
        (0, 'IB/RoCE v1'), (1, 'RoCE v2'), (2, 'IB/RoCE v1'), (3, 'RoCE v2')]


def test_a_catalogue_name_gives_the_facts_a_scan_of_its_board_gives(hgx, tmp_path):
    # What the air-gapped bundle assumes from deepseek_gpu must be what scan() reads on the machine: the HGX H100 board
    # above (8 x 0x2330, 4 NVSwitches) and a B200 board (0x2901, NVLink 5) against their catalogue names.
    from ansible_collections.onprem.deepseek.plugins.module_utils import gpu_specs
    scanned = hardware.scan(hgx)
    named = hardware.catalog_hardware(gpu_specs.gpu_spec('H100-80G'))
    for key in ('gpu_generations', 'nvidia_kernel_flavor', 'nvidia_open_required', 'nvlink5', 'gpu_catalog_models'):
        assert named[key] == scanned[key], key
    assert named['nvswitch_count'] == 1 and scanned['nvswitch_count'] == 4     # "may need fabric manager" / the real count
    root = str(tmp_path / 'b200')
    for i in range(8):
        _pci(root, '0000:%02x:00.0' % (0x18 + i * 0x10), '0x10de', '0x2901', '0x030200')
    b200 = hardware.catalog_hardware(gpu_specs.gpu_spec('B200'))
    for key in ('gpu_generations', 'nvidia_kernel_flavor', 'nvidia_open_required', 'nvlink5'):
        assert b200[key] == hardware.scan(root)[key], key


@pytest.mark.parametrize('name, flavor, nvswitch', [
    ('V100-32G', 'proprietary', 1),   # DGX-2/HGX-2: NVSwitch; Volta needs the proprietary modules
    ('H100-PCIe', 'open', 0),         # a PCIe card: no NVSwitch board
    ('H200', 'open', 1),              # HGX H200 (Fabric Manager User Guide, supported platforms)
    ('L40S', 'open', 0),
    ('GB200', 'open', 1),             # NVL72: NVLink 5 switches
])
def test_catalogue_hardware_flavor_and_nvswitch_boards(name, flavor, nvswitch):
    from ansible_collections.onprem.deepseek.plugins.module_utils import gpu_specs
    facts = hardware.catalog_hardware(gpu_specs.gpu_spec(name))
    assert (facts['nvidia_kernel_flavor'], facts['nvswitch_count']) == (flavor, nvswitch)


def test_every_nvswitch_board_name_is_a_catalogue_gpu():
    names = set(g['name'] for g in hardware.catalog.GPUS)
    assert set(hardware.NVSWITCH_BOARD_GPUS) <= names
