# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read the hardware a DeepSeek host needs from sysfs, before any driver is installed.

Pure functions over a sysfs root so that unit tests can build a fake tree.
"""

from __future__ import absolute_import, division, print_function

import json
import os

from ansible_collections.onprem.deepseek.plugins.module_utils import catalog

VENDORS = {'0x10de': 'nvidia', '0x1002': 'amd'}

# PCI class codes (PCI Code and ID Assignment Specification, class 03h display controllers):
# 0x0300 VGA-compatible, 0x0302 3D controller (data-centre GPUs), 0x0380 other display.
GPU_CLASSES = ('0x0300', '0x0302', '0x0380')
# NVSwitch chips enumerate as NVIDIA "bridge, other" (class 0x0680) on HGX/DGX boards.
NVSWITCH_CLASS = '0x0680'

# PCI (vendor, device) -> the name nvidia-smi / amd-smi reports, and the catalogue GPU it is. Read from
# the catalogue's `pci` field: one GPU table, so every GPU scan() names is one the sizing plan knows.
PCI_VENDOR_IDS = dict((vendor, vid) for vid, vendor in VENDORS.items())
PCI_GPUS = dict(((PCI_VENDOR_IDS[gpu['vendor']], device), (name, gpu['name']))
                for gpu in catalog.GPUS for device, name in gpu.get('pci', {}).items())
PCI_GPU_NAMES = dict((key, value[0]) for key, value in PCI_GPUS.items())


# NVIDIA device-ID ranges per GPU generation, read from the pci.ids database (version 2026.10.24,
# https://pci-ids.ucw.cz/read/PC/10de): the chip code in each name (GV100, TU104, GA100, GH100, AD102, GB100,
# GB110, GR100...) groups the IDs into these blocks. Only display/3D functions are classified (scan() filters
# by PCI class first), so the audio and NVSwitch functions inside a block do not matter.
NVIDIA_GENERATIONS = (
    (0x0000, 0x1dff, 'pre-turing'),   # Maxwell, Pascal, Volta (V100 is 0x1db1-0x1df6) and older
    (0x1e00, 0x1fff, 'turing'),       # TU10x (T4 is 0x1eb8)
    (0x2000, 0x20ff, 'ampere'),       # GA100 (A100, A30, A800)
    (0x2100, 0x21ff, 'turing'),       # TU116/TU117
    (0x2200, 0x22ff, 'ampere'),       # GA102
    (0x2300, 0x23ff, 'hopper'),       # GH100 (H100, H200, H20, H800, GH200)
    (0x2400, 0x25ff, 'ampere'),       # GA103-GA107
    (0x2600, 0x28ff, 'ada'),          # AD10x (L40S, L40, L20, L4, RTX 40xx)
    (0x2900, 0x2fff, 'blackwell'),    # GB100/GB102 (B200, GB200), GB20x (RTX PRO 6000, RTX 50xx)
    (0x3000, 0x30ff, 'rubin'),        # GR100/GR102
    (0x3100, 0x34ff, 'blackwell'),    # GB110 (B300, GB300), GB112, GB120, GB10B
)
# Grace Hopper superchips: Hopper GPUs that, like Blackwell, run only with the open kernel modules.
GRACE_HOPPER_IDS = ('0x2342', '0x2348')
# Boards whose NVLink 5 fabric needs the NVLink subnet manager (nvlsm) and libnvsdm besides fabric manager:
# data-centre Blackwell (GB100 0x29xx: B200, GB200; GB110 0x31xx: B300, GB300).
NVLINK5_RANGES = ((0x2900, 0x29ff), (0x3100, 0x31ff))
# NVIDIA: "For cutting-edge platforms such as NVIDIA Grace Hopper or NVIDIA Blackwell, you must use the
# open-source GPU kernel modules"; the open modules support Turing and later only.
OPEN_REQUIRED = ('grace-hopper', 'blackwell', 'rubin')


def gpu_generation(vendor_id, device_id):
    """GPU generation of an NVIDIA PCI device ID ('hopper', 'blackwell'...), None for other vendors or bad IDs."""
    if (vendor_id or '').lower() != '0x10de':
        return None
    device = (device_id or '').lower()
    try:
        number = int(device, 16)
    except ValueError:
        return None
    if device in GRACE_HOPPER_IDS:
        return 'grace-hopper'
    for start, end, generation in NVIDIA_GENERATIONS:
        if start <= number <= end:
            return generation
    return None


def nvlink5_board(vendor_id, device_id):
    """True for the data-centre Blackwell GPUs whose NVLink 5 boards need nvlsm and libnvsdm."""
    if gpu_generation(vendor_id, device_id) != 'blackwell':
        return False
    number = int(device_id, 16)
    return any(start <= number <= end for start, end in NVLINK5_RANGES)


def kernel_module_flavor(generations):
    """The NVIDIA kernel modules these GPU generations need: 'open' (NVIDIA's default since 560, required on
    Grace Hopper and Blackwell), or 'proprietary' when a GPU older than Turing is present (the open modules
    do not drive it); a mix of both cannot be served by one driver."""
    legacy = 'pre-turing' in generations
    required = [g for g in generations if g in OPEN_REQUIRED]
    if legacy and required:
        return None
    return 'proprietary' if legacy else 'open'


# Catalogue GPUs sold on NVSwitch baseboards, where fabric manager must run before CUDA sees the GPUs (NVIDIA Fabric
# Manager User Guide, "Supported platforms": DGX-2/HGX-2 (V100 SXM3), DGX/HGX A100 and A800 (SXM4), DGX/HGX H100, H800,
# H200 and H20 (SXM5), HGX B200 and B300, GB200 NVL72). Each name also has PCIe or NVL boards without NVSwitches, which a
# name alone cannot tell apart: scan() counts the switches on the real machine.
NVSWITCH_BOARD_GPUS = ('V100-32G', 'A100-40G', 'A100-80G', 'A800', 'H100-80G', 'H800', 'H200', 'H20', 'H20-141G',
                       'B200', 'B300', 'GB200')


def catalog_hardware(entry):
    """The hardware facts scan() would report for GPUs of one catalogue entry, as far as a name tells them: what an
    inventory's deepseek_gpu says before the machine is seen (the air-gapped bundle's package choice). The generation,
    kernel module flavor and NVLink 5 come from the entry's PCI device IDs, exactly as scan() derives them;
    nvswitch_count is 1 where the GPU is sold on NVSwitch baseboards (NVSWITCH_BOARD_GPUS): there, fabric manager may
    be needed, which only the real machine's scan decides."""
    vendor_id = PCI_VENDOR_IDS.get(entry.get('vendor'), '')
    devices = sorted(entry.get('pci', {}))
    generations = sorted(set(g for g in (gpu_generation(vendor_id, d) for d in devices) if g))
    return {
        'gpu_count': 1,
        'gpu_catalog_models': [entry['name']],
        'gpu_generations': generations,
        'nvidia_kernel_flavor': kernel_module_flavor(generations) if vendor_id == '0x10de' else None,
        'nvidia_open_required': any(g in OPEN_REQUIRED for g in generations),
        'nvlink5': any(nvlink5_board(vendor_id, d) for d in devices),
        'nvswitch_count': 1 if entry['name'] in NVSWITCH_BOARD_GPUS else 0,
    }


def _read(path, default=None):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return default


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except (IOError, OSError):
        return []


def _pci_db_name(vendor, device, pci_ids_paths):
    """Name from the host's pci.ids (lspci's database), or None."""
    want_vendor = vendor[2:]
    want_device = device[2:]
    for path in pci_ids_paths:
        try:
            with open(path) as handle:
                in_vendor = False
                for line in handle:
                    if not line.strip() or line.startswith('#'):
                        continue
                    if not line.startswith('\t'):
                        in_vendor = line.lower().startswith(want_vendor + ' ')
                    elif in_vendor and not line.startswith('\t\t') and line[1:5].lower() == want_device:
                        return line[5:].strip()
        except (IOError, OSError):
            continue
    return None


def pci_devices(root='/'):
    """Every PCI function under ROOT/sys/bus/pci/devices with vendor, device and class."""
    base = os.path.join(root, 'sys/bus/pci/devices')
    devices = []
    for address in _listdir(base):
        path = os.path.join(base, address)
        driver_link = os.path.join(path, 'driver')
        driver = os.path.basename(os.path.realpath(driver_link)) if os.path.islink(driver_link) else None
        numa = _read(os.path.join(path, 'numa_node'), '-1')
        devices.append({
            'address': address,
            'vendor_id': (_read(os.path.join(path, 'vendor'), '') or '').lower(),
            'device_id': (_read(os.path.join(path, 'device'), '') or '').lower(),
            'class': (_read(os.path.join(path, 'class'), '') or '').lower(),
            'driver': driver,
            'numa_node': int(numa) if numa.lstrip('-').isdigit() else -1,
        })
    return devices


def rdma_devices(root='/'):
    """InfiniBand / RoCE devices from ROOT/sys/class/infiniband with their ports."""
    base = os.path.join(root, 'sys/class/infiniband')
    result = []
    for name in _listdir(base):
        ports = []
        for port in _listdir(os.path.join(base, name, 'ports')):
            ppath = os.path.join(base, name, 'ports', port)
            state = _read(os.path.join(ppath, 'state'), '') or ''
            ports.append({
                'port': int(port) if port.isdigit() else port,
                'link_layer': _read(os.path.join(ppath, 'link_layer'), 'unknown'),
                'state': state.split(':')[-1].strip() if state else 'unknown',
                'rate': _read(os.path.join(ppath, 'rate'), 'unknown'),
                'gids': port_gids(ppath),
            })
        netdevs = sorted(set(g['netdev'] for p in ports for g in p['gids'] if g['netdev']))
        if not netdevs:
            # IPoIB interfaces and mlx5 Ethernet functions hang under the device's PCI function.
            netdevs = _listdir(os.path.join(base, name, 'device', 'net'))
        result.append({'name': name, 'ports': ports, 'netdevs': netdevs})
    return result


def port_gids(port_path):
    """The populated GID table entries of one RDMA port: index, GID, type ("RoCE v2", "IB/RoCE v1") and netdev.

    Unused entries read as the zero GID (the kernel's gid_attrs files then fail with EINVAL: the type is None).
    """
    gids = []
    for index in _listdir(os.path.join(port_path, 'gids')):
        if not index.isdigit():
            continue
        gid = _read(os.path.join(port_path, 'gids', index), '') or ''
        if not gid or gid.replace(':', '').strip('0') == '':
            continue
        gids.append({
            'index': int(index),
            'gid': gid,
            'type': _read(os.path.join(port_path, 'gid_attrs', 'types', index)),
            'netdev': _read(os.path.join(port_path, 'gid_attrs', 'ndevs', index)),
        })
    return sorted(gids, key=lambda g: g['index'])


def numa_nodes(root='/'):
    nodes = [n for n in _listdir(os.path.join(root, 'sys/devices/system/node')) if n.startswith('node') and n[4:].isdigit()]
    return max(len(nodes), 1)


def cuda_version(root='/'):
    """CUDA toolkit version from /usr/local/cuda/version.json (CUDA >= 11.1), else None."""
    text = _read(os.path.join(root, 'usr/local/cuda/version.json'))
    if not text:
        return None
    try:
        return json.loads(text).get('cuda', {}).get('version')
    except ValueError:
        return None


def scan(root='/', pci_ids_paths=('usr/share/misc/pci.ids', 'usr/share/hwdata/pci.ids')):
    """All hardware facts as one dict (the module's `onprem_hardware` fact)."""
    ids_paths = [os.path.join(root, p) for p in pci_ids_paths]
    gpus = []
    nvswitches = 0
    for dev in pci_devices(root):
        vendor = VENDORS.get(dev['vendor_id'])
        klass = dev['class'][:6]
        if vendor == 'nvidia' and klass == NVSWITCH_CLASS:
            nvswitches += 1
            continue
        if vendor is None or klass not in GPU_CLASSES:
            continue
        name, catalog_name = PCI_GPUS.get((dev['vendor_id'], dev['device_id']), (None, None))
        known = name is not None
        if name is None:
            name = _pci_db_name(dev['vendor_id'], dev['device_id'], ids_paths) or '%s device %s' % (vendor.upper(), dev['device_id'])
        gpus.append({
            'address': dev['address'],
            'vendor': vendor,
            'vendor_id': dev['vendor_id'],
            'device_id': dev['device_id'],
            'name': name,
            'known': known,
            'catalog_gpu': catalog_name,
            'generation': gpu_generation(dev['vendor_id'], dev['device_id']),
            'driver': dev['driver'],
            'numa_node': dev['numa_node'],
        })
    models = sorted(set(g['name'] for g in gpus))
    generations = sorted(set(g['generation'] for g in gpus if g['generation']))
    nvlink5 = any(nvlink5_board(g['vendor_id'], g['device_id']) for g in gpus)
    rdma = rdma_devices(root)
    driver = _read(os.path.join(root, 'sys/module/nvidia/version'))
    return {
        'gpus': gpus,
        'gpu_count': len(gpus),
        'gpu_models': models,
        'gpu_catalog_models': sorted(set(g['catalog_gpu'] or g['name'] for g in gpus)),
        'gpu_generations': generations,
        'nvidia_kernel_flavor': kernel_module_flavor(generations),
        'nvidia_open_required': any(g in OPEN_REQUIRED for g in generations),
        'nvlink5': nvlink5,
        'nvswitch_count': nvswitches,
        'rdma_devices': rdma,
        'rdma_link_layers': sorted(set(p['link_layer'] for d in rdma for p in d['ports'])),
        'numa_nodes': numa_nodes(root),
        'nvidia_driver_version': driver,
        'nvidia_driver_loaded': driver is not None,
        'nouveau_loaded': os.path.isdir(os.path.join(root, 'sys/module/nouveau')),
        'cuda_version': cuda_version(root),
        'secure_boot': secure_boot(root),
    }


def secure_boot(root='/'):
    """True/False from the EFI SecureBoot variable, None on BIOS boots or when unreadable."""
    base = os.path.join(root, 'sys/firmware/efi/efivars')
    for name in _listdir(base):
        if name.startswith('SecureBoot-'):
            try:
                with open(os.path.join(base, name), 'rb') as handle:
                    data = handle.read()
            except (IOError, OSError):
                return None
            # 4 bytes of attributes, then one byte of value.
            return len(data) >= 5 and data[4] == 1
    return None
