# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read the hardware a DeepSeek host needs from sysfs, before any driver is installed.

Pure functions over a sysfs root so that unit tests can build a fake tree.
"""

from __future__ import absolute_import, division, print_function

import json
import os

VENDORS = {'0x10de': 'nvidia', '0x1002': 'amd'}

# PCI class codes (PCI Code and ID Assignment Specification, class 03h display controllers):
# 0x0300 VGA-compatible, 0x0302 3D controller (data-centre GPUs), 0x0380 other display.
GPU_CLASSES = ('0x0300', '0x0302', '0x0380')
# NVSwitch chips enumerate as NVIDIA "bridge, other" (class 0x0680) on HGX/DGX boards.
NVSWITCH_CLASS = '0x0680'

# PCI device IDs -> the name nvidia-smi / amd-smi reports, so the sizing catalogue resolves it.
# Source: the pci.ids database (https://pci-ids.ucw.cz/read/PC/10de, /read/PC/1002).
PCI_GPU_NAMES = {
    ('0x10de', '0x20b0'): 'NVIDIA A100-SXM4-40GB',
    ('0x10de', '0x20b1'): 'NVIDIA A100-PCIE-40GB',
    ('0x10de', '0x20f1'): 'NVIDIA A100-PCIE-40GB',
    ('0x10de', '0x20b2'): 'NVIDIA A100-SXM4-80GB',
    ('0x10de', '0x20b5'): 'NVIDIA A100 80GB PCIe',
    ('0x10de', '0x20f3'): 'NVIDIA A800-SXM4-80GB',
    ('0x10de', '0x20f5'): 'NVIDIA A800 80GB PCIe',
    ('0x10de', '0x2324'): 'NVIDIA H800',
    ('0x10de', '0x2322'): 'NVIDIA H800 PCIe',
    ('0x10de', '0x2330'): 'NVIDIA H100 80GB HBM3',
    ('0x10de', '0x2331'): 'NVIDIA H100 PCIe',
    ('0x10de', '0x2321'): 'NVIDIA H100 NVL',
    ('0x10de', '0x2335'): 'NVIDIA H200',
    ('0x10de', '0x2329'): 'NVIDIA H20',
    ('0x10de', '0x26b9'): 'NVIDIA L40S',
    ('0x10de', '0x26b5'): 'NVIDIA L40',
    ('0x10de', '0x26ba'): 'NVIDIA L20',
    ('0x10de', '0x2684'): 'NVIDIA GeForce RTX 4090',
    ('0x10de', '0x2901'): 'NVIDIA B200',
    ('0x1002', '0x74a1'): 'AMD Instinct MI300X',
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
            })
        result.append({'name': name, 'ports': ports})
    return result


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
        name = PCI_GPU_NAMES.get((dev['vendor_id'], dev['device_id']))
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
            'driver': dev['driver'],
            'numa_node': dev['numa_node'],
        })
    models = sorted(set(g['name'] for g in gpus))
    rdma = rdma_devices(root)
    driver = _read(os.path.join(root, 'sys/module/nvidia/version'))
    return {
        'gpus': gpus,
        'gpu_count': len(gpus),
        'gpu_models': models,
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
