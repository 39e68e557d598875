# The lab's connection: containers.podman.podman with pipelining (lab and test use only; not part of the collection).
# Apache-2.0 or GPL-3.0-or-later, like the collection's modules. It subclasses containers.podman's connection
# (imported from the installed collection, nothing copied) and declares the options that class reads.
#
# containers.podman.podman runs four `podman exec` per module (make a temporary directory, copy, chmod, run,
# remove). Pipelining sends the module on the standard input of one `podman exec --interactive` instead: the
# same tasks, the same checks, fewer execs. containers.podman turns pipelining off because `podman exec`
# without --interactive drops its standard input; this subclass passes --interactive whenever there is input.
# Used by the Molecule scenarios whose hosts are podman containers (.config/molecule/config.yml puts this
# directory on ANSIBLE_CONNECTION_PLUGINS; each scenario's host_vars pick it). Measured on this 2-core machine
# (2026-12-04; before: the clean-clone run of stop 27, after: this checkout): scenario default 74 s -> 51 s,
# gpu_stack 333 s -> 219 s.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: onprem_lab_podman
    short_description: containers.podman.podman with pipelining, for the lab's podman hosts
    description:
        - Runs modules in an existing podman container with one C(podman exec --interactive) per module.
    options:
      remote_addr:
        description: The container's name or ID.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Arguments put between C(podman) and its subcommand.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman program.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Send modules on standard input instead of copying them (on unless set to false).
        type: boolean
        default: true
        ini:
          - section: connection
            key: pipelining
        env:
          - name: ANSIBLE_PIPELINING
        vars:
          - name: ansible_pipelining
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "onprem_lab_podman"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"]
        if in_data is not None:
            args.append("--interactive")
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
