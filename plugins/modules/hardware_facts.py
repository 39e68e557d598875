#!/usr/bin/python
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE) or GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt),
# at your option: modules are dual-licensed so that they combine with Ansible's GPLv3 module code.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
module: hardware_facts
short_description: GPUs, NVSwitches, RDMA devices and NUMA layout read from sysfs
version_added: 0.1.0
description:
  - Reads the PCI bus, C(/sys/class/infiniband), the NUMA nodes and the loaded NVIDIA driver from sysfs.
  - Works before any GPU driver is installed, so that the preflight role can compare what is in the
    machine with the inventory before anything changes.
  - GPUs are named the way C(nvidia-smi) names them, so the sizing filters resolve them.
author:
  - onprem.deepseek contributors (@onprem-deepseek)
options:
  root:
    description:
      - Root of the tree that holds C(sys/) and C(usr/). Only tests change it.
    type: path
    default: /
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
    description: Returns C(onprem_hardware).
"""

EXAMPLES = r"""
- name: Read the GPUs and fabric devices
  onprem.deepseek.hardware_facts:

- name: Show the GPUs
  ansible.builtin.debug:
    msg: "{{ ansible_facts['onprem_hardware']['gpu_count'] }} x {{ ansible_facts['onprem_hardware']['gpu_models'] }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    onprem_hardware:
      description: What the host has.
      returned: always
      type: dict
      contains:
        gpus:
          description:
            - One entry per GPU PCI function (address, vendor, vendor_id, device_id, name, known, catalog_gpu, generation, driver,
              numa_node).
            - C(known) is true when the sizing catalogue lists the device ID; C(catalog_gpu) is then the catalogue's name
              for it (what C(deepseek_gpu) and the plan take), else null.
            - C(generation) comes from the NVIDIA device ID (C(pre-turing), C(turing), C(ampere), C(ada), C(hopper),
              C(grace-hopper), C(blackwell), C(rubin)); null for other vendors.
          type: list
          elements: dict
          sample: [{address: "0000:18:00.0", vendor: nvidia, device_id: "0x2330", name: NVIDIA H100 80GB HBM3, known: true,
                    catalog_gpu: H100-80G,
                    generation: hopper, driver: null, numa_node: 0, vendor_id: "0x10de"}]
        gpu_count:
          description: Number of GPUs.
          type: int
          sample: 8
        gpu_models:
          description: Distinct GPU names.
          type: list
          elements: str
          sample: [NVIDIA H100 80GB HBM3]
        gpu_catalog_models:
          description: Distinct GPUs by their sizing-catalogue name (the board name where the catalogue does not list it).
          type: list
          elements: str
          sample: [H100-80G]
        gpu_generations:
          description: Distinct NVIDIA GPU generations.
          type: list
          elements: str
          sample: [hopper]
        nvidia_kernel_flavor:
          description:
            - The NVIDIA kernel modules these GPUs need, C(open) (NVIDIA's default since 560, the only choice on Grace Hopper
              and Blackwell, also when no GPU is seen) or C(proprietary) (a GPU older than Turing is present).
            - Null when the GPUs need both (no single driver serves them).
          type: str
          sample: open
        nvidia_open_required:
          description: Whether a GPU that runs only with the open kernel modules (Grace Hopper, Blackwell and later) is present.
          type: bool
        nvlink5:
          description: Whether a data-centre Blackwell GPU (B200, B300, GB200, GB300) is present, whose NVLink 5 fabric also
            needs the NVLink subnet manager (nvlsm) and libnvsdm.
          type: bool
        nvswitch_count:
          description: NVSwitch chips on the PCI bus (HGX/DGX boards); fabric manager is needed when above 0.
          type: int
          sample: 4
        rdma_devices:
          description: InfiniBand/RoCE devices with their ports (link_layer, state, rate).
          type: list
          elements: dict
          sample: [{name: mlx5_0, ports: [{port: 1, link_layer: InfiniBand, state: ACTIVE, rate: "400 Gb/sec (4X NDR)"}]}]
        rdma_link_layers:
          description: Distinct link layers of all RDMA ports (C(InfiniBand), C(Ethernet) for RoCE).
          type: list
          elements: str
          sample: [InfiniBand]
        numa_nodes:
          description: Number of NUMA nodes (1 when the kernel shows none).
          type: int
          sample: 2
        nvidia_driver_version:
          description: Version of the loaded NVIDIA kernel module, or null.
          type: str
          sample: "550.127.05"
        nvidia_driver_loaded:
          description: Whether the NVIDIA kernel module is loaded.
          type: bool
        nouveau_loaded:
          description: Whether the nouveau module is loaded.
          type: bool
        cuda_version:
          description: CUDA toolkit version from /usr/local/cuda/version.json, or null.
          type: str
          sample: "12.4.1"
        secure_boot:
          description: Secure Boot state from EFI variables; null on BIOS boots.
          type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.deepseek.plugins.module_utils.hardware import scan


def main():
    module = AnsibleModule(argument_spec={'root': {'type': 'path', 'default': '/'}}, supports_check_mode=True)
    module.exit_json(changed=False, ansible_facts={'onprem_hardware': scan(module.params['root'])})


if __name__ == '__main__':
    main()
