#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: gpu_facts
short_description: NVIDIA GPUs, driver, CUDA version, power, MIG and NVLink topology read with nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi --query-gpu=...) for each GPU's name, UUID, PCI bus id, memory, driver version, persistence mode,
    power limits, MIG mode and compute capability; C(nvidia-smi topo -m) for NVLink links between GPUs and each GPU's
    CPU and NUMA affinity; and the C(nvidia-smi) banner for the CUDA version the driver supports.
  - When C(nvidia-smi) is not installed it returns C(present=false) without failing, so that plays can skip GPU work
    with a reason. When it is installed but fails (no driver loaded, no GPU), C(healthy) is false and C(error) says why.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  nvidia_smi:
    description:
      - Name or path of the C(nvidia-smi) binary.
    type: str
    default: nvidia-smi
  topology:
    description:
      - Also read C(nvidia-smi topo -m).
    type: bool
    default: true
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
  facts:
    support: full
    description: Returns C(onprem_gpu).
notes:
  - Parsing lives in C(plugins/module_utils/nvidia_smi.py) and is tested against recorded C(nvidia-smi) outputs.
"""

EXAMPLES = r"""
- name: Read the GPUs through the driver
  onprem.deepseek.gpu_facts:

- name: Show what the driver sees
  ansible.builtin.debug:
    msg: "{{ ansible_facts['onprem_gpu']['count'] }} x {{ ansible_facts['onprem_gpu']['models'] }},
          driver {{ ansible_facts['onprem_gpu']['driver_version'] }}, CUDA {{ ansible_facts['onprem_gpu']['cuda_version'] }}"
  when: ansible_facts['onprem_gpu']['present'] | bool
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    onprem_gpu:
      description: What the NVIDIA driver reports.
      returned: always
      type: dict
      contains:
        present:
          description: Whether C(nvidia-smi) is installed.
          type: bool
        healthy:
          description: Whether C(nvidia-smi) answered the query (driver loaded, GPUs visible).
          type: bool
        error:
          description: Why nvidia-smi is absent or failed; null when healthy.
          type: str
        gpus:
          description: One entry per GPU (index, name, uuid, pci_bus_id, memory_mib, driver_version, persistence_mode,
            power_limit_w, power_max_limit_w, mig_mode, mig_enabled, compute_cap).
          type: list
          elements: dict
          sample: [{index: 0, name: NVIDIA H100 80GB HBM3, memory_mib: 81559, driver_version: "550.90.07",
                    persistence_mode: true, power_limit_w: 700, power_max_limit_w: 700, mig_mode: Disabled,
                    mig_enabled: false, compute_cap: "9.0", pci_bus_id: "00000000:19:00.0", uuid: GPU-...}]
        count:
          description: Number of GPUs.
          type: int
          sample: 8
        models:
          description: Distinct GPU names.
          type: list
          elements: str
        memory_total_mib:
          description: Memory of all GPUs together in MiB.
          type: int
        driver_version:
          description: Driver version (a list when GPUs disagree, which means a half-finished upgrade).
          type: raw
          sample: "550.90.07"
        cuda_version:
          description: Highest CUDA version the driver supports, from the nvidia-smi banner.
          type: str
          sample: "12.4"
        persistence_mode:
          description: Whether persistence mode is on for every GPU.
          type: bool
        power_limits_w:
          description: Current power limit of each GPU in watts, in index order.
          type: list
          elements: raw
        mig_enabled:
          description: Indexes of the GPUs with MIG mode enabled.
          type: list
          elements: int
        topology:
          description: From C(nvidia-smi topo -m) (matrix, nics, affinity, nvlink, nvlink_pairs, nvlink_links_per_pair,
            nvlink_all_to_all).
          type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.deepseek.plugins.module_utils import nvidia_smi


def _absent(reason):
    return {'present': False, 'healthy': False, 'error': reason, 'gpus': [], 'count': 0, 'models': [],
            'memory_total_mib': 0, 'driver_version': None, 'cuda_version': None, 'persistence_mode': False,
            'power_limits_w': [], 'mig_enabled': [], 'topology': {}}


def main():
    module = AnsibleModule(
        argument_spec={'nvidia_smi': {'type': 'str', 'default': 'nvidia-smi'},
                       'topology': {'type': 'bool', 'default': True}},
        supports_check_mode=True,
    )
    binary = module.get_bin_path(module.params['nvidia_smi'], opt_dirs=['/usr/bin', '/usr/local/nvidia/bin'])
    if binary is None:
        module.exit_json(changed=False, ansible_facts={'onprem_gpu': _absent('nvidia-smi is not installed')})

    rc, query, err = module.run_command([binary] + nvidia_smi.QUERY_ARGS)
    if rc != 0:
        facts = _absent('nvidia-smi failed (rc %d): %s' % (rc, (err or query).strip()))
        facts['present'] = True
        module.exit_json(changed=False, ansible_facts={'onprem_gpu': facts})
    topology = ''
    if module.params['topology']:
        rc_topo, topology, dummy = module.run_command([binary, 'topo', '-m'])
        topology = topology if rc_topo == 0 else ''
    dummy, banner, dummy = module.run_command([binary])
    try:
        facts = nvidia_smi.facts(query, topology, banner)
    except nvidia_smi.NvidiaSmiParseError as exc:
        module.fail_json(msg='onprem.deepseek.gpu_facts: %s' % exc)
    facts.update({'present': True, 'healthy': True, 'error': None})
    module.exit_json(changed=False, ansible_facts={'onprem_gpu': facts})


if __name__ == '__main__':
    main()
