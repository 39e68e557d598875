"""The inference role's container options, run for real by podman and read against docker's reference.

For every GPU engine layout (tests/unit/roles/inference_render.py renders them with the role), the
exact options the role computed (`__inference_run_options`, entrypoint, arguments) are handed to
`podman run` with a stand-in image and a stand-in CDI spec: podman itself decides whether it
accepts the combination (it refuses with exit 125, e.g. --shm-size with --ipc host), and the
stand-in program reports what reached the container (argv, environment, /dev/nvidia0 from the CDI
spec, /models, rlimits).

- Stand-in image localhost/onprem-deepseek/standin-engine:test: one static C program (gcc -static)
  at every program path the role starts, imported with `podman import` (no registry needed), built
  once and reused while its inputs' hash (label onprem.standin.inputs) is unchanged.
- Stand-in CDI spec: kind nvidia.com/gpu, device `all` maps /dev/null to /dev/nvidia0 and
  /dev/nvidiactl. podman >= 4.8 reads it from --cdi-spec-dir; older podman (4.3 here) only reads
  /etc/cdi and /var/run/cdi, so it is shown to podman alone: in a private mount namespace, /etc is
  an overlay whose upper layer (a temporary directory) holds cdi/. The host's /etc is not written.
- Docker has no daemon here: its options are checked against `docker run`'s option table.

Nothing here changes the host's kernel settings or network (host network only, no sysctls).
"""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import warnings

import pytest
from inference_render import CONTAINER_ENGINES, DOCKER_LAYOUTS, GPU_LAYOUTS, layout_name, rendered_layouts, rendered_model_dir

IMAGE = 'localhost/onprem-deepseek/standin-engine:test'
STANDIN_C = r'''
#include <stdio.h>
#include <unistd.h>
#include <sys/resource.h>
extern char **environ;
static void limit(const char *name, int resource) {
    struct rlimit r;
    getrlimit(resource, &r);
    printf("rlimit-%s=%lld:%lld\n", name, r.rlim_cur == RLIM_INFINITY ? -1LL : (long long) r.rlim_cur,
           r.rlim_max == RLIM_INFINITY ? -1LL : (long long) r.rlim_max);
}
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv=%s\n", argv[i]);
    for (char **e = environ; *e; e++) printf("env=%s\n", *e);
    printf("dev-nvidia0=%s\n", access("/dev/nvidia0", F_OK) == 0 ? "yes" : "no");
    printf("models=%s\n", access("/models", R_OK) == 0 ? "yes" : "no");
    limit("memlock", RLIMIT_MEMLOCK);
    limit("nofile", RLIMIT_NOFILE);
    limit("nproc", RLIMIT_NPROC);
    return 0;
}
'''
# Every program the role starts (--entrypoint), at the paths the engine images have them.
PROGRAMS = ('usr/bin/vllm', 'usr/bin/python3', 'usr/bin/ray', 'bin/bash', 'usr/bin/bash')
CDI_SPEC = {
    'cdiVersion': '0.5.0',
    'kind': 'nvidia.com/gpu',
    'devices': [{'name': 'all', 'containerEdits': {'deviceNodes': [
        {'path': '/dev/nvidia0', 'hostPath': '/dev/null'}, {'path': '/dev/nvidiactl', 'hostPath': '/dev/null'}]}}],
    'containerEdits': {'env': ['ONPREM_STANDIN_CDI=1']},
}
PODMAN_REFUSES = 125  # podman's exit status when it refuses the options itself


def _run(cmd, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope='module')
def podman():
    if not shutil.which('podman'):
        pytest.skip('podman is not installed (scripts/dev setup installs it): the role\'s run options cannot be run')
    return shutil.which('podman')


@pytest.fixture(scope='module')
def standin_image(podman):
    """The stand-in image, (re)built only when its inputs changed."""
    gcc = shutil.which('gcc')
    if not gcc:
        pytest.skip('gcc is not installed: the stand-in engine (a static C program) cannot be built')
    gcc_version = _run([gcc, '--version']).stdout.splitlines()[0]
    inputs = hashlib.sha256(json.dumps([STANDIN_C, PROGRAMS, gcc_version]).encode()).hexdigest()[:16]
    inspect = _run([podman, 'image', 'inspect', IMAGE])
    if inspect.returncode == 0 and (json.loads(inspect.stdout)[0].get('Labels') or {}).get('onprem.standin.inputs') == inputs:
        return IMAGE
    work = tempfile.mkdtemp(prefix='onprem-standin-')
    try:
        with open(os.path.join(work, 'standin.c'), 'w') as handle:
            handle.write(STANDIN_C)
        built = _run([gcc, '-static', '-O2', '-o', os.path.join(work, 'standin'), os.path.join(work, 'standin.c')])
        if built.returncode != 0:
            pytest.skip('gcc -static failed (libc.a from libc6-dev missing?): ' + built.stderr[-500:])
        with open(os.path.join(work, 'standin'), 'rb') as handle:
            program = handle.read()
        archive = os.path.join(work, 'rootfs.tar')
        with tarfile.open(archive, 'w') as tar:
            for directory in ('bin', 'usr', 'usr/bin', 'etc', 'dev', 'proc', 'sys', 'tmp', 'models'):
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for path in PROGRAMS:
                info = tarfile.TarInfo(path)
                info.size, info.mode = len(program), 0o755
                tar.addfile(info, io.BytesIO(program))
        imported = _run([podman, 'import', '--change', 'LABEL onprem.standin.inputs=' + inputs, archive, IMAGE])
        assert imported.returncode == 0, imported.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return IMAGE


@pytest.fixture(scope='module')
def podman_cdi(podman):
    """The command prefix under which podman reads the stand-in CDI spec (and nothing is written to /etc)."""
    work = tempfile.mkdtemp(prefix='onprem-cdi-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
    try:
        if '--cdi-spec-dir' in _run([podman, '--help']).stdout:
            os.makedirs(os.path.join(work, 'cdi'))
            prefix = [podman, '--cdi-spec-dir', os.path.join(work, 'cdi')]
            spec_dir = os.path.join(work, 'cdi')
        else:
            if os.geteuid() != 0 or not shutil.which('unshare'):
                pytest.skip('podman %s has no --cdi-spec-dir, and without root no private mount namespace can show it a CDI '
                            'spec without writing /etc/cdi' % _run([podman, '--version']).stdout.split()[-1])
            spec_dir = os.path.join(work, 'upper', 'cdi')
            os.makedirs(spec_dir)
            os.makedirs(os.path.join(work, 'work'))
            prefix = ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
                      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/upper,workdir=$0/work" /etc && exec "$@"',
                      work, podman]
        with open(os.path.join(spec_dir, 'onprem-standin.json'), 'w') as handle:
            json.dump(CDI_SPEC, handle)
        probe = _run(prefix + ['--version'])
        if probe.returncode != 0:
            pytest.skip('no private /etc overlay for podman here: ' + probe.stderr[-300:])
        yield prefix
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(stdout):
    """The stand-in's report: {'argv': [...], 'env': [...], 'dev-nvidia0': 'yes', 'rlimit-memlock': '-1:-1', ...}."""
    out = {'argv': [], 'env': []}
    for line in stdout.splitlines():
        key, value = line.split('=', 1) if '=' in line else (line, '')
        if key in ('argv', 'env'):
            out[key].append(value)
        else:
            out[key] = value
    return out


def _podman_run(prefix, image, options, args):
    return _run(prefix + ['run', '--rm'] + options + [image] + args)


def _ulimits(options):
    return dict(options[i + 1].split('=', 1) for i, o in enumerate(options) if o == '--ulimit')


def _cannot_raise_rlimits(result):
    """True when runc failed only because this host may not raise the rlimits asked for (no CAP_SYS_RESOURCE)."""
    with open('/proc/self/status') as handle:
        caps = int(re.search(r'^CapEff:\s*([0-9a-f]+)$', handle.read(), re.M).group(1), 16)
    return result.returncode == 126 and 'error setting rlimit' in result.stderr and not caps & (1 << 24)


@pytest.fixture(scope='module')
def settable_rlimits(podman_cdi, standin_image):
    """The rlimits podman gives a container when no --ulimit is passed: known to be settable on this host."""
    result = _podman_run(podman_cdi, standin_image, [], ['/usr/bin/vllm'])
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    return dict((name, report['rlimit-' + name]) for name in ('memlock', 'nofile', 'nproc'))


def _check_report(report, node, options, exact):
    run, problems = node['run'], []
    entrypoint = run[run.index('--entrypoint') + 1]
    if os.path.basename(report['argv'][0]) != os.path.basename(entrypoint) or report['argv'][1:] != node['args']:
        problems.append('the container got argv %r, the role meant %r' % (report['argv'], [entrypoint] + node['args']))
    for index, option in enumerate(options):
        value = options[index + 1] if option in ('--env', '-e') else option[len('--env='):] if option.startswith('--env=') else None
        if value is not None and value not in report['env']:
            problems.append('--env %s did not reach the container' % value)
    if 'nvidia.com/gpu=all' in options and report.get('dev-nvidia0') != 'yes':
        problems.append('--device nvidia.com/gpu=all did not give the container /dev/nvidia0 (CDI spec not applied)')
    if report.get('models') != 'yes':
        problems.append('/models is not readable in the container')
    if exact:
        for name, value in _ulimits(options).items():
            if report.get('rlimit-' + name) != value:
                problems.append('--ulimit %s=%s: the container has %s' % (name, value, report.get('rlimit-' + name)))
    return problems


PODMAN_LAYOUTS = [layout_name(layout, 'podman') for layout in GPU_LAYOUTS]


def test_the_layouts_cover_every_container_engine():
    assert set(CONTAINER_ENGINES) == {'podman', 'docker'} and set(DOCKER_LAYOUTS) <= set(GPU_LAYOUTS)


@pytest.mark.parametrize('layout', PODMAN_LAYOUTS)
def test_podman_runs_the_rendered_options(layout, podman_cdi, standin_image, settable_rlimits):
    nodes = rendered_layouts()[layout]
    assert 'error' not in nodes, nodes.get('error')
    for host, node in sorted(nodes.items()):
        run = node['run']
        entrypoint = run[run.index('--entrypoint') + 1]
        assert any(p == entrypoint.lstrip('/') or p == 'usr/bin/' + entrypoint for p in PROGRAMS), \
            '%s: the role starts %s, which the stand-in image lacks: add it to PROGRAMS' % (host, entrypoint)
        assert '%s:/models:ro' % rendered_model_dir() in run
        result = _podman_run(podman_cdi, standin_image, run, node['args'])
        assert result.returncode != PODMAN_REFUSES, '%s: podman refuses the role\'s options %s:\n%s' % (host, run, result.stderr)
        options, exact = run, True
        if result.returncode != 0 and _cannot_raise_rlimits(result):
            # podman accepted the options (it reached the runtime); this host may not raise the
            # rlimits the role asks for. Run the rest with rlimits this host can set.
            options = [o for i, o in enumerate(run) if o != '--ulimit' and (i == 0 or run[i - 1] != '--ulimit')]
            for name, value in sorted(settable_rlimits.items()):
                options += ['--ulimit', '%s=%s' % (name, value)]
            result = _podman_run(podman_cdi, standin_image, options, node['args'])
            exact = False
            warnings.warn('%s: this host may not raise the rlimits of %s (no CAP_SYS_RESOURCE); podman accepted them and the '
                          'rest was run with --ulimit %s' % (host, _ulimits(run), settable_rlimits))
        assert result.returncode == 0, '%s: podman run %s exited %d:\n%s' % (host, ' '.join(options), result.returncode, result.stderr)
        problems = _check_report(_report(result.stdout), node, options, exact)
        assert not problems, '%s:\n%s' % (host, '\n'.join(problems))


def test_podman_refuses_shm_size_with_host_ipc(podman_cdi, standin_image):
    """The check bites: podman refuses --shm-size next to the role's --ipc host, as the role's comment says."""
    node = rendered_layouts()[layout_name('vllm-single', 'podman')]['vllm-single-podman-a']
    assert node['run'][node['run'].index('--ipc') + 1] == 'host'
    result = _podman_run(podman_cdi, standin_image, node['run'] + ['--shm-size', '1g'], node['args'])
    assert result.returncode == PODMAN_REFUSES, result
    assert re.search(r'cannot set shmsize when running in the \W*host\W* IPC Namespace', result.stderr), result.stderr


def test_podman_resolves_gpus_from_the_stand_in_cdi_spec_only(podman_cdi, standin_image):
    """The CDI spec podman reads is the stand-in's: a device it does not define is refused."""
    result = _podman_run(podman_cdi, standin_image, ['--device', 'nvidia.com/gpu=7'], ['/usr/bin/vllm'])
    assert result.returncode != 0 and 'unresolvable CDI devices nvidia.com/gpu=7' in result.stderr, result


# -- docker ---------------------------------------------------------------------------------------

# `docker run`'s options and whether each takes a value: the Options table of
# https://docs.docker.com/reference/cli/docker/container/run/, generated from docker/cli
# docs/reference/commandline/container_run.md (read at commit 0638fe265aae9c00c4a2fa26204cbb282f491209).
# Type `bool` options are switches; every other type (string, list, ulimit, gpu-request...) takes a value.
DOCKER_RUN_SWITCHES = frozenset("""
-d --detach --help --init -i --interactive --no-healthcheck --oom-kill-disable --privileged -P --publish-all
-q --quiet --read-only --rm --sig-proxy -t --tty --use-api-socket
""".split())
DOCKER_RUN_VALUED = frozenset("""
--add-host --annotation -a --attach --blkio-weight --blkio-weight-device --cap-add --cap-drop --cgroup-parent --cgroupns
--cidfile --cpu-count --cpu-percent --cpu-period --cpu-quota --cpu-rt-period --cpu-rt-runtime -c --cpu-shares --cpus
--cpuset-cpus --cpuset-mems --detach-keys --device --device-cgroup-rule --device-read-bps --device-read-iops
--device-write-bps --device-write-iops --dns --dns-option --dns-search --domainname --entrypoint -e --env --env-file
--expose --gpus --group-add --health-cmd --health-interval --health-retries --health-start-interval --health-start-period
--health-timeout -h --hostname --io-maxbandwidth --io-maxiops --ip --ip6 --ipc --isolation -l --label --label-file --link
--link-local-ip --log-driver --log-opt --mac-address -m --memory --memory-reservation --memory-swap --memory-swappiness
--mount --name --network --network-alias --oom-score-adj --pid --pids-limit --platform -p --publish --pull --restart
--runtime --security-opt --shm-size --stop-signal --stop-timeout --storage-opt --sysctl --tmpfs --ulimit -u --user
--userns --uts -v --volume --volume-driver --volumes-from -w --workdir
""".split())


def docker_option_problems(options):
    """Problems docker's flag parsing would have with `options` (all placed before the image)."""
    problems, index, seen = [], 0, {}
    while index < len(options):
        token = options[index]
        name, equals, inline = token.partition('=')
        if not token.startswith('-'):
            problems.append('%r is not an option: docker would take it for the image' % token)
            index += 1
            continue
        if name in DOCKER_RUN_SWITCHES:
            index += 1
            continue
        if name not in DOCKER_RUN_VALUED:
            problems.append('%s is not an option of docker run' % name)
            index += 1
            continue
        if equals:
            value, index = inline, index + 1
        elif index + 1 < len(options):
            value, index = options[index + 1], index + 2
        else:
            problems.append('%s needs a value' % name)
            break
        seen.setdefault(name, []).append(value)
    for entrypoint in seen.get('--entrypoint', []):
        # docker runs --entrypoint as one program name (podman also takes a JSON list).
        if entrypoint.startswith('[') or ' ' in entrypoint:
            problems.append('--entrypoint %r is not a single program' % entrypoint)
    if seen.get('--gpus') != ['all']:
        problems.append('docker hosts get the GPUs with --gpus all, the options have %r' % seen.get('--gpus'))
    for device in seen.get('--device', []):
        if re.match(r'^[\w.-]+/[\w.-]+=', device):
            problems.append('--device %s is a CDI name: docker needs >= 25 with CDI enabled in the daemon for it' % device)
    return problems


@pytest.mark.parametrize('layout', [layout_name(layout, 'docker') for layout in DOCKER_LAYOUTS])
def test_docker_accepts_the_rendered_options(layout):
    nodes = rendered_layouts()[layout]
    assert 'error' not in nodes, nodes.get('error')
    problems = []
    for host, node in sorted(nodes.items()):
        problems += ['%s: %s' % (host, p) for p in docker_option_problems(node['run'])]
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('options, problem', [
    (['--gpus', 'all', '--device', 'nvidia.com/gpu=all'], 'is a CDI name'),
    (['--gpus', 'all', '--entrypoint', '["python3", "-m"]'], 'is not a single program'),
    (['--device', '/dev/nvidia0'], 'docker hosts get the GPUs with --gpus all'),
    (['--gpus', 'all', '--cgroupns'], '--cgroupns needs a value'),
    (['--gpus', 'all', '--rm', 'true'], "'true' is not an option"),
    (['--gpus', 'all', '--cdi-spec-dir', '/tmp'], '--cdi-spec-dir is not an option of docker run'),
])
def test_the_docker_check_bites(options, problem):
    assert any(problem in p for p in docker_option_problems(options)), docker_option_problems(options)
