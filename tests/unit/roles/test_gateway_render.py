"""The gateway's nginx configuration, rendered by ansible from the role's own templates, defaults and vars.

Three layers: the rendered text (security-relevant directives, nginx syntax aside); `nginx -t` and a
throwaway nginx on 127.0.0.1 in front of a stub engine (skipped where nginx is not installed), which
proves what the text cannot: phase order (limit_req before auth_request), case-sensitive keys
checked by njs against their SHA-256, roles (403), revoked and expired keys (401 saying why),
error pages and header inheritance; and the role's tasks run under ansible-playbook on localhost:
`tasks/assert.yml` on its own (one failure naming every problem, never a key) and `tasks/config.yml`
putting the previous files back when nginx refuses new ones. Everything is written below tmp_path.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from role_play import role_play
from tls_lab import certificate, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'gateway')
NGINX = shutil.which('nginx') or shutil.which('nginx', path='/usr/sbin:/sbin')
# Debian's njs module (libnginx-mod-http-js), beside the binary's tree (/usr/sbin/nginx -> /usr/lib/nginx/modules).
NJS = os.path.join(os.path.dirname(os.path.dirname(NGINX)), 'lib', 'nginx', 'modules', 'ngx_http_js_module.so') if NGINX else None
NJS = NJS if NJS and os.path.exists(NJS) else None
WITHOUT_NGINX = 'nginx and its njs module are not installed here (apt-get install nginx libnginx-mod-http-js to run these)'
needs_nginx = pytest.mark.skipif(NJS is None, reason=WITHOUT_NGINX)

KEYS = [
    {'name': 'alice', 'key': 'lab-alice-0123456789abcdef0123456789', 'state': 'present', 'role': 'admin', 'owner': 'Alice A.'},
    {'name': 'bob', 'key': 'lab-bob-0123456789abcdef0123456789ab', 'state': 'revoked'},
    {'name': 'batch', 'key': 'lab-batch-0123456789abcdef012345678', 'rate': 2, 'role': 'admin'},
    # Every RFC 6750 character, "." and "+" included.
    {'name': 'dotted', 'key': 'k.e+y/with=rfc6750~chars_0123456789', 'role': 'admin', 'expires': '2999-01-01'},
    # No role: a user (inference paths only).
    {'name': 'carol', 'key': 'lab-carol-0123456789abcdef0123456789'},
    {'name': 'audit', 'key': 'lab-audit-0123456789abcdef0123456789', 'role': 'auditor'},
    {'name': 'old', 'key': 'lab-old-0123456789abcdef0123456789ab', 'role': 'admin', 'expires': '2020-01-01'},
]
KEY = dict((k['name'], k['key']) for k in KEYS)
MODEL_ID = 'deepseek-secret-model-id'
TRACEBACK = 'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/llama_cpp/server/app.py", line 1\nValueError'

RENDER = role_play('localhost', ROLE) + """
    - name: Render
      ansible.builtin.template:
        src: "{role}/templates/{{{{ item.src }}}}"
        dest: "{{{{ out }}}}/{{{{ item.dest }}}}"
        mode: "0600"
      loop:
        - {{src: site.conf.j2, dest: conf.d/onprem-deepseek.conf}}
        - {{src: api-keys.json.j2, dest: api-keys.json}}
        - {{src: jwt.json.j2, dest: jwt.json}}
        - {{src: nginx-restart.conf.j2, dest: nginx-restart.conf}}
    - name: Show
      ansible.builtin.debug:
        msg: "{{{{ {{'endpoint': __gateway_endpoint}} | to_json }}}}"
""".format(role=ROLE)


def _ansible(tmp_path, playbook, extra_vars, name='play'):
    (tmp_path / ('%s.yml' % name)).write_text(playbook)
    (tmp_path / ('%s.json' % name)).write_text(json.dumps(dict(extra_vars, ansible_python_interpreter=sys.executable)))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    cmd = ['ansible-playbook', '-i', 'localhost,', str(tmp_path / ('%s.yml' % name)), '-e', '@%s' % (tmp_path / ('%s.json' % name))]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    result.output = result.stdout + result.stderr
    return result


def _render(out, extra_vars):
    """Render the role's templates into out/ (conf.d/onprem-deepseek.conf, api-keys.json, nginx-restart.conf)."""
    (out / 'conf.d').mkdir(parents=True, exist_ok=True)
    (out / 'logs').mkdir(exist_ok=True)
    variables = {'out': str(out), '__gateway_keys_file': str(out / 'api-keys.json'), '__gateway_tls_dir': str(out),
                 '__gateway_jwt_file': str(out / 'jwt.json'),
                 '__gateway_keys_js': os.path.join(ROLE, 'files', 'api-keys.js'),
                 'gateway_log_dir': str(out / 'logs'), 'gateway_api_keys': KEYS,
                 '__gateway_usage_snapshot': str(out / 'usage.json')}
    variables.update(extra_vars)
    (out / 'render.yml').write_text(RENDER)
    (out / 'render.json').write_text(json.dumps(dict(variables, ansible_python_interpreter=sys.executable)))
    cmd = ['ansible-playbook', '-i', 'localhost,', str(out / 'render.yml'), '-e', '@%s' % (out / 'render.json')]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='json')
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    tasks = json.loads(result.stdout)['plays'][0]['tasks']
    shown = json.loads([t for t in tasks if t['task']['name'] == 'Show'][0]['hosts']['localhost']['msg'])
    return {'site': (out / 'conf.d' / 'onprem-deepseek.conf').read_text(), 'keys': (out / 'api-keys.json').read_text(),
            'dropin': (out / 'nginx-restart.conf').read_text(), 'endpoint': shown['endpoint'],
            'keys_file': str(out / 'api-keys.json'), 'jwt': json.loads((out / 'jwt.json').read_text())}


def _block_end(text, pos):
    """Index just past the brace closing the block whose body starts at pos (comments and quoted strings skipped)."""
    depth = 1
    while depth:
        char = text[pos]
        if char == '#':
            pos = text.index('\n', pos)
        elif char in '\'"':
            pos = text.index(char, pos + 1)
        depth += {'{': 1, '}': -1}.get(char, 0)
        pos += 1
    return pos


def _blocks(text, opener):
    """{argument: body} of every `opener ARG { ... }` block."""
    found = {}
    for match in re.finditer(r'^\s*%s\s+([^{\s][^{]*?)\s*\{' % opener, text, re.M):
        found[match.group(1)] = text[match.end():_block_end(text, match.end()) - 1]
    return found


def _server(site):
    """The server block's own directives, its locations cut out."""
    start = re.search(r'^server \{', site, re.M).end()
    body = site[start:_block_end(site, start) - 1]
    for match in reversed(list(re.finditer(r'^\s*location\s[^{]*\{', body, re.M))):
        body = body[:match.start()] + body[_block_end(body, match.end()):]
    return body


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    return _render(tmp_path_factory.mktemp('render'), {'gateway_server_name': 'localhost', 'gateway_public_port': 8443})


# --- the rendered text ---------------------------------------------------------------------------

def test_key_file_holds_hashes_roles_and_expiry_never_a_key(rendered):
    text = rendered['keys']
    table = json.loads(text)
    assert table == dict((hashlib.sha256(k['key'].encode()).hexdigest(),
                          {'name': k['name'], 'role': k.get('role', 'user'), 'expires': k.get('expires'),
                           'revoked': k.get('state') == 'revoked', 'owner': k.get('owner')}) for k in KEYS)
    for entry in KEYS:
        assert entry['key'] not in text


def test_rate_maps_name_the_present_keys_of_each_rate(rendered):
    site = rendered['site']
    # One rate map per distinct rate, naming the keys of that rate (revoked ones left out).
    assert re.search(r'map \$deepseek_api_key_name \$deepseek_rate_2 \{\s*default "";\s*"batch" "batch";\s*\}', site)
    assert re.search(r'\$deepseek_rate_10 \{\s*default "";\s*"alice" "alice";\s*"dotted" "dotted";\s*"carol" "carol";', site)
    assert '"bob"' not in site


def test_each_api_path_names_the_roles_that_may_use_it(rendered):
    locations = _blocks(rendered['site'], 'location')
    roles = dict((path, re.search(r'set \$deepseek_roles " ([a-z ]*) ";', locations['= ' + path]).group(1).split())
                 for path in ['/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/usage'])
    assert roles == {'/v1/models': ['admin'], '/v1/chat/completions': ['user', 'admin'],
                     '/v1/completions': ['user', 'admin'], '/v1/embeddings': ['user', 'admin'], '/v1/usage': ['admin', 'auditor']}


def test_only_the_api_paths_reach_the_engine(rendered):
    site = rendered['site']
    locations = _blocks(site, 'location')
    assert sorted(loc for loc in locations if loc.startswith('= /v1/')) == [
        '= /v1/chat/completions', '= /v1/completions', '= /v1/embeddings', '= /v1/models', '= /v1/usage']
    assert locations['/'].split() == ['return', '404;']
    proxied = sorted(loc for loc, body in locations.items() if 'proxy_pass' in body)
    assert proxied == ['= /_deepseek_engine_health', '= /v1/chat/completions', '= /v1/completions', '= /v1/embeddings',
                       '= /v1/models']
    assert 'internal;' in locations['= /_deepseek_engine_health'] and 'internal;' in locations['= /_deepseek_auth']
    # The usage report is the gateway's own answer (njs, from the timer's snapshot), behind the same limits and check.
    usage = locations['= /v1/usage']
    assert 'js_content deepseek_keys.usageReport;' in usage and 'auth_request /_deepseek_auth;' in usage
    assert usage.index('limit_req zone=deepseek_unauthenticated') < usage.index('auth_request /_deepseek_auth;')


@pytest.mark.parametrize('path', ['/v1/models', '/v1/chat/completions', '/v1/completions', '/v1/embeddings'])
def test_api_locations_limit_first_then_check_the_key_and_hide_engine_failures(rendered, path):
    body = _blocks(rendered['site'], 'location')['= ' + path]
    assert 'limit_req zone=deepseek_unauthenticated burst=10 nodelay;' in body
    assert 'limit_req zone=deepseek_rate_10 burst=20 nodelay;' in body and 'limit_req zone=deepseek_rate_2 burst=20 nodelay;' in body
    # The key check is auth_request (access phase, after limit_req): `if ... return 401` would run first.
    assert 'auth_request /_deepseek_auth;' in body
    assert 'return' not in body and 'if (' not in body
    assert 'proxy_intercept_errors on;' in body
    pages = dict((code, target) for codes, target in re.findall(r'error_page ([\d ]+) = (@\S+);', body) for code in codes.split())
    for code in ['500', '501', '502', '503', '504', '505', '507', '511']:
        assert pages[code].startswith('@deepseek_error_5'), code
    for code in ['401', '413', '429']:
        assert pages[code] == '@deepseek_error_' + code
    # The engine's own validation errors and "model not found" pass through.
    assert '400' not in pages and '404' not in pages and '422' not in pages


def test_the_key_check_and_the_unauthenticated_limit(rendered):
    site = rendered['site']
    auth = _blocks(site, 'location')['= /_deepseek_auth']
    assert auth.split() == ['internal;', 'access_log', 'off;', 'js_content', 'deepseek_keys.authorize;']
    assert 'js_preload_object deepseek_api_keys from %s;' % rendered['keys_file'] in site
    assert re.search(r'map \$deepseek_api_key_name \$deepseek_unauthenticated \{\s*""\s+\$binary_remote_addr;\s*default "";\s*\}', site)
    assert 'limit_req_zone $deepseek_unauthenticated zone=deepseek_unauthenticated:10m rate=5r/s;' in site
    assert 'limit_req_zone $binary_remote_addr zone=deepseek_healthz:10m rate=5r/s;' in site
    for key in KEY.values():
        assert key not in site


def test_healthz_is_get_only_limited_and_never_shows_the_engine_body(rendered):
    locations = _blocks(rendered['site'], 'location')
    body = locations['= /healthz']
    assert re.search(r'if \(\$request_method !~ \^\(GET\|HEAD\)\$\) \{\s*return 405;\s*\}', body)
    assert 'limit_req zone=deepseek_healthz burst=10 nodelay;' in body
    assert 'auth_request /_deepseek_engine_health;' in body
    assert 'proxy_pass' not in body
    assert 'error_page 401 403 500 502 503 504 = @deepseek_error_503;' in body
    assert 'try_files /healthz @deepseek_healthy;' in body
    assert locations['@deepseek_healthy'].split() == ['access_log', 'off;', 'return', '200', "'{\"status\":", "\"ok\"}\\n';"]
    health = locations['= /_deepseek_engine_health']
    assert 'proxy_pass http://deepseek_engine/health;' in health and 'proxy_pass_request_body off;' in health


def test_errors_are_openai_json_with_hsts(rendered):
    locations = _blocks(rendered['site'], 'location')
    server = _server(rendered['site'])
    assert 'types { }' in server and 'default_type application/json;' in server
    hsts = 'add_header Strict-Transport-Security "max-age=31536000" always;'
    assert hsts in server
    for code in [400, 401, 403, 404, 405, 408, 413, 414, 429, 500, 502, 503, 504]:
        body = locations['@deepseek_error_%d' % code]
        status, payload = re.search(r"return (\d+) '(.*)\\n';", body).groups()
        assert int(status) == code
        error = json.loads(payload)['error']
        assert sorted(error) == ['code', 'message', 'type'] and all(error.values())
        assert hsts in body
    assert "add_header WWW-Authenticate 'Bearer realm=\"deepseek\"' always;" in locations['@deepseek_error_401']
    assert 'add_header Retry-After 1 always;' in locations['@deepseek_error_429']
    # add_header in a location drops the server's: every location that has one repeats HSTS.
    for name, body in locations.items():
        if 'add_header' in body:
            assert hsts in body, name


def test_streaming_paths_keep_the_long_timeout_the_others_get_the_short_one(rendered):
    locations = _blocks(rendered['site'], 'location')
    assert 'proxy_read_timeout 30s;' in _server(rendered['site'])
    for path in ['/v1/chat/completions', '/v1/completions']:
        assert 'proxy_read_timeout 600s;' in locations['= ' + path]
    for path in ['/v1/models', '/v1/embeddings']:
        assert 'proxy_read_timeout' not in locations['= ' + path]
    assert 'proxy_read_timeout 30s;' in locations['= /_deepseek_engine_health']


def test_tls13_streaming_and_logs_are_kept(rendered):
    server = _server(rendered['site'])
    assert 'ssl_protocols TLSv1.3;' in server
    assert 'proxy_buffering off;' in server and 'proxy_set_header Authorization "";' in server
    assert 'key=$deepseek_api_key_name' in rendered['site'] and '$http_authorization' not in rendered['site']


def test_systemd_restarts_nginx_and_the_endpoint_names_the_public_port(rendered):
    assert re.search(r'^\[Service\]\nRestart=always\nRestartSec=2$', rendered['dropin'], re.M)
    assert rendered['endpoint'] == 'https://localhost:8443/v1'


# --- real nginx -------------------------------------------------------------------------------------

def _main_conf(tree, listen_local=True):
    """A throwaway main configuration around the rendered site; the site listens on 127.0.0.1 only."""
    site = tree / 'conf.d' / 'onprem-deepseek.conf'
    text = site.read_text()
    if listen_local:
        text = re.sub(r'^\s*listen \[::\]:\d+ ssl http2;\n', '', text, flags=re.M)
        text = re.sub(r'^(\s*)listen (\d+) ssl http2;', r'\1listen 127.0.0.1:\2 ssl http2;', text, flags=re.M)
        site.write_text(text)
    (tree / 'tmp').mkdir(exist_ok=True)
    temp = ''.join('    %s_temp_path %s/tmp/%s;\n' % (kind, tree, kind) for kind in ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    (tree / 'nginx.conf').write_text(
        '%sworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/logs/main-error.log warn;\n'
        'events { worker_connections 64; }\nhttp {\n%s    include %s/conf.d/*.conf;\n}\n'
        # As root, the workers would run as nobody, who may not enter pytest's 0700 directories (the usage snapshot).
        % ('user root;\n' if os.geteuid() == 0 else '', tree, tree, temp, tree))
    # What Debian's modules-enabled/50-mod-http-js.conf does for the real nginx.conf.
    text = (tree / 'nginx.conf').read_text()
    (tree / 'nginx.conf').write_text('load_module %s;\n%s' % (NJS, text))
    return str(tree / 'nginx.conf')


def _nginx_test(tree, conf):
    return subprocess.run([NGINX, '-t', '-q', '-p', str(tree), '-e', str(tree / 'logs' / 'test.log'), '-c', conf],
                          capture_output=True, text=True, timeout=60, check=False)


@needs_nginx
def test_nginx_accepts_the_rendered_tree(tmp_path):
    _render(tmp_path, {})
    certificate(tmp_path)
    result = _nginx_test(tmp_path, _main_conf(tmp_path))
    assert result.returncode == 0, result.stderr


class _Engine(BaseHTTPRequestHandler):
    """Stub engine: a model list, a traceback 500, a 400, a slow answer, SSE; records every path it serves."""
    protocol_version = 'HTTP/1.1'
    hits = []
    down = False

    def _send(self, code, body, ctype='application/json'):
        data = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.hits.append((self.command, self.path, self.headers.get('Authorization')))
        if self.path == '/health':
            return self._send(503 if self.down else 200, '{"model": "%s"}' % MODEL_ID)
        if self.path == '/v1/models':
            return self._send(200, json.dumps({'object': 'list', 'data': [{'id': MODEL_ID}]}))
        return self._send(200, '<html>engine page %s</html>' % self.path, 'text/html')

    def do_POST(self):  # noqa: N802
        self.hits.append((self.command, self.path, self.headers.get('Authorization')))
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()
        if 'boom' in body:
            return self._send(500, TRACEBACK, 'text/plain')
        if 'bad' in body:
            return self._send(400, '{"error": {"message": "max_tokens must be positive", "type": "invalid_request_error"}}')
        if 'slow' in body:
            time.sleep(2.5)
        if 'usage' in body and '"stream": true' in body:
            # Server-sent events in chunked encoding, the usage in the last chunk (stream_options.include_usage).
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            events = ['data: {"choices": [{"index": 0, "delta": {"content": "tok%d"}}]}\n\n' % i for i in range(50)]
            events += ['data: {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 50, "total_tokens": 59}}\n\n',
                       'data: [DONE]\n\n']
            for event in events:
                data = event.encode()
                self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b'0\r\n\r\n')
            return None
        if 'usage' in body:
            return self._send(200, '{"choices": [{"message": {"content": "hi"}}], '
                                   '"usage": {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}}')
        return self._send(200, '{"choices": [{"message": {"content": "hi"}}]}')

    def log_message(self, *args):
        pass


JWT_ISSUER = 'https://idp.example.internal/realms/lab'
JWT_AUDIENCE = 'deepseek-gateway'


@pytest.fixture(scope='module')
def signer():
    """A 2048-bit RSA key of a stand-in identity provider, its JWKS, and a function that signs RS256 tokens."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()

    def b64u(data):
        return base64.urlsafe_b64encode(data).rstrip(b'=').decode()

    def sign(**claims):
        now = int(time.time())
        body = dict({'iss': JWT_ISSUER, 'aud': JWT_AUDIENCE, 'sub': 'dana', 'exp': now + 300, 'roles': ['user']}, **claims)
        signing_input = b64u(json.dumps({'alg': 'RS256', 'kid': 'lab-1'}).encode()) + '.' + b64u(json.dumps(body).encode())
        return signing_input + '.' + b64u(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))
    sign.jwks = {'keys': [{'kty': 'RSA', 'kid': 'lab-1', 'use': 'sig', 'alg': 'RS256',
                           'n': b64u(numbers.n.to_bytes(256, 'big')), 'e': b64u(numbers.e.to_bytes(3, 'big'))}]}
    return sign


@pytest.fixture(scope='module')
def gateway(tmp_path_factory, signer):
    """nginx on 127.0.0.1 with the rendered site (short timeout 1 s, small bursts, JWTs on) in front of the stub engine."""
    if NJS is None:
        pytest.skip(WITHOUT_NGINX)
    tree = tmp_path_factory.mktemp('live')
    engine = ThreadingHTTPServer(('127.0.0.1', 0), _Engine)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    port = free_port()
    rendered = _render(tree, {'gateway_port': port, 'gateway_server_name': 'localhost',
                              'gateway_upstream': 'http://127.0.0.1:%d' % engine.server_address[1],
                              'gateway_short_read_timeout': 1, 'gateway_rate_burst': 4, 'gateway_unauthenticated_burst': 10,
                              'gateway_jwt_enabled': True, 'gateway_jwt_issuer': JWT_ISSUER, 'gateway_jwt_audience': JWT_AUDIENCE,
                              'gateway_jwt_jwks': signer.jwks})
    certificate(tree)
    conf = _main_conf(tree)
    proc = subprocess.Popen([NGINX, '-p', str(tree), '-e', str(tree / 'logs' / 'start.log'), '-c', conf, '-g', 'daemon off;'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for dummy in range(50):
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(tree / 'server.crt'))

        def request(method, path, key=None, body=None, tls=None):
            ctx = context
            if tls is not None:
                ctx = ssl.create_default_context(cafile=str(tree / 'server.crt'))
                ctx.maximum_version = tls
            conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=30)
            headers = {'Authorization': 'Bearer ' + key} if key else {}
            if body is not None:
                headers['Content-Type'] = 'application/json'
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, dict((k.lower(), v) for k, v in response.getheaders()), response.read().decode()
            finally:
                conn.close()
        request.engine = engine
        request.access_log = tree / 'logs' / 'access.log'
        request.snapshot = tree / 'usage.json'
        request.hits = _Engine.hits
        request.endpoint = rendered['endpoint']
        request.port = port
        yield request
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        engine.shutdown()


def _is_gateway_error(headers, body, code):
    assert headers['content-type'] == 'application/json'
    assert headers['strict-transport-security'] == 'max-age=31536000'
    error = json.loads(body)['error']
    assert error['code'] == code and error['type'] and error['message']
    return True


def test_live_keys_match_exactly(gateway):
    assert gateway('GET', '/v1/models', KEY['alice'])[0] == 200
    assert gateway('GET', '/v1/models', KEY['dotted'])[0] == 200
    for wrong in [KEY['alice'].swapcase(), KEY['alice'].upper(), KEY['alice'] + 'x', 'x' + KEY['alice'], KEY['bob'],
                  KEY['dotted'].replace('.', 'X').replace('+', 'Y')]:
        status, headers, body = gateway('GET', '/v1/models', wrong)
        assert status == 401, wrong
        assert _is_gateway_error(headers, body, 'invalid_api_key')
        assert headers['www-authenticate'] == 'Bearer realm="deepseek"'
    assert all(auth is None for dummy, dummy2, auth in gateway.hits)  # the key never goes on to the engine


def test_live_roles_see_exactly_their_paths(gateway):
    before = len(gateway.hits)
    inference = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']
    for path in inference:
        assert gateway('POST', path, KEY['carol'], '{}')[0] == 200, path  # a key without a role is a user
        assert gateway('POST', path, KEY['alice'], '{}')[0] == 200, path
    assert gateway('GET', '/v1/models', KEY['alice'])[0] == 200
    served = len(gateway.hits)
    assert served == before + 2 * len(inference) + 1
    for key, path in [('carol', '/v1/models'), ('audit', '/v1/models')] + [('audit', path) for path in inference]:
        status, headers, body = gateway('POST' if path in inference else 'GET', path, KEY[key], '{}')
        assert status == 403, (key, path)
        assert _is_gateway_error(headers, body, 'forbidden')
    assert len(gateway.hits) == served  # a refused role never reaches the engine


@pytest.mark.parametrize('key, reason', [('old', 'key expired'), ('bob', 'key revoked'), ('unknown', 'unknown key'),
                                         (None, 'missing key')])
def test_live_refused_keys_get_401_saying_why(gateway, key, reason):
    status, headers, body = gateway('GET', '/v1/models', KEY.get(key, 'lab-unknown-0123456789abcdef012345') if key else None)
    assert status == 401 and _is_gateway_error(headers, body, 'invalid_api_key')
    assert json.loads(body)['error']['message'] == reason


def test_live_tokens_pass_by_role_and_refusals_say_why(gateway, signer):
    before = len(gateway.hits)
    assert gateway('POST', '/v1/chat/completions', signer(), '{}')[0] == 200
    assert gateway('GET', '/v1/models', signer(roles=['admin']))[0] == 200
    assert len(gateway.hits) == before + 2
    assert all(auth is None for dummy, dummy2, auth in gateway.hits)  # the token never goes on to the engine either
    status, headers, body = gateway('GET', '/v1/models', signer())
    assert status == 403 and _is_gateway_error(headers, body, 'forbidden')
    now = int(time.time())
    good = signer()
    tampered = good[:-6] + ('AAAAAA' if not good.endswith('AAAAAA') else 'BBBBBB')
    for token, reason in [(tampered, 'token signature invalid'), (signer(exp=now - 120), 'token expired'),
                          (signer(aud='other-app'), 'wrong token audience'), (signer(iss='https://evil.example'), 'wrong token issuer'),
                          (signer(roles=['staff']), 'token without a gateway role')]:
        time.sleep(0.25)  # tokens refused before their signature count against the per-address limit (5 r/s)
        status, headers, body = gateway('POST', '/v1/chat/completions', token, '{}')
        assert status == 401 and _is_gateway_error(headers, body, 'invalid_api_key'), reason
        assert json.loads(body)['error']['message'] == reason
    assert len(gateway.hits) == before + 2  # no refused token reached the engine


def test_live_tls12_is_refused(gateway):
    with pytest.raises(ssl.SSLError):
        gateway('GET', '/healthz', tls=ssl.TLSVersion.TLSv1_2)


def test_live_healthz_get_only_minimal_body(gateway):
    logged = gateway.access_log.read_text().count('\n') if gateway.access_log.exists() else 0
    status, headers, body = gateway('GET', '/healthz')
    assert (status, json.loads(body)) == (200, {'status': 'ok'})
    # A healthy answer is not logged (the front door checks every few seconds).
    time.sleep(0.2)
    assert (gateway.access_log.read_text().count('\n') if gateway.access_log.exists() else 0) == logged
    assert MODEL_ID not in body and headers['strict-transport-security']
    assert gateway('HEAD', '/healthz')[0] == 200
    for method in ['POST', 'PUT', 'DELETE']:
        status, headers, body = gateway(method, '/healthz', body='{}')
        assert status == 405 and _is_gateway_error(headers, body, 'method_not_allowed')
    _Engine.down = True
    try:
        status, headers, body = gateway('GET', '/healthz')
        assert status == 503 and _is_gateway_error(headers, body, 'engine_unavailable') and MODEL_ID not in body
    finally:
        _Engine.down = False


@pytest.mark.parametrize('path', ['/docs', '/openapi.json', '/extras/tokenize', '/health', '/metrics', '/', '/v1/models/x',
                                  '/v1/modelsx', '/_deepseek_auth', '/_deepseek_engine_health', '/index.html'])
def test_live_paths_not_forwarded_get_404_json(gateway, path):
    before = len(gateway.hits)
    status, headers, body = gateway('GET', path, KEY['alice'])
    assert status == 404 and _is_gateway_error(headers, body, 'not_found')
    assert len(gateway.hits) == before


def test_live_engine_errors_do_not_leak_and_its_400_passes(gateway):
    status, headers, body = gateway('POST', '/v1/chat/completions', KEY['alice'], '{"x": "boom"}')
    assert status == 500 and _is_gateway_error(headers, body, 'engine_error')
    assert 'Traceback' not in body and '.py' not in body and '/usr/' not in body
    status, headers, body = gateway('POST', '/v1/chat/completions', KEY['alice'], '{"x": "bad"}')
    assert status == 400 and 'max_tokens must be positive' in body


def test_live_short_timeout_for_embeddings_long_for_chat(gateway):
    status, headers, body = gateway('POST', '/v1/embeddings', KEY['alice'], '{"x": "slow"}')
    assert status == 504 and _is_gateway_error(headers, body, 'engine_timeout')
    assert gateway('POST', '/v1/chat/completions', KEY['alice'], '{"x": "slow"}')[0] == 200


def test_live_413_is_json(gateway):
    status, headers, body = gateway('POST', '/v1/chat/completions', KEY['alice'], 'a' * (9 * 1024 * 1024))
    assert status == 413 and _is_gateway_error(headers, body, 'request_too_large')


def test_live_usage_of_each_answer_is_logged_with_its_key(gateway):
    # The engine's usage object (a whole answer, and the last event of a stream) reaches the access log line of the
    # request, beside the key's name; an answer without one logs "-" (docs/access.md, "Usage").
    cases = [('{"messages": [], "usage": 1}', 'prompt_tokens=12 completion_tokens=16'),
             ('{"messages": [], "usage": 1, "stream": true}', 'prompt_tokens=9 completion_tokens=50'),
             ('{"messages": []}', 'prompt_tokens=- completion_tokens=-')]
    for body, logged in cases:
        before = gateway.access_log.read_text().count('\n')
        status, dummy, answer = gateway('POST', '/v1/chat/completions', KEY['carol'], body)
        assert status == 200, answer
        if '"stream": true' in body:
            assert answer.endswith('data: [DONE]\n\n') and answer.count('data: ') == 52  # the stream passed whole
        for dummy in range(50):  # nginx writes the line once the response is done
            lines = gateway.access_log.read_text().splitlines()
            if len(lines) > before:
                break
            time.sleep(0.1)
        assert lines[-1].endswith(logged + ' owner=""') and 'key=carol ' in lines[-1], lines[-1]


def _last_line(gateway, before):
    for dummy in range(50):  # nginx writes the line once the response is done
        lines = gateway.access_log.read_text().splitlines()
        if len(lines) > before:
            return lines[-1]
        time.sleep(0.1)
    raise AssertionError('no access log line after %d' % before)


def test_live_usage_report_over_https_for_auditors_and_admins(gateway):
    # The key's owner goes into the log line ("" without one); the timer's snapshot (the program, run here by hand)
    # is what GET /v1/usage answers, to the roles given the path (auditor, admin) and nobody else. Paced under the
    # keys' 10 requests/s (burst 4 here).
    def ask(*args):
        time.sleep(0.12)
        return gateway(*args)

    before = gateway.access_log.read_text().count('\n')
    assert ask('POST', '/v1/chat/completions', KEY['alice'], '{"messages": [], "usage": 1}')[0] == 200
    assert _last_line(gateway, before).endswith('prompt_tokens=12 completion_tokens=16 owner="Alice A."')
    before += 1
    assert ask('POST', '/v1/chat/completions', KEY['carol'], '{"messages": []}')[0] == 200
    assert _last_line(gateway, before).endswith('completion_tokens=- owner=""')
    status, headers, body = ask('GET', '/v1/usage', KEY['audit'])
    assert status == 503 and _is_gateway_error(headers, body, 'usage_unavailable')  # before the first snapshot
    program = os.path.join(ROLE, 'files', 'onprem-deepseek-usage')
    subprocess.run([sys.executable, program, '--log-dir', str(gateway.access_log.parent), '--snapshot', str(gateway.snapshot)],
                   check=True, timeout=60)
    for key in ('audit', 'alice'):
        status, headers, body = ask('GET', '/v1/usage', KEY[key])
        assert status == 200 and headers['content-type'] == 'application/json', body
        assert headers['strict-transport-security'] == 'max-age=31536000'
        report = json.loads(body)
        assert report['object'] == 'usage' and report['by'] == 'key' and report['generated'].endswith('Z')
        assert report['data'] == json.loads(gateway.snapshot.read_text())['keys']
    rows = json.loads(ask('GET', '/v1/usage?by=owner&owner=Alice%20A.', KEY['audit'])[2])['data']
    assert len(rows) == 1 and rows[0]['owner'] == 'Alice A.' and rows[0]['prompt_tokens'] >= 12 and 'key' not in rows[0]
    rows = json.loads(ask('GET', '/v1/usage?key=carol&since=2000-01-01', KEY['audit'])[2])['data']
    assert rows and all(row['key'] == 'carol' for row in rows)
    assert json.loads(ask('GET', '/v1/usage?until=2000-01-01', KEY['audit'])[2])['data'] == []
    for query, message in [('by=team', 'by is "team"; allowed: key, owner'), ('since=4.12.', 'since is "4.12."; allowed: a day')]:
        status, headers, body = ask('GET', '/v1/usage?' + query, KEY['audit'])
        assert status == 400 and _is_gateway_error(headers, body, 'bad_request') and message in json.loads(body)['error']['message'], body
    status, headers, body = ask('POST', '/v1/usage', KEY['audit'], '{}')
    assert status == 405 and _is_gateway_error(headers, body, 'method_not_allowed')
    hits = len(gateway.hits)
    status, headers, body = ask('GET', '/v1/usage', KEY['carol'])
    assert status == 403 and _is_gateway_error(headers, body, 'forbidden')
    status, headers, body = ask('GET', '/v1/usage')
    assert status == 401 and _is_gateway_error(headers, body, 'invalid_api_key')
    assert len(gateway.hits) == hits  # never forwarded to the engine


def test_live_key_rate_limit_answers_429_with_retry_after(gateway):
    statuses = []
    for dummy in range(20):
        status, headers, body = gateway('GET', '/v1/models', KEY['batch'])
        statuses.append(status)
        if status == 429:
            assert _is_gateway_error(headers, body, 'rate_limit_exceeded') and headers['retry-after'] == '1'
    assert 200 in statuses and 429 in statuses
    assert gateway('GET', '/v1/models', KEY['alice'])[0] == 200


def test_live_unauthenticated_requests_are_limited_per_address(gateway):
    statuses = [gateway('GET', '/v1/models', 'guess-%02d-0123456789abcdefghijkl' % n)[0] for n in range(40)]
    assert 401 in statuses and 429 in statuses
    assert set(statuses) == {401, 429}
    # A valid key is not in the unauthenticated bucket.
    assert gateway('GET', '/v1/models', KEY['alice'])[0] == 200
    health = [gateway('GET', '/healthz')[0] for dummy in range(40)]
    assert 200 in health and 429 in health


def test_live_engine_down_is_502_json(gateway):
    gateway.engine.shutdown()
    gateway.engine.server_close()
    status, headers, body = gateway('POST', '/v1/chat/completions', KEY['alice'], '{}')
    assert status == 502 and _is_gateway_error(headers, body, 'engine_unavailable')


# --- the role's tasks ---------------------------------------------------------------------------------

ASSERT = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Check
      ansible.builtin.include_role:
        name: onprem.deepseek.gateway
        tasks_from: assert.yml
"""


def test_assert_runs_on_its_own_and_changes_nothing(tmp_path):
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': KEYS})
    assert result.returncode == 0, result.output[-3000:]
    assert re.search(r'changed=0 ', result.output)


def test_assert_names_every_problem_once_without_showing_a_key(tmp_path):
    keys = KEYS + [{'name': 'alice-copy', 'key': KEY['alice'].swapcase()},
                   {'name': 'Batch', 'key': 'tooShortKey9', 'state': 'gone', 'rate': -2},
                   {'name': 'c d', 'key': 'has space 0123456789abcdefghijkl'}]
    result = _ansible(tmp_path, ASSERT, {
        'gateway_api_keys': keys, 'gateway_rate_limit': -5, 'gateway_port': 70000, 'gateway_public_port': 0,
        'gateway_rate_burst': -1, 'gateway_read_timeout': 0, 'gateway_short_read_timeout': 'x', 'gateway_certificate_days': 0,
        'gateway_log_retention_days': -1, 'gateway_max_body_size': '8x', 'gateway_unauthenticated_rate': 0,
        'gateway_api_paths': ['/v1/models', 'docs'], 'gateway_upstream': 'https://127.0.0.1:8000/v1'})
    assert result.returncode != 0
    problems = re.search(r'msg: \|-\n\s+gateway: (\d+) problem\(s\) on localhost:\n((?:\s+- .*\n)+)', result.output)
    assert problems, result.output[-3000:]
    listed = [line.strip()[2:] for line in problems.group(2).splitlines()]
    assert listed == [
        'gateway_api_keys: names ["c d"] are not allowed; allowed: letters, digits, _ . -',
        'gateway_api_keys: the names of batch and Batch are the same (compared ignoring case); each name must be unique',
        'gateway_api_keys: alice and alice-copy have the same key (compared ignoring case); each key must be unique',
        'gateway_api_keys: the keys of Batch, c d are not allowed; allowed: 24 or more characters of A-Z a-z 0-9 . _ ~ + / = -'
        ' (an RFC 6750 bearer token)',
        'gateway_api_keys: Batch has state gone; allowed: present, revoked',
        'gateway_api_keys: Batch has rate -2; allowed: a whole number of requests/s, 1 or more',
        'gateway_port is 70000; allowed: 1-65535',
        'gateway_public_port is 0; allowed: 1-65535',
        'gateway_rate_limit is -5; allowed: a whole number of requests/s, 1 or more',
        'gateway_rate_burst is -1; allowed: a whole number, 0 or more',
        'gateway_unauthenticated_rate is 0; allowed: a whole number of requests/s, 1 or more',
        'gateway_read_timeout is 0; allowed: a whole number of seconds, 1 or more',
        'gateway_short_read_timeout is "x"; allowed: a whole number of seconds, 1 or more',
        'gateway_certificate_days is 0; allowed: a whole number of days, 1 or more',
        'gateway_log_retention_days is -1; allowed: a whole number of days, 1 or more',
        'gateway_max_body_size is "8x"; allowed: a number with an optional k, m or g (8m)',
        'gateway_api_paths is ["/v1/models", "docs"]; allowed: a list of distinct paths of A-Z a-z 0-9 / _ . ~ -,'
        ' each starting with / and none of them /healthz or /_deepseek*',
        'gateway_upstream is "https://127.0.0.1:8000/v1"; allowed: http://host:port, without a path',
    ]
    assert int(problems.group(1)) == len(listed)
    assert result.output.count('problem(s) on localhost') <= 2  # one failure (ansible prints its message twice at most)
    for entry in keys:
        assert entry['key'] not in result.output
    assert 'has space' not in result.output


def test_assert_names_bad_roles_expiry_owners_and_role_paths(tmp_path):
    keys = KEYS + [{'name': 'eve', 'key': 'lab-eve-0123456789abcdef0123456789ab', 'role': 'root', 'expires': '2026-13-01'},
                   {'name': 'frank', 'key': 'lab-frank-0123456789abcdef012345678', 'expires': 20261231, 'owner': ' '},
                   # The owner goes into the access log between double quotes.
                   {'name': 'gina', 'key': 'lab-gina-0123456789abcdef0123456789', 'owner': 'Ops "night" team'}]
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': keys, 'gateway_usage_path': '/v1/models', 'gateway_usage_refresh_minutes': 0,
                                         'gateway_role_paths': {'user': ['/v1/completions'], 'auditor': ['/v1/chat/completions']}})
    assert result.returncode != 0
    problems = re.search(r'msg: \|-\n\s+gateway: (\d+) problem\(s\) on localhost:\n((?:\s+- .*\n)+)', result.output)
    assert problems, result.output[-3000:]
    assert [line.strip()[2:] for line in problems.group(2).splitlines()] == [
        'gateway_api_keys: eve has role "root"; allowed: user, admin, auditor (none given: user)',
        'gateway_api_keys: eve has expires 2026-13-01, frank has expires 20261231; allowed: an ISO date, YYYY-MM-DD'
        ' (the key stops working at 00:00 UTC that day)',
        'gateway_api_keys: the owners of frank, gina are not allowed; allowed: a text naming who answers for the key,'
        ' without double quotes, backslashes or control characters',
        'gateway_role_paths: auditor has ["/v1/chat/completions"]; an auditor never reaches the inference paths'
        ' (/v1/chat/completions, /v1/completions, /v1/embeddings)',
        'gateway_usage_path is "/v1/models"; allowed: a path of A-Z a-z 0-9 / _ . ~ - starting with /, none of gateway_api_paths,'
        ' /healthz or /_deepseek*; or empty (no usage report over HTTPS)',
        'gateway_usage_refresh_minutes is 0; allowed: a whole number of minutes, 1 or more',
    ]
    for entry in keys:
        assert entry['key'] not in result.output
    bad_map = _ansible(tmp_path, ASSERT, {'gateway_api_keys': KEYS, 'gateway_role_paths': {'boss': ['/v1/models']}})
    assert ('gateway_role_paths is {"boss": ["/v1/models"]}; allowed: a mapping of roles (user, admin, auditor) to lists of paths,'
            ' each starting with /') in bad_map.output


def test_assert_refuses_a_list_that_is_not_one(tmp_path):
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': 'alice'})
    assert result.returncode != 0
    assert 'gateway_api_keys is not a list of {name, key, state, rate} entries' in result.output


CONFIG = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Write the key map and the site
      ansible.builtin.include_role:
        name: onprem.deepseek.gateway
        tasks_from: config.yml
    # The role's handlers would reload the host's nginx through systemd: not here.
    - name: Stop before the handlers
      ansible.builtin.meta: end_play
"""


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_nginx
@pytest.mark.skipif(os.geteuid() != 0, reason='the role chowns the files to root: run as root (the dev container is)')
def test_config_refused_by_nginx_puts_the_previous_files_back(tmp_path):
    tree = tmp_path / 'tree'
    (tree / 'conf.d').mkdir(parents=True)
    certificate(tree)
    site, keymap = tree / 'conf.d' / 'onprem-deepseek.conf', tree / 'api-keys.json'
    # The map of clear keys an older version of the role wrote: removed once nginx accepts the new files.
    legacy = tree / 'api-keys.map'
    legacy.write_text('map $http_authorization $deepseek_api_key_name { "~^(?i:bearer) %s$" "alice"; }\n' % KEY['alice'])
    site.write_text('')  # an existing (empty) site: the first run replaces it and removes its backup
    conf = _main_conf(tree, listen_local=False)
    paths = {'__gateway_site': str(site), '__gateway_keys_file': str(keymap), '__gateway_tls_dir': str(tree),
             '__gateway_keys_js': str(tree / 'api-keys.js'), '__gateway_legacy_keys_map': str(legacy),
             '__gateway_jwt_file': str(tree / 'jwt.json'), '__gateway_audit_log': str(tree / 'audit.log'),
             '__gateway_nginx_conf': conf, 'gateway_log_dir': str(tree / 'logs'), 'gateway_port': free_port(),
             'gateway_api_keys': KEYS}
    good = _ansible(tmp_path, CONFIG, paths)
    assert good.returncode == 0, good.output[-3000:]
    assert not legacy.exists()
    # who changed the keys: one audit line, names only (a second run, which changes nothing, adds none)
    audit = [json.loads(line) for line in (tree / 'audit.log').read_text().splitlines()]
    assert [(a['action'], a['role']) for a in audit] == [('api keys changed', 'gateway'), ('jwt settings changed', 'gateway')]
    assert audit[0]['detail'] == {'present': ['batch', 'dotted', 'carol', 'audit', 'old', 'alice'], 'revoked': ['bob']}
    assert '@' in audit[0]['actor'] and not any(entry['key'] in (tree / 'audit.log').read_text() for entry in KEYS)
    before = (_sha(site), _sha(keymap))
    again = _ansible(tmp_path, CONFIG, paths)
    assert again.returncode == 0 and re.search(r'changed=0 ', again.output), again.output[-3000:]
    assert len((tree / 'audit.log').read_text().splitlines()) == 2

    # A new key and a rate nginx refuses: both files change, nginx -t fails, both go back.
    dave = {'name': 'dave', 'key': 'lab-dave-0123456789abcdef0123456789a'}
    bad = _ansible(tmp_path, CONFIG, dict(paths, gateway_rate_limit=-5, gateway_api_keys=KEYS + [dave]))
    assert bad.returncode != 0
    assert 'were not kept (nginx -t refused them' in bad.output
    assert 'invalid rate "rate=-5r/s"' in bad.output
    assert (_sha(site), _sha(keymap)) == before
    assert oct(keymap.stat().st_mode & 0o777) == '0o600'
    assert sorted(os.listdir(tree / 'conf.d')) == ['onprem-deepseek.conf']
    assert not [name for name in os.listdir(tree) if name.startswith('api-keys.json.')]  # no backup stays
    for entry in KEYS + [dave]:
        assert entry['key'] not in bad.output
    assert _nginx_test(tree, conf).returncode == 0


def test_a_key_given_by_its_sha256_alone_is_stored_as_it_is(tmp_path):
    # key_sha256: the appliance image's inventory carries only this (docs/appliance.md); the gateway stores the same
    # SHA-256 (hex, lower case) a clear key would have given it.
    hashed = {'name': 'appliance', 'key_sha256': hashlib.sha256(b'lab-appliance-0123456789abcdef0123').hexdigest().upper(),
              'role': 'admin'}
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': KEYS + [hashed]})
    assert result.returncode == 0, result.output[-3000:]
    table = json.loads(_render(tmp_path / 'out', {'gateway_api_keys': [hashed]})['keys'])
    assert table == {hashed['key_sha256'].lower(): {'name': 'appliance', 'role': 'admin', 'expires': None, 'revoked': False,
                                                    'owner': None}}


def test_assert_names_bad_key_sha256_entries(tmp_path):
    alice_sha = hashlib.sha256(KEY['alice'].encode()).hexdigest()
    keys = KEYS + [{'name': 'both', 'key': 'lab-both-0123456789abcdef0123456789', 'key_sha256': '0' * 64},
                   {'name': 'short', 'key_sha256': 'abc'},
                   {'name': 'alice-hash', 'key_sha256': alice_sha},
                   {'name': 'none'}]
    result = _ansible(tmp_path, ASSERT, {'gateway_api_keys': keys})
    assert result.returncode != 0
    problems = re.search(r'msg: \|-\n\s+gateway: (\d+) problem\(s\) on localhost:\n((?:\s+- .*\n)+)', result.output)
    assert problems, result.output[-3000:]
    assert [line.strip()[2:] for line in problems.group(2).splitlines()] == [
        'gateway_api_keys: entries none have no key; each needs key (or key_sha256, the SHA-256 of the key in hex)',
        'gateway_api_keys: both give both key and key_sha256; give one of them',
        'gateway_api_keys: the key_sha256 of short is not allowed; allowed: 64 hexadecimal digits (sha256sum of the key)',
        'gateway_api_keys: alice and alice-hash have the same key (its SHA-256); each key must be unique',
    ]
    assert KEY['alice'] not in result.output
