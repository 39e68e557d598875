"""The front doors' virtual address: keepalived's configuration and check script, rendered by ansible from the
loadbalancer role's own templates, defaults and vars for two front doors; then run for real.

The live half builds a small network out of network namespaces (never this machine's own interfaces or settings):
namespace C holds a bridge, the "switch" and the client; namespaces A and B are two front doors, each with one veth
port on that bridge (fd0), HAProxy (a metrics endpoint for keepalived's check, and a service port that answers with
the front door's name) and keepalived started from the rendered files. A bounded client loop in C calls the virtual
address while the test (1) stops HAProxy on the holder: its check fails, it gives the address up and the other front
door answers; (2) brings HAProxy back: the address stays where it is (nopreempt); (3) stops the holder like a host
that dies (keepalived and HAProxy killed, its link down): the other takes the address after VRRP's master-down
interval and announces it (gratuitous ARP), and the client is answered again. The failover times and the requests
that failed in between are printed (measured here; the docs quote them), never compared with a time limit beyond
the loop's own bound. Skipped where keepalived or haproxy is missing (scripts/loadbalancer/packages.txt) or
namespaces cannot be made (not root).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from role_play import role_play

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'loadbalancer')
SBIN = '/usr/sbin:/sbin:/usr/bin:/bin'
KEEPALIVED = shutil.which('keepalived') or shutil.which('keepalived', path=SBIN)
HAPROXY = shutil.which('haproxy') or shutil.which('haproxy', path=SBIN)
VIP = '10.99.0.100'
ADDRESSES = {'fd-a': '10.99.0.1', 'fd-b': '10.99.0.2'}
SERVICE_PORT = 18443
METRICS_PORT = 8405

RENDER = role_play('deepseek_frontdoor', ROLE) + """
    - name: The VRRP members, as tasks/vrrp.yml works them out
      ansible.builtin.set_fact:
        __loadbalancer_vrrp: >-
          {{{{ groups[loadbalancer_vrrp_group] | onprem.deepseek.frontdoor_vrrp(hostvars, loadbalancer_vip,
              router_id=loadbalancer_vrrp_router_id) }}}}
    - name: keepalived's configuration
      ansible.builtin.template:
        src: {role}/templates/keepalived.conf.j2
        dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.conf"
        mode: "0644"
    - name: keepalived's check of HAProxy
      ansible.builtin.template:
        src: {role}/templates/frontdoor-check.j2
        dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}-check"
        mode: "0755"
""".format(role=ROLE)


def _render(out, extra_vars, hosts=None):
    """Render both front doors' files into out; returns {host: keepalived.conf text}."""
    hosts = hosts or dict((name, {'loadbalancer_vrrp_address': address}) for name, address in ADDRESSES.items())
    inventory = {'all': {'children': {'deepseek_frontdoor': {'hosts': hosts}}}}
    (out / 'inventory.json').write_text(json.dumps(inventory))
    (out / 'render.yml').write_text(RENDER)
    variables = dict({'out': str(out), 'ansible_python_interpreter': sys.executable}, **extra_vars)
    (out / 'vars.json').write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    result = subprocess.run(['ansible-playbook', '-i', str(out / 'inventory.json'), str(out / 'render.yml'), '-e', '@%s' % (out / 'vars.json')],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return dict((name, (out / ('%s.conf' % name)).read_text()) for name in hosts)


# --- the rendered text ---------------------------------------------------------------------------

def test_each_front_door_is_a_backup_that_does_not_preempt_and_peers_with_the_other(tmp_path):
    confs = _render(tmp_path, {'loadbalancer_vip': '10.99.0.100/24', 'loadbalancer_vip_interface': 'fd0'})
    for name, other, priority in (('fd-a', 'fd-b', 150), ('fd-b', 'fd-a', 140)):
        text = confs[name]
        instance = text.split('vrrp_instance onprem_frontdoor {', 1)[1]
        assert re.search(r'^\s+state BACKUP\n\s+nopreempt\n\s+interface fd0\n\s+virtual_router_id 51\n\s+priority %d\n\s+advert_int 1\n'
                         r'\s+unicast_src_ip %s\n\s+unicast_peer \{\n\s+%s\n\s+\}' % (priority, ADDRESSES[name], ADDRESSES[other]),
                         instance, re.M), text
        assert re.search(r'virtual_ipaddress \{\n\s+10\.99\.0\.100/24 dev fd0\n\s+\}', instance), text
        assert 'track_script {\n        onprem_frontdoor_haproxy\n' in instance
        assert 'enable_script_security' in text and 'script_user root' in text
        assert re.search(r'vrrp_script onprem_frontdoor_haproxy \{\n\s+script "/usr/local/sbin/onprem-deepseek-frontdoor-check"\n'
                         r'\s+interval 2\n\s+timeout 2\n\s+fall 2\n\s+rise 2\n', text), text
    check = (tmp_path / 'fd-a-check').read_text()
    assert '/dev/tcp/127.0.0.1/8405' in check and 'GET /metrics' in check


def test_the_check_reads_the_metrics_endpoint_where_it_listens(tmp_path):
    _render(tmp_path, {'loadbalancer_vip': '10.99.0.100/24', 'loadbalancer_metrics_address': '0.0.0.0', 'loadbalancer_metrics_port': 9101})
    assert '/dev/tcp/127.0.0.1/9101' in (tmp_path / 'fd-a-check').read_text()
    _render(tmp_path, {'loadbalancer_vip': '10.99.0.100/24', 'loadbalancer_metrics_address': '10.0.0.5'})
    assert '/dev/tcp/10.0.0.5/8405' in (tmp_path / 'fd-b-check').read_text()


# --- live: keepalived and HAProxy in network namespaces ------------------------------------------------------------

HAPROXY_CFG = """global
    stats socket {tree}/{name}-admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend metrics
    bind 127.0.0.1:{metrics}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    http-request return status 404
frontend service
    bind *:{port}
    http-request return status 200 content-type text/plain string "{name}"
"""

# The client: a bounded loop in namespace C; one request at a time to the virtual address, each with a 1 s timeout;
# prints one JSON line per request (monotonic time, answer or error). Stops after LIMIT seconds, or once the last 10
# answers came from TARGET after anything else did.
CLIENT = r"""
import json, socket, sys, time
vip, port, limit, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
deadline, seen = time.monotonic() + limit, []
while time.monotonic() < deadline and not (len(seen) > 10 and set(seen[-10:]) == {target} and set(seen) != {target}):
    started = time.monotonic()
    try:
        with socket.create_connection((vip, port), timeout=1) as sock:
            sock.settimeout(1)
            sock.sendall(b'GET / HTTP/1.0\r\nHost: vip\r\n\r\n')
            data = b''
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        answer = data.split(b'\r\n\r\n', 1)[-1].decode().strip() or 'empty'
    except OSError as exc:
        answer = 'error:' + type(exc).__name__
    seen.append(answer)
    print(json.dumps([round(started, 3), answer]), flush=True)
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
"""


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True, **kwargs)


class _Lab:
    """Namespaces A, B (front doors) and C (bridge + client), held open by `sleep` processes; every process started
    in them is killed at the end, and the namespaces vanish with their last process."""

    def __init__(self, tree):
        self.tree, self.procs, self.holders = tree, {}, {}
        for name in ('fd-a', 'fd-b', 'switch'):
            self.holders[name] = subprocess.Popen(['unshare', '--net', 'sleep', '600'])
        time.sleep(0.3)
        for name, proc in self.holders.items():
            if proc.poll() is not None:
                raise OSError('unshare --net failed for %s' % name)
        self.ns('switch', 'ip', 'link', 'add', 'br0', 'type', 'bridge')
        self.ns('switch', 'ip', 'addr', 'add', '10.99.0.254/24', 'dev', 'br0')
        self.ns('switch', 'ip', 'link', 'set', 'br0', 'up')
        self.ns('switch', 'ip', 'link', 'set', 'lo', 'up')
        for name, address in ADDRESSES.items():
            port = 'p-%s' % name
            self.ns('switch', 'ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'fd0')
            self.ns('switch', 'ip', 'link', 'set', 'fd0', 'netns', str(self.holders[name].pid))
            self.ns('switch', 'ip', 'link', 'set', port, 'master', 'br0', 'up')
            self.ns(name, 'ip', 'link', 'set', 'lo', 'up')
            self.ns(name, 'ip', 'addr', 'add', '%s/24' % address, 'dev', 'fd0')
            self.ns(name, 'ip', 'link', 'set', 'fd0', 'up')

    def nsenter(self, name):
        return ['nsenter', '-t', str(self.holders[name].pid), '-n']

    def ns(self, name, *args):
        return _run(self.nsenter(name) + list(args)).stdout

    def start(self, key, name, args, **kwargs):
        log = open(str(self.tree / ('%s.log' % key)), 'w')
        self.procs[key] = subprocess.Popen(self.nsenter(name) + list(args), stdout=log, stderr=subprocess.STDOUT, **kwargs)
        return self.procs[key]

    def kill(self, key, sig=signal.SIGTERM):
        proc = self.procs.pop(key, None)
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=30)

    def holds_vip(self, name):
        return (' %s/24 ' % VIP) in self.ns(name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'fd0')

    def close(self):
        for key in list(self.procs):
            self.kill(key, signal.SIGTERM)
        # Whatever still runs in the namespaces (a VRRP child whose parent was killed): found by its network namespace.
        spaces = set()
        for proc in self.holders.values():
            try:
                spaces.add(os.readlink('/proc/%d/ns/net' % proc.pid))
            except OSError:
                pass
        for pid in [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]:
            try:
                if os.readlink('/proc/%d/ns/net' % pid) in spaces:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in self.holders.values():
            proc.kill()
            proc.wait(timeout=30)


def _poll(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError('%s: not within %d s' % (what, timeout))


@pytest.fixture()
def lab():
    missing = [name for name, path in (('keepalived', KEEPALIVED), ('haproxy', HAPROXY)) if path is None]
    if missing:
        pytest.skip('%s not installed here (scripts/loadbalancer/packages.txt)' % ' and '.join(missing))
    if os.geteuid() != 0 or shutil.which('unshare') is None or shutil.which('nsenter') is None:
        pytest.skip('network namespaces need root, unshare and nsenter')
    # keepalived's script security refuses a check script below a directory others may write (/tmp): a private one.
    tree = tempfile.mkdtemp(prefix='vrrp-', dir=os.path.join(ROOT, '.cache') if os.path.isdir(os.path.join(ROOT, '.cache')) else '/root')
    os.chmod(tree, 0o755)
    from pathlib import Path
    tree = Path(tree)
    try:
        lab = _Lab(tree)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(str(tree), ignore_errors=True)
        pytest.skip('network namespaces cannot be made here: %s' % getattr(exc, 'stderr', exc))
    try:
        yield lab
    finally:
        lab.close()
        shutil.rmtree(str(tree), ignore_errors=True)


def _client_answers(proc):
    out, dummy = proc.communicate(timeout=120)
    return [json.loads(line) for line in out.splitlines() if line.startswith('[')]


def _switch_over(answers, old, new):
    """(seconds from the old front door's last answer to the new one's first, requests that failed in between)."""
    last_old = max(t for t, answer in answers if answer == old)
    first_new = min(t for t, answer in answers if answer == new and t > last_old)
    failed = [answer for t, answer in answers if last_old < t < first_new]
    return first_new - last_old, failed


def test_live_the_virtual_address_moves_when_a_front_door_fails(lab):
    tree = lab.tree
    _render(tree, {'loadbalancer_vip': '%s/24' % VIP, 'loadbalancer_vip_interface': 'fd0', 'loadbalancer_metrics_port': METRICS_PORT,
                   '__loadbalancer_vrrp_check': '%s/{{ inventory_hostname }}-check' % tree})
    (tree / 'client.py').write_text(CLIENT)
    for name in ADDRESSES:
        (tree / ('%s-haproxy.cfg' % name)).write_text(HAPROXY_CFG.format(tree=tree, name=name, metrics=METRICS_PORT, port=SERVICE_PORT))
        checked = subprocess.run(lab.nsenter(name) + [KEEPALIVED, '-t', '-f', str(tree / ('%s.conf' % name))],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr

    def haproxy(name):
        lab.start('haproxy-%s' % name, name, [HAPROXY, '-db', '-f', str(tree / ('%s-haproxy.cfg' % name))])

    def keepalived(name):
        lab.start('keepalived-%s' % name, name, [KEEPALIVED, '-n', '-l', '-P', '-f', str(tree / ('%s.conf' % name)),
                                                 '-p', str(tree / ('%s.pid' % name)), '-r', str(tree / ('%s-vrrp.pid' % name))])

    def client(seconds, target):
        return subprocess.Popen(lab.nsenter('switch') + [sys.executable, str(tree / 'client.py'), VIP, str(SERVICE_PORT), str(seconds), target],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    try:
        for name in ADDRESSES:
            haproxy(name)
        keepalived('fd-a')
        _poll('fd-a takes the address (the first to start, the higher priority)', lambda: lab.holds_vip('fd-a'), 20)
        keepalived('fd-b')
        time.sleep(4)  # fd-b hears fd-a's advertisements and stays BACKUP
        assert lab.holds_vip('fd-a') and not lab.holds_vip('fd-b')

        # (1) HAProxy stops on the holder: its check fails twice (2 s apart), it gives the address up, fd-b takes it.
        loop = client(30, 'fd-b')
        time.sleep(2)
        stopped = time.monotonic()
        lab.kill('haproxy-fd-a')
        moved = _poll('the address moves to fd-b', lambda: lab.holds_vip('fd-b') and not lab.holds_vip('fd-a'), 30)
        answers = _client_answers(loop)
        assert answers and answers[-1][1] == 'fd-b', answers[-5:]
        check_failover, check_failed = _switch_over(answers, 'fd-a', 'fd-b')

        # (2) HAProxy is back on fd-a: fd-a is healthy again but does not take the address back (nopreempt).
        haproxy('fd-a')
        time.sleep(8)
        assert lab.holds_vip('fd-b') and not lab.holds_vip('fd-a')

        # (3) fd-b dies like a host: keepalived and HAProxy killed, its link down. fd-a takes the address after VRRP's
        # master-down interval (3 advertisements + skew) and announces it; the client is answered by fd-a again.
        loop = client(30, 'fd-a')
        time.sleep(2)
        died = time.monotonic()
        # The link first: keepalived's VRRP process ends gracefully when its parent is killed and would say goodbye
        # (priority 0) to fd-a, which a dead host never does.
        lab.ns('fd-b', 'ip', 'link', 'set', 'fd0', 'down')
        lab.kill('keepalived-fd-b', signal.SIGKILL)
        lab.kill('haproxy-fd-b', signal.SIGKILL)
        taken = _poll('fd-a takes the address back', lambda: lab.holds_vip('fd-a'), 30)
        answers = _client_answers(loop)
        assert answers and answers[-1][1] == 'fd-a', answers[-5:]
        host_failover, host_failed = _switch_over(answers, 'fd-b', 'fd-a')
    except BaseException:
        for log in sorted(tree.glob('*.log')):
            print('--- %s\n%s' % (log.name, log.read_text()[-3000:]))
        raise
    print('front-door VIP: HAProxy stopped on the holder -> address moved in %.1f s, client answered by the other after %.1f s '
          '(%d request(s) failed in between); holder died -> address taken in %.1f s, client answered after %.1f s (%d failed)'
          % (moved - stopped, check_failover, len(check_failed), taken - died, host_failover, len(host_failed)))
