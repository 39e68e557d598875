"""The last test of the inference scenario: the lab host restarts and serves again by itself.

Last (file name order) because a restarted lab container comes back with a new podman address, which Prometheus'
targets, the front doors' and the second deployment's views of this host were converged with; the tests before it
need no whole site.yml run to catch up with the new address.
"""

import subprocess

import lab


def test_service_comes_back_after_the_host_restarts(host, ca_file):
    # The lab host is a container: `podman restart` stops its systemd (SIGRTMIN+3, as a reboot
    # does) and boots it again; the engine and nginx must start by themselves.
    subprocess.run(['podman', 'restart', '--time', '60', lab.HOST], check=True, capture_output=True, timeout=180)
    seconds = lab.wait_serving(ca_file, timeout=240)
    assert host.service(lab.SERVICE).is_running
    assert host.service('nginx').is_running
    print('serving again %.1f s after the restart' % seconds)
