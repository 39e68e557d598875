"""The fabric between the nodes of a deployment: which RDMA ports carry it, the RoCE v2 GID index, the NCCL
environment, the fabric addresses, and the perftest figures. Pure functions over hardware_facts' rdma_devices.

Sources:
- GID table and RoCE v2 types: the kernel's sysfs ABI (Documentation/ABI/testing/sysfs-class-infiniband,
  ports/<n>/gids/<i>, gid_attrs/types/<i>, gid_attrs/ndevs/<i>); NVIDIA's "RoCE v2 GID index" note (show_gids):
  index 3 is only the usual place of the IPv4-mapped RoCE v2 entry, which is why it is looked up, not assumed.
- NCCL variables: NCCL's environment-variable documentation (docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html):
  NCCL_IB_HCA ("=" prefix: exact names), NCCL_IB_GID_INDEX, NCCL_SOCKET_IFNAME, NCCL_NET_GDR_LEVEL (LOC: never use
  GPUDirect RDMA), NCCL_DMABUF_ENABLE, NCCL_IB_DISABLE.
- perftest's report layout: ib_write_bw --report_gbits prints "#bytes #iterations BW peak BW average MsgRate",
  ib_send_lat prints "#bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%" (linux-rdma/perftest,
  src/perftest_parameters.c, the REPORT_FMT / REPORT_FMT_LAT headers).
- RoCE QoS (lossless RoCE on the host side): DSCP trust in the mlx5 driver's sysfs file qos/trust ("pcp" or "dscp"),
  PFC per priority with iproute2's dcb (dcb-pfc(8): `dcb pfc set dev DEV prio-pfc 3:on`, shown as
  "prio-pfc 0:off 1:off 2:off 3:on ..."), ECN's notification and reaction points in mlx5's sysfs files
  ecn/roce_np/enable/<prio> and ecn/roce_rp/enable/<prio>; RoCE v2 traffic in DSCP 26 (AF31) on priority 3, the
  switch vendors' and NVIDIA's usual lossless class (NVIDIA's "RoCE Configuration for ConnectX" notes and mlnx_qos's
  examples: `mlnx_qos -i DEV --trust dscp --pfc 0,0,0,1,0,0,0,0`). NCCL_IB_TC is the IP traffic class NCCL's queue
  pairs use: DSCP << 2, plus 2 (ECT(0)) with ECN (DSCP 26 -> 106).
"""

import ipaddress
import re

from ansible_collections.onprem.deepseek.plugins.module_utils import common

TRANSPORTS = ("infiniband", "roce", "soft_roce", "none")
GPUDIRECT_MODES = ("peermem", "dmabuf", "none")
# Software RDMA devices (rdma_rxe: Soft-RoCE, siw: soft iWARP) are never a hardware RoCE port.
SOFT_PREFIXES = ("rxe", "siw")


def rate_gbps(rate):
    """'400 Gb/sec (4X NDR)' -> 400.0; unknown -> 0.0."""
    match = re.match(r"\s*([0-9.]+)\s*Gb/sec", str(rate or ""))
    return float(match.group(1)) if match else 0.0


def gid_index(port):
    """The RoCE v2 GID index of a port: the IPv4-mapped RoCE v2 entry (::ffff:a.b.c.d), else the first RoCE v2
    entry, else None (InfiniBand ports need none)."""
    v2 = [g for g in port.get("gids", []) if (g.get("type") or "").strip().lower() == "roce v2"]
    mapped = [g for g in v2 if g["gid"].replace(":", "").lower().startswith("00000000000000000000ffff")]
    chosen = (mapped or v2 or [None])[0]
    return None if chosen is None else int(chosen["index"])


def _is_soft(name):
    return str(name).startswith(SOFT_PREFIXES)


def select_ports(transport, rdma_devices, hcas=None):
    """The (device, port) pairs that carry a transport: InfiniBand link layer for infiniband, Ethernet on a hardware
    device for roce, Ethernet on an rxe device for soft_roce; restricted to HCAS (names) when given."""
    if transport not in TRANSPORTS:
        raise common._unknown("fabric transport", transport, list(TRANSPORTS))
    chosen = []
    for device in rdma_devices or []:
        name = device["name"]
        if hcas and name not in hcas:
            continue
        for port in device.get("ports", []):
            link = port.get("link_layer", "unknown")
            if transport == "infiniband":
                wanted = link == "InfiniBand"
            elif transport == "roce":
                wanted = link == "Ethernet" and not _is_soft(name)
            elif transport == "soft_roce":
                wanted = link == "Ethernet" and name.startswith("rxe")
            else:
                wanted = False
            if wanted:
                netdevs = sorted(set(g["netdev"] for g in port.get("gids", []) if g.get("netdev"))) or device.get("netdevs", [])
                chosen.append({"device": name, "port": port["port"], "link_layer": link, "state": port.get("state", "unknown"),
                               "rate": port.get("rate", "unknown"), "rate_gbps": rate_gbps(port.get("rate")),
                               "gid_index": gid_index(port), "netdevs": list(netdevs)})
    return chosen


def port_problems(host, transport, ports, min_rate_gbps=0, hcas=None):
    """What keeps the fabric of HOST from working: no port for the transport, a port not ACTIVE, a rate below the
    minimum, a RoCE port without a RoCE v2 GID. Each message names host, HCA and port."""
    if transport == "none":
        return []
    if not ports:
        return ["%s: fabric_transport is %s but no %s port was found%s" % (
            host, transport, {"infiniband": "InfiniBand", "roce": "RoCE (Ethernet link layer on an HCA)",
                              "soft_roce": "Soft-RoCE (rxe)"}[transport],
            (" on fabric_hcas %s" % ", ".join(hcas)) if hcas else "")]
    problems = []
    for port in ports:
        where = "%s: %s port %s" % (host, port["device"], port["port"])
        if port["state"] != "ACTIVE":
            problems.append("%s is %s (want ACTIVE)" % (where, port["state"]))
        if min_rate_gbps and port["rate_gbps"] < float(min_rate_gbps):
            problems.append("%s runs at %s, below fabric_min_rate_gbps %s" % (where, port["rate"], min_rate_gbps))
        if transport in ("roce", "soft_roce") and port["gid_index"] is None:
            problems.append("%s has no RoCE v2 GID (no IPv4 address on %s?)" % (where, ", ".join(port["netdevs"]) or "its netdev"))
    return problems


def nccl_environment(transport, ports, socket_ifname="", ib_hca="auto", gpudirect="none", overrides=None):
    """NCCL's settings for a transport and its ports; OVERRIDES win, and an override of "" or None removes a key.

    IB_HCA "auto": the exact names of the ports' devices ("=mlx5_0,mlx5_1"). RoCE: the GID index of the first port
    (NCCL takes one index for all devices). No GPUDirect RDMA (or a software device): NCCL_NET_GDR_LEVEL=LOC.
    Transport none: NCCL_IB_DISABLE=1 (sockets only)."""
    if transport not in TRANSPORTS:
        raise common._unknown("fabric transport", transport, list(TRANSPORTS))
    if gpudirect not in GPUDIRECT_MODES:
        raise common._unknown("GPUDirect mode", gpudirect, list(GPUDIRECT_MODES))
    env = {}
    if transport == "none":
        env["NCCL_IB_DISABLE"] = "1"
    else:
        devices = []
        for port in ports:
            if port["device"] not in devices:
                devices.append(port["device"])
        hca = ("=" + ",".join(devices) if devices else "") if ib_hca == "auto" else ib_hca
        if hca:
            env["NCCL_IB_HCA"] = hca
        indexes = [p["gid_index"] for p in ports if p.get("gid_index") is not None]
        if transport in ("roce", "soft_roce") and indexes:
            env["NCCL_IB_GID_INDEX"] = str(indexes[0])
        if gpudirect == "none" or transport == "soft_roce":
            env["NCCL_NET_GDR_LEVEL"] = "LOC"
        elif gpudirect == "dmabuf":
            env["NCCL_DMABUF_ENABLE"] = "1"
    if socket_ifname:
        env["NCCL_SOCKET_IFNAME"] = socket_ifname if socket_ifname[0] in "=^" else "=" + socket_ifname
    for key, value in (overrides or {}).items():
        if value is None or str(value) == "":
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


QOS_DEFAULTS = {"enabled": True, "priority": 3, "dscp": 26, "ecn": True}


def roce_qos(transport, ports, qos=None):
    """The RoCE QoS this host should have: DSCP trust, PFC on one priority, ECN on that priority, and NCCL's traffic
    class. STATE: "wanted" (a hardware RoCE port: the role sets it where the NIC allows and records what it could not),
    "off" (qos disabled), or "not applicable" with the reason (Soft-RoCE and InfiniBand have no DCB on the host)."""
    settings = dict(QOS_DEFAULTS, **(qos or {}))
    for key, top in (("priority", 7), ("dscp", 63)):
        value = settings[key]
        try:
            number = None if isinstance(value, (bool, float)) else int(str(value).strip())
        except ValueError:
            number = None
        if number is None or not 0 <= number <= top:
            raise ValueError("fabric RoCE QoS: %s %r; allowed: an integer 0 to %d" % (key, value, top))
        settings[key] = number
    for key in ("enabled", "ecn"):
        settings[key] = settings[key] if isinstance(settings[key], bool) else str(settings[key]).lower() in ("true", "1", "yes", "on")
    netdevs = []
    for port in ports:
        for netdev in port.get("netdevs", []):
            if netdev not in netdevs:
                netdevs.append(netdev)
    out = {"state": "wanted", "reason": "", "priority": settings["priority"], "dscp": settings["dscp"],
           "ecn": bool(settings["ecn"]), "netdevs": netdevs, "pfc_args": pfc_arguments(settings["priority"]),
           "traffic_class": settings["dscp"] * 4 + (2 if settings["ecn"] else 0)}
    if not settings["enabled"]:
        out.update(state="off", reason="fabric_roce_qos is false")
    elif transport == "soft_roce":
        out.update(state="not applicable", reason="Soft-RoCE (rdma_rxe) has no DCB: DSCP trust, PFC and ECN belong to a "
                                                  "hardware RoCE NIC and its switch")
    elif transport != "roce":
        out.update(state="not applicable", reason="transport %s has no RoCE QoS" % transport)
    elif not netdevs:
        out.update(state="not applicable", reason="no RoCE port with a network interface")
    return out


def pfc_arguments(priority):
    """dcb's prio-pfc arguments that turn PFC on for PRIORITY only."""
    return ["%d:%s" % (prio, "on" if prio == priority else "off") for prio in range(8)]


def fabric_address(host, address="", pool="", index=0, offset=10):
    """This host's fabric address (a.b.c.d/prefix): ADDRESS, which must lie in POOL when both are given, or the
    (OFFSET + INDEX)-th address of POOL. Raises ValueError naming host, variable and value."""
    network = None
    if pool:
        try:
            network = ipaddress.ip_network(str(pool), strict=False)
        except ValueError:
            raise ValueError("%s: fabric_address_pool %r is not a network (want e.g. 10.77.0.0/24)" % (host, pool))
    if address:
        try:
            iface = ipaddress.ip_interface(str(address))
        except ValueError:
            raise ValueError("%s: fabric_address %r is not an address with a prefix (want e.g. 10.77.0.11/24)" % (host, address))
        if "/" not in str(address):
            raise ValueError("%s: fabric_address %r has no prefix length (want e.g. %s/24)" % (host, address, address))
        if network is not None and iface.ip not in network:
            raise ValueError("%s: fabric_address %s is outside fabric_address_pool %s" % (host, address, pool))
        return str(iface)
    if network is None:
        return ""
    position = int(offset) + int(index)
    if position <= 0 or position >= network.num_addresses - 1:
        raise ValueError("%s: fabric_address_pool %s has no address at offset %d (fabric_address_offset %s + host index %s)"
                         % (host, pool, position, offset, index))
    return "%s/%d" % (network.network_address + position, network.prefixlen)


def _data_line(output, columns):
    for line in str(output or "").splitlines():
        fields = line.split()
        if len(fields) >= columns and all(re.match(r"^[0-9.]+$", f) for f in fields[:columns]):
            return [float(f) for f in fields]
    return None


def perftest_bandwidth(output):
    """ib_write_bw/ib_read_bw/ib_send_bw --report_gbits output -> {'bytes', 'peak_gbps', 'average_gbps', 'msg_rate_mpps'}."""
    fields = _data_line(output, 5)
    if fields is None:
        raise ValueError("no perftest bandwidth line in the output: %r" % str(output)[-300:])
    return {"bytes": int(fields[0]), "peak_gbps": fields[2], "average_gbps": fields[3], "msg_rate_mpps": fields[4]}


def perftest_latency(output):
    """ib_send_lat/ib_write_lat output -> {'bytes', 'min_us', 'typical_us', 'average_us', 'p99_us'} (p99 None when absent)."""
    fields = _data_line(output, 6)
    if fields is None:
        raise ValueError("no perftest latency line in the output: %r" % str(output)[-300:])
    return {"bytes": int(fields[0]), "min_us": fields[2], "typical_us": fields[4], "average_us": fields[5],
            "p99_us": fields[7] if len(fields) > 7 else None}


def fabric_config(hardware, transport="none", host="", hcas=None, min_rate_gbps=0, socket_ifname="", ib_hca="auto",
                  gpudirect="none", nccl_overrides=None, address="", pool="", index=0, offset=10, check_ports=True,
                  qos=None):
    """Everything the fabric role and the engine containers need for one host, from hardware_facts: the ports that carry
    the transport, the problems (each naming host, HCA/port or variable), this host's fabric address, and NCCL's
    environment. Problems are returned, not raised, so that preflight can list them all before any change."""
    problems = []
    if transport not in TRANSPORTS:
        return {"transport": transport, "ports": [], "address": "", "nccl_env": {}, "rdma": False,
                "problems": ["%s: fabric_transport %r; allowed: %s" % (host, transport, ", ".join(TRANSPORTS))]}
    if gpudirect not in GPUDIRECT_MODES:
        problems.append("%s: GPUDirect mode %r; allowed: %s" % (host, gpudirect, ", ".join(GPUDIRECT_MODES)))
        gpudirect = "none"
    hcas = [h for h in (hcas or []) if h]
    ports = select_ports(transport, (hardware or {}).get("rdma_devices", []), hcas)
    found = port_problems(host, transport, ports, min_rate_gbps, hcas)
    # Before the fabric is configured only a missing port is a problem (IB ports wait for the subnet manager).
    problems += found if check_ports or not ports else []
    try:
        addr = fabric_address(host, address, pool, index, offset)
    except ValueError as exc:
        addr = ""
        problems.append(str(exc))
    try:
        wanted = roce_qos(transport, ports, qos if qos is not None else {"enabled": False})
    except ValueError as exc:
        wanted = roce_qos(transport, ports, {"enabled": False})
        problems.append("%s: %s" % (host, exc))
    overrides = dict(nccl_overrides or {})
    if wanted["state"] == "wanted":
        # NCCL's queue pairs carry the lossless class (before the user's overrides, which win).
        overrides = dict({"NCCL_IB_TC": str(wanted["traffic_class"])}, **overrides)
    return {"transport": transport, "ports": ports, "address": addr, "problems": problems,
            "rdma": transport != "none" and bool(ports), "qos": wanted,
            "nccl_env": nccl_environment(transport, ports, socket_ifname, ib_hca, gpudirect, overrides)}
