"""Verify the fabric role's Soft-RoCE between the two lab VMs (after os-tuning-vm's reboot)."""

import json
import os
import subprocess

import pytest

RECORD = "/var/lib/onprem-deepseek/fabric.json"
ADDRESSES = {"os-tuning-vm": "10.78.0.11", "fabric-vm-b": "10.78.0.12"}   # fabric_address_pool + offset 11 + index


def _name(host):
    return host.backend.get_hostname()


def _record(host):
    return json.loads(host.file(RECORD).content_string)


def _fabric_iface(host):
    return _record(host)["ports"][0]["netdevs"][0]


def test_rxe_device_on_the_fabric_interface(host):
    iface = _fabric_iface(host)
    out = host.check_output("rdma link show")
    assert "link rxe_%s/1 state ACTIVE" % iface in out and "netdev %s" % iface in out
    assert "rxe_%s" % iface in host.check_output("ibv_devices")


def test_devices_come_back_at_boot(host):
    # os-tuning-vm rebooted after the fabric role ran (os_tuning_reboot_ok): the module and the unit brought rxe back.
    assert host.service("onprem-fabric-rxe.service").is_enabled
    assert "rdma_rxe" in host.file("/etc/modules-load.d/rdma_rxe.conf").content_string
    if _name(host) == "os-tuning-vm":
        # the kernel command line os_tuning set takes effect only by booting: this is the boot after the fabric role
        assert "transparent_hugepage=never" in host.file("/proc/cmdline").content_string


def test_address_from_the_pool_through_networkd(host):
    iface = _fabric_iface(host)
    network = host.file("/etc/systemd/network/10-onprem-fabric-%s.network" % iface)
    assert "Address=%s/24" % ADDRESSES[_name(host)] in network.content_string
    assert "inet %s/24" % ADDRESSES[_name(host)] in host.check_output("ip -4 addr show dev %s" % iface)


def test_gid_index_found_in_sysfs_and_in_nccl_conf(host):
    record = _record(host)
    port = record["ports"][0]
    assert port["gid_index"] is not None
    # the GID at that index is the IPv4-mapped RoCE v2 entry of the fabric address
    sysfs = "/sys/class/infiniband/%s/ports/1" % port["device"]
    gid = host.file("%s/gids/%d" % (sysfs, port["gid_index"])).content_string.strip()
    kind = host.file("%s/gid_attrs/types/%d" % (sysfs, port["gid_index"])).content_string.strip()
    assert kind == "RoCE v2"
    octets = [int(x) for x in ADDRESSES[_name(host)].split(".")]
    assert gid.endswith("ffff:%02x%02x:%02x%02x" % tuple(octets))
    conf = host.file("/etc/nccl.conf").content_string.splitlines()
    assert "NCCL_IB_GID_INDEX=%d" % port["gid_index"] in conf
    assert "NCCL_IB_HCA==%s" % port["device"] in conf
    assert "NCCL_NET_GDR_LEVEL=LOC" in conf


def test_perftest_figures_recorded_on_both_nodes(host):
    record = _record(host)
    assert record["transport"] == "soft_roce" and record["nodes"] == ["os-tuning-vm", "fabric-vm-b"]
    [pair] = record["figures"]
    assert pair["pair"] == "os-tuning-vm -> fabric-vm-b"
    assert pair["bandwidth"]["average_gbps"] > 0
    assert pair["latency"]["typical_us"] > 0


def test_a_port_down_fails_naming_it(host):
    if _name(host) != "fabric-vm-b":
        pytest.skip("run once, against fabric-vm-b")
    iface = _fabric_iface(host)
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
           os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "fabric_port_down.yml")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "fabric-vm-b: rxe_%s port 1 is DOWN (want ACTIVE)" % iface in output, output[-3000:]
    # and the interface is back
    assert "state UP" in host.check_output("ip link show dev %s" % iface) or "LOWER_UP" in host.check_output(
        "ip link show dev %s" % iface)


def _sections(output):
    """The probe's output (engine_container.yml) by its '== name' headers."""
    sections, name = {}, None
    for line in output.splitlines():
        if line.startswith("== "):
            name = line[3:]
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def test_an_engine_container_gets_the_verbs_devices_and_nccl_environment(host):
    # The options the inference role gives an engine here (the engine_command filter over fabric_nccl_environment and
    # fabric_rdma), the VM's own root file system as the image: /dev/infiniband, the rxe device, memlock, IPC_LOCK and
    # /etc/nccl.conf's settings inside the container.
    if _name(host) != "os-tuning-vm":
        pytest.skip("run once, against os-tuning-vm")
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
           os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "engine_container.yml")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600,
                            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "engine_container.json")) as handle:
        record = json.load(handle)
    options, probe = record["run_options"], _sections(record["output"])
    print("run options: %s" % " ".join(options))
    print(record["output"])
    assert options[options.index("--device") + 1] == "/dev/infiniband"
    assert "uverbs0" in probe["devices"]
    assert "rxe_%s" % _fabric_iface(host) in "\n".join(probe["ibv_devices"])
    assert probe["memlock"] == ["unlimited"]
    assert int(probe["status"][0].split()[1], 16) & (1 << 14), "no CAP_IPC_LOCK: %s" % probe["status"]
    env = set(probe["env"])
    conf = [line for line in host.file("/etc/nccl.conf").content_string.splitlines() if line and not line.startswith("#")]
    names = {line.split("=", 1)[0] for line in conf}
    assert {"NCCL_IB_HCA", "NCCL_IB_GID_INDEX", "NCCL_SOCKET_IFNAME"} <= names, conf
    assert [line for line in conf if line not in env] == [], conf
