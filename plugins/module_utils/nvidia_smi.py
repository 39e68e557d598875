# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Parse what nvidia-smi prints into the facts of the gpu_facts module.

Pure functions over text, so that unit tests can feed recorded outputs (tests/unit/fixtures/nvidia_smi).
"""

from __future__ import absolute_import, division, print_function

import re

# The fields gpu_facts asks for, in this order (nvidia-smi --help-query-gpu names them).
QUERY_FIELDS = (
    'index', 'name', 'uuid', 'pci.bus_id', 'memory.total', 'driver_version', 'persistence_mode',
    'power.limit', 'power.max_limit', 'mig.mode.current', 'compute_cap',
)
QUERY_ARGS = ['--query-gpu=' + ','.join(QUERY_FIELDS), '--format=csv,noheader,nounits']

# Values nvidia-smi prints when a field does not apply to a GPU or the driver cannot read it.
_MISSING = ('', 'n/a', '[n/a]', '[not supported]', 'not supported', '[unknown error]', '[insufficient permissions]')
# Columns of `nvidia-smi topo -m` that are not devices.
_AFFINITY_COLUMNS = ('CPU Affinity', 'NUMA Affinity', 'GPU NUMA ID')
_CUDA_RE = re.compile(r'CUDA Version\s*:\s*([0-9]+\.[0-9]+)')
_NVLINK_RE = re.compile(r'^NV([0-9]+)$')


class NvidiaSmiParseError(ValueError):
    """Raised when a line does not look like what nvidia-smi prints."""


def _value(text):
    text = text.strip()
    return None if text.lower() in _MISSING else text


def _number(text):
    text = _value(text)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def _mode(text):
    """Enabled/Disabled as a bool; None when the GPU has no such mode."""
    text = _value(text)
    if text is None:
        return None
    return text.lower() == 'enabled'


def parse_query(text):
    """One dict per GPU from `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits`."""
    gpus = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(',')]
        if len(cells) != len(QUERY_FIELDS):
            raise NvidiaSmiParseError('nvidia-smi query line %d has %d fields, expected %d (%s): %r'
                                      % (number, len(cells), len(QUERY_FIELDS), ','.join(QUERY_FIELDS), line))
        raw = dict(zip(QUERY_FIELDS, cells))
        mig = _value(raw['mig.mode.current'])
        gpus.append({
            'index': int(raw['index']),
            'name': raw['name'],
            'uuid': _value(raw['uuid']),
            'pci_bus_id': _value(raw['pci.bus_id']),
            'memory_mib': _number(raw['memory.total']),
            'driver_version': _value(raw['driver_version']),
            'persistence_mode': _mode(raw['persistence_mode']),
            'power_limit_w': _number(raw['power.limit']),
            'power_max_limit_w': _number(raw['power.max_limit']),
            'mig_mode': mig,
            'mig_enabled': mig is not None and mig.lower() == 'enabled',
            'compute_cap': _value(raw['compute_cap']),
        })
    return gpus


def parse_cuda_version(text):
    """The CUDA version the driver supports, from the `nvidia-smi` banner or `nvidia-smi -q`; None if absent."""
    match = _CUDA_RE.search(text or '')
    return match.group(1) if match else None


def _split_header(line):
    return [cell.strip() for cell in re.split(r'\t|\s{2,}', line.strip()) if cell.strip()]


def parse_topology(text):
    """Links between GPUs and NICs and each GPU's CPU/NUMA affinity from `nvidia-smi topo -m`.

    Returns {'devices': [...], 'matrix': {row: {column: link}}, 'affinity': {gpu: {...}}, 'nics': {NIC0: mlx5_0}}.
    Rows are split on whitespace: nvidia-smi pads empty affinity cells with extra tabs.
    """
    lines = (text or '').splitlines()
    header = None
    devices = []
    extras = []
    matrix = {}
    affinity = {}
    nics = {}
    ended = False
    for line in lines:
        stripped = line.strip()
        if header is None:
            if re.match(r'^(GPU0|mlx)', stripped):
                header = _split_header(line)
                devices = [cell for cell in header if cell not in _AFFINITY_COLUMNS]
                extras = [cell for cell in header if cell in _AFFINITY_COLUMNS]
            continue
        if ended or not stripped or stripped.startswith('Legend'):
            # The matrix ends at the first blank line; below it only the NIC legend (NIC0: mlx5_0) is read.
            ended = True
            match = re.match(r'^(NIC[0-9]+):\s*(\S+)$', stripped)
            if match:
                nics[match.group(1)] = match.group(2)
            continue
        cells = stripped.split()
        name = cells[0]
        if name not in devices or len(cells) < 1 + len(devices) or name in matrix:
            continue
        links = cells[1:1 + len(devices)]
        matrix[name] = dict((col, link) for col, link in zip(devices, links) if col != name)
        rest = cells[1 + len(devices):]
        if name.startswith('GPU') and extras:
            affinity[name] = dict((col, _value(val)) for col, val in zip(extras, rest))
    return {'devices': devices, 'matrix': matrix, 'affinity': affinity, 'nics': nics}


def nvlink_summary(topology):
    """NVLink facts from a parsed topology: per-pair link counts, all-to-all (NVSwitch) or not."""
    gpus = sorted((d for d in topology['matrix'] if d.startswith('GPU')), key=lambda d: int(d[3:]))
    pairs = {}
    for i, first in enumerate(gpus):
        for second in gpus[i + 1:]:
            match = _NVLINK_RE.match(topology['matrix'][first].get(second, ''))
            if match:
                pairs['%s-%s' % (first, second)] = int(match.group(1))
    possible = len(gpus) * (len(gpus) - 1) // 2
    counts = sorted(set(pairs.values()))
    return {
        'nvlink': bool(pairs),
        'nvlink_pairs': pairs,
        'nvlink_links_per_pair': counts[0] if len(counts) == 1 else (counts or None),
        'nvlink_all_to_all': possible > 0 and len(pairs) == possible,
    }


def _affinity_facts(topology):
    result = []
    for gpu in sorted(topology['affinity'], key=lambda d: int(d[3:]) if d[3:].isdigit() else 0):
        values = topology['affinity'][gpu]
        numa = values.get('NUMA Affinity')
        result.append({
            'gpu': gpu,
            'cpu_affinity': values.get('CPU Affinity'),
            'numa_node': int(numa) if numa is not None and numa.isdigit() else None,
        })
    return result


def facts(query_text, topology_text=None, banner_text=None):
    """All GPU facts (the module's `onprem_gpu` fact, less `present`) from nvidia-smi's outputs."""
    gpus = parse_query(query_text)
    topology = parse_topology(topology_text or '')
    links = nvlink_summary(topology)
    drivers = sorted(set(g['driver_version'] for g in gpus if g['driver_version']))
    return {
        'gpus': gpus,
        'count': len(gpus),
        'models': sorted(set(g['name'] for g in gpus)),
        'memory_total_mib': sum(g['memory_mib'] or 0 for g in gpus),
        'driver_version': drivers[0] if len(drivers) == 1 else (drivers or None),
        'cuda_version': parse_cuda_version(banner_text),
        'persistence_mode': bool(gpus) and all(g['persistence_mode'] for g in gpus),
        'power_limits_w': [g['power_limit_w'] for g in gpus],
        'mig_enabled': [g['index'] for g in gpus if g['mig_enabled']],
        'topology': {
            'matrix': topology['matrix'],
            'nics': topology['nics'],
            'affinity': _affinity_facts(topology),
            'nvlink': links['nvlink'],
            'nvlink_pairs': links['nvlink_pairs'],
            'nvlink_links_per_pair': links['nvlink_links_per_pair'],
            'nvlink_all_to_all': links['nvlink_all_to_all'],
        },
    }
