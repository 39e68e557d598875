#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Soft-RoCE next to plain TCP between the same two lab VMs, as a ratio, in one run.

    sudo python3 tests/benchmarks/bench_fabric.py [--seconds 5] [--keep]

Boots two VMs of the VM lab (scripts/vm/lab-vm, the cached image) on a private fabric network, puts an rxe device
on each fabric NIC (as the fabric role's soft_roce does), then measures over the same interfaces: ib_write_bw
(RDMA write, 64 KiB messages, --report_gbits) and iperf3 (one TCP stream), and ib_send_lat next to a TCP round trip
(iperf3 cannot: the TCP figure is ping's RTT / 2). The VMs run under TCG (no KVM here), so both figures are the
emulator's, not a NIC's: the ratio says what the RDMA code path costs or gains on the same virtual wire, nothing about
hardware. A report, not a timed assertion; the VMs are stopped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB_VM = os.path.join(ROOT, 'scripts', 'vm', 'lab-vm')
NAMES = ('bench-fabric-a', 'bench-fabric-b')
sys.path.insert(0, os.path.join(ROOT, '.collections'))
from ansible_collections.onprem.deepseek.plugins.module_utils import fabric  # noqa: E402  (after the path is set)


def _ssh(name, command, check=True, background=False):
    args = [LAB_VM, 'ssh', name, command]
    if background:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
    if check and result.returncode != 0:
        raise SystemExit('%s: %s failed: %s' % (name, command, result.stderr[-1000:]))
    return result.stdout


def _iface(name):
    out = _ssh(name, "ip -o link | awk -F': ' '/52:54:00:77:00/ {print $2}'")
    return out.strip().split('\n')[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--seconds', type=int, default=5)
    parser.add_argument('--keep', action='store_true')
    opts = parser.parse_args()
    start = time.time()
    for index, name in enumerate(NAMES):
        subprocess.run([LAB_VM, 'up', name, '--index', str(index + 5), '--net', 'bench-fabric', '--memory', '1024', '--cpus', '1'],
                       check=True, stdout=subprocess.DEVNULL)
    boot = time.time() - start
    try:
        ips = {}
        for index, name in enumerate(NAMES):
            iface = _iface(name)
            _ssh(name, 'modprobe rdma_rxe && (rdma link show | grep -q rxe_{0} || rdma link add rxe_{0} type rxe netdev {0})'.format(iface))
            ips[name] = '10.77.0.%d' % (15 + index)
        a, b = NAMES
        dev_a, dev_b = 'rxe_' + _iface(a), 'rxe_' + _iface(b)
        time.sleep(2)
        gid = '3'
        gids = _ssh(b, 'for i in 0 1 2 3 4 5; do echo "$i $(cat /sys/class/infiniband/%s/ports/1/gid_attrs/types/$i 2>/dev/null)'
                       ' $(cat /sys/class/infiniband/%s/ports/1/gids/$i)"; done' % (dev_b, dev_b), check=False)
        for line in gids.splitlines():
            if 'RoCE v2' in line and ':ffff:' in line:
                gid = line.split()[0]
                break
        server = _ssh(b, 'timeout 120 ib_write_bw -d %s -x %s -F --report_gbits -D %d' % (dev_b, gid, opts.seconds), background=True)
        time.sleep(2)
        bw = fabric.perftest_bandwidth(_ssh(a, 'ib_write_bw -d %s -x %s -F --report_gbits -D %d %s' % (dev_a, gid, opts.seconds, ips[b])))
        server.wait(timeout=180)
        server = _ssh(b, 'timeout 120 ib_send_lat -d %s -x %s -F -n 1000' % (dev_b, gid), background=True)
        time.sleep(2)
        lat = fabric.perftest_latency(_ssh(a, 'ib_send_lat -d %s -x %s -F -n 1000 %s' % (dev_a, gid, ips[b])))
        server.wait(timeout=180)
        _ssh(b, 'iperf3 -s -D -1 -B %s >/dev/null 2>&1 </dev/null' % ips[b])
        time.sleep(1)
        tcp = json.loads(_ssh(a, 'iperf3 -J -t %d -c %s' % (opts.seconds, ips[b])))
        tcp_gbps = tcp['end']['sum_received']['bits_per_second'] / 1e9
        ping = _ssh(a, 'ping -q -c 50 -i 0.05 %s' % ips[b])
        rtt = float(re.search(r'= [0-9.]+/([0-9.]+)/', ping).group(1))
        report = {
            'where': 'two VM-lab guests (QEMU TCG, 1 vCPU each) on one host, virtio-net over a loopback multicast socket',
            'boot_seconds': round(boot, 1),
            'soft_roce': {'ib_write_bw_gbps': bw['average_gbps'], 'ib_send_lat_typical_us': lat['typical_us']},
            'tcp': {'iperf3_gbps': round(tcp_gbps, 3), 'ping_rtt_half_us': round(rtt * 1000 / 2, 1)},
            'ratio_bandwidth_rdma_over_tcp': round(bw['average_gbps'] / tcp_gbps, 2) if tcp_gbps else None,
            'ratio_latency_rdma_over_tcp': round(lat['typical_us'] / (rtt * 1000 / 2), 2) if rtt else None,
        }
        print(json.dumps(report, indent=2))
    finally:
        if not opts.keep:
            subprocess.run([LAB_VM, 'down'] + list(NAMES), check=False, stdout=subprocess.DEVNULL)


if __name__ == '__main__':
    main()
