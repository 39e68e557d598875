# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The Debian packages site.yml installs on each host of an inventory: the air-gapped bundle's APT package list.

Pure functions (no Ansible import), used by the filter onprem.deepseek.bundle_apt_packages. The package names are not
here: they are the roles' own lists (their vars files, which the bundle playbook reads and passes in as `tables`).
What is here is which role installs which of its lists on which host: the same conditions as site.yml's plays and the
roles' tasks, one per rule below, each named in the result's `by_host` so that an operator can check it.

tables (each value a list of package names, as in the roles' vars files):
  container_runtime: {engine: {source: [...]}}          roles/container_runtime/vars/main.yml
  gateway: [...]                                         roles/gateway/vars/main.yml
  monitoring: {exporter, mtail, server, grafana}         roles/monitoring/vars/Debian.yml
  loadbalancer: {haproxy, keepalived}                    roles/loadbalancer/vars/main.yml
  backup: {restic, sftp}                                 roles/backup/vars/main.yml
  encrypted_storage: {base, clevis, tpm2, xfs}           roles/encrypted_storage/vars/Debian.yml
  fabric: {rdma, opensm}                                 roles/fabric/vars/Debian.yml
"""

from __future__ import annotations

import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.onprem.deepseek.plugins.module_utils import common, gpu_specs, hardware

NOT_COVERED = (
    "NVIDIA packages of serving hosts without an NVIDIA deepseek_gpu (a catalogue name): name them in "
    "bundle_apt_packages_extra (Debian non-free's, or the vendor repository's or the site's NVIDIA mirror's given in "
    "bundle_apt_sources);",
    "kernel headers of kernels other than the release's current one (the NVIDIA driver's DKMS build needs the headers "
    "of every installed kernel: name linux-headers-<version> in bundle_apt_packages_extra);",
    "model_store's rsync and NFS clients (a bundle brings the model itself).",
)


# Ansible's apt module needs the Python binding of APT; it installs it with apt-get when a host lacks it (Debian's
# minimal and cloud images have it, a debootstrap --variant=minbase does not): from the bundle on an offline host.
ANSIBLE_APT = ("Ansible (its apt module's binding)", ["python3-apt"])


def _bool(value):
    """Ansible's own boolean rule (yes/no, on/off, true/false, 1/0, y/n, t/f); anything else is false."""
    return boolean(value, strict=False)


def _get(hostvars, name, key, default):
    values = hostvars.get(name) or {}
    try:
        value = values[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _deployment_size(name, groups, hostvars):
    deployment = _get(hostvars, name, "deepseek_deployment", "")
    members = [h for h in groups.get("deepseek_inference", []) if _get(hostvars, h, "deepseek_deployment", "") == deployment]
    return len(members)


def host_packages(name, groups, hostvars, tables):
    """[(rule, [packages])] for one host: what each role site.yml runs there installs from Debian."""
    rules = []
    serving = name in groups.get("deepseek_inference", [])
    deepseek = name in groups.get("deepseek", []) or serving
    if serving:
        engine = str(_get(hostvars, name, "container_runtime_engine", "podman"))
        source = str(_get(hostvars, name, "container_runtime_source", "distribution"))
        runtime = list(tables["container_runtime"][engine][source])
        oci = str(_get(hostvars, name, "container_runtime_oci_runtime", ""))
        if engine == "podman" and oci:
            runtime.append(oci)
        rules.append(("container_runtime (%s from %s)" % (engine, source), runtime))
        head = str(_get(hostvars, name, "inference_node_role", "head")) != "worker"
        if head:
            rules.append(("gateway (a deployment's head)", list(tables["gateway"])))
        repositories = _get(hostvars, name, "backup_repositories", []) or []
        if repositories:
            backup = list(tables["backup"]["restic"])
            if any(isinstance(r, dict) and str(r.get("url", "")).startswith("sftp:") for r in repositories):
                backup += tables["backup"]["sftp"]
            rules.append(("backup (backup_repositories)", backup))
        volumes = _get(hostvars, name, "encrypted_storage_volumes", []) or []
        if volumes:
            unlock = str(_get(hostvars, name, "encrypted_storage_unlock", "tang"))
            storage = list(tables["encrypted_storage"]["base"])
            if unlock in ("tang", "tpm2"):
                storage += tables["encrypted_storage"]["clevis"]
            if unlock == "tpm2":
                storage += tables["encrypted_storage"]["tpm2"]
            if any(isinstance(v, dict) and v.get("fstype") == "xfs" for v in volumes):
                storage += tables["encrypted_storage"]["xfs"]
            rules.append(("encrypted_storage (encrypted_storage_volumes, unlock %s)" % unlock, storage))
        transport = str(_get(hostvars, name, "fabric_transport", "auto"))
        # auto is decided by the host's hardware, which the bundle cannot see: a deployment of several hosts needs its
        # fabric, a one-box does not.
        if transport not in ("none", "auto") or (transport == "auto" and _deployment_size(name, groups, hostvars) > 1):
            fabric = list(tables["fabric"]["rdma"])
            if transport in ("infiniband", "auto") and str(_get(hostvars, name, "fabric_subnet_manager", "switch")) == "host":
                fabric += tables["fabric"]["opensm"]
            rules.append(("fabric (transport %s)" % transport, fabric))
    monitoring_server = _bool(_get(hostvars, name, "monitoring_server", name in groups.get("monitoring", [])))
    if deepseek or monitoring_server:
        if _bool(_get(hostvars, name, "monitoring_node_exporter", True)):
            rules.append(("monitoring (node exporter)", list(tables["monitoring"]["exporter"])))
        if serving and _bool(_get(hostvars, name, "monitoring_mtail", True)) \
                and str(_get(hostvars, name, "inference_node_role", "head")) != "worker":
            rules.append(("monitoring (mtail: a serving head)", list(tables["monitoring"]["mtail"])))
        if monitoring_server:
            rules.append(("monitoring (Prometheus, Alertmanager: monitoring_server)", list(tables["monitoring"]["server"])))
            if str(_get(hostvars, name, "monitoring_grafana_url", "")):
                rules.append(("monitoring (Grafana dashboards)", list(tables["monitoring"]["grafana"])))
    if name in groups.get("deepseek_frontdoor", []):
        rules.append(("loadbalancer (HAProxy)", list(tables["loadbalancer"]["haproxy"])))
        if str(_get(hostvars, name, "loadbalancer_vip", "")):
            rules.append(("loadbalancer (keepalived: loadbalancer_vip)", list(tables["loadbalancer"]["keepalived"])))
    if rules:
        rules.append((ANSIBLE_APT[0], list(ANSIBLE_APT[1])))
    return rules


def gpu_hosts(groups, hostvars):
    """The serving hosts whose GPU stack (nvidia_driver, cuda, container_toolkit) the bundle can choose packages for.

    site.yml runs the GPU roles where preflight finds GPUs; the bundle, which sees no machine, goes by the inventory's
    deepseek_gpu instead: a catalogue name of an NVIDIA GPU gives the hardware facts the roles would read
    (hardware.catalog_hardware: kernel module flavor, NVLink 5, an NVSwitch board). Returns {'hosts': {host: {'gpu':
    catalogue name, 'hardware': facts}}, 'skipped': {host: reason}, 'problems': [sentences naming host, variable, value]}.
    """
    hosts, skipped, problems = {}, {}, []
    for name in groups.get("deepseek_inference", []):
        gpu = _get(hostvars, name, "deepseek_gpu", "")
        if isinstance(gpu, dict):
            skipped[name] = "deepseek_gpu is a GPU description, not a catalogue name: no NVIDIA packages derived"
            continue
        if not str(gpu).strip():
            skipped[name] = "no deepseek_gpu: no GPU packages (a CPU host)"
            continue
        try:
            entry = gpu_specs.gpu_spec(str(gpu))
        except common.SizingError as exc:
            problems.append("%s: deepseek_gpu=%r is not a catalogue GPU (%s)." % (name, gpu, exc))
            continue
        if entry.get("vendor") != "nvidia":
            skipped[name] = "deepseek_gpu %s is not an NVIDIA GPU: no NVIDIA packages" % entry["name"]
            continue
        hosts[name] = {"gpu": entry["name"], "hardware": hardware.catalog_hardware(entry)}
    return {"hosts": hosts, "skipped": skipped, "problems": problems}


def site_packages(groups, hostvars, tables, extra=(), gpu=None):
    """{'packages': sorted union, 'by_host': {host: [rule: packages]}, 'not_covered': [...]} for the whole inventory.

    gpu: {host: [[rule, [packages]], ...]}, the GPU roles' packages of the hosts gpu_hosts() names, as the bundle
    playbook evaluates them from the roles' own variables (added after the host's other rules, before python3-apt)."""
    hosts = []
    for group in ("deepseek", "deepseek_inference", "deepseek_frontdoor", "monitoring"):
        for name in groups.get(group, []):
            if name not in hosts:
                hosts.append(name)
    gpu = gpu or {}
    union, by_host = set(extra), {}
    for name in hosts:
        rules = host_packages(name, groups, hostvars, tables)
        rules[-1:-1] = [(str(rule), [str(p) for p in packages]) for rule, packages in gpu.get(name, []) if packages]
        by_host[name] = ["%s: %s" % (rule, " ".join(packages)) for rule, packages in rules]
        for _rule, packages in rules:
            union.update(packages)
    return {"packages": sorted(union), "by_host": by_host, "not_covered": list(NOT_COVERED)}


SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
SOURCE_URI = re.compile(r"^(https?://|file:/)\S+$")
# Where the builder (scripts/mirror/build-apt-mirror.sh) mounts the directory of these files; its own Debian sources
# are debian.sources there.
SOURCES_MOUNT = "/extra"


def _words(value):
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return None


def apt_sources(sources):
    """The vendor repositories of the bundle's APT builder (bundle_apt_sources), checked and rendered.

    Each item {name, uris, suites (default ['./']: a flat repository), components (none for a flat one), key (the
    repository's signing key, a file on the controller)} becomes a deb822 file <name>.sources whose Signed-By names
    <SOURCES_MOUNT>/<name>.asc (an armored key) or .gpg (a binary one). Returns {'problems': [sentences naming the
    variable and value], 'repositories': [{name, uris, suites, components, key_src, key_file, sources_file, content}]}.
    """
    if sources is None:
        sources = []
    if isinstance(sources, str) or not isinstance(sources, (list, tuple)):
        return {"problems": ["bundle_apt_sources must be a list of {name, uris, suites, components, key} (it is %r)." % (sources,)],
                "repositories": []}
    problems, repositories, seen = [], [], set()
    for index, item in enumerate(sources):
        where = "bundle_apt_sources[%d]" % index
        if not isinstance(item, dict):
            problems.append("%s is %r: want a mapping {name, uris, suites, components, key}." % (where, item))
            continue
        name = str(item.get("name") or "")
        if not SOURCE_NAME.match(name) or name == "debian":
            problems.append("%s.name=%r: want lower-case letters, digits, '.', '_' or '-', not 'debian' (the builder's own)." % (where, name))
            continue
        where = "bundle_apt_sources['%s']" % name
        if name in seen:
            problems.append("%s: the name is given twice." % where)
            continue
        seen.add(name)
        unknown = sorted(set(item) - {"name", "uris", "suites", "components", "key"})
        uris, suites = _words(item.get("uris")), _words(item.get("suites", ["./"]))
        components, key = _words(item.get("components")), str(item.get("key") or "")
        found = []
        if unknown:
            found.append("%s has unknown keys %s; allowed: name, uris, suites, components, key." % (where, ", ".join(unknown)))
        if not uris or any(not SOURCE_URI.match(u) for u in uris):
            found.append("%s.uris=%r: want one or more http://, https:// or file:/ URIs." % (where, item.get("uris")))
        if not suites:
            found.append("%s.suites=%r: want one or more suites ('./' for a flat repository)." % (where, item.get("suites")))
        elif components is None:
            found.append("%s.components=%r: want a list of components." % (where, item.get("components")))
        elif all(s.endswith("/") for s in suites) and components:
            found.append("%s: a flat repository (suites %s) has no components (components=%s)." % (where, " ".join(suites), " ".join(components)))
        elif not any(s.endswith("/") for s in suites) and not components:
            found.append("%s: suites %s need components (e.g. main)." % (where, " ".join(suites)))
        elif any(s.endswith("/") for s in suites) and not all(s.endswith("/") for s in suites):
            found.append("%s.suites=%s: flat ('./') and named suites cannot be mixed in one source." % (where, " ".join(suites)))
        if not key.startswith("/"):
            found.append("%s.key=%r: want the absolute path of the repository's signing key on the controller (.asc or .gpg)." % (where, key))
        if found:
            problems.extend(found)
            continue
        key_file = "%s.%s" % (name, "asc" if key.endswith(".asc") else "gpg")
        lines = ["Types: deb", "URIs: " + " ".join(uris), "Suites: " + " ".join(suites)]
        if components:
            lines.append("Components: " + " ".join(components))
        lines.append("Signed-By: %s/%s" % (SOURCES_MOUNT, key_file))
        repositories.append({"name": name, "uris": uris, "suites": suites, "components": components, "key_src": key,
                             "key_file": key_file, "sources_file": name + ".sources", "content": "\n".join(lines) + "\n"})
    return {"problems": problems, "repositories": repositories}
