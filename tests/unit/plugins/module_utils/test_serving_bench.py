"""serving_bench against a local fake OpenAI server that streams server-sent events (HTTP and HTTPS with a private CA)."""

import datetime
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.onprem.deepseek.plugins.module_utils import serving_bench as sb

KEY = "test-key-0123456789abcdefghij"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tokens = 5
    delay = 0.01
    seen = []
    fail_every = 0
    usage = True

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != "Bearer " + KEY:
            self._plain(401, b'{"error": {"message": "unknown key"}}')
            return
        if type(self).fail_every and len(type(self).seen) % type(self).fail_every == 0:
            self._plain(429, b'{"error": {"message": "rate limited"}}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        # the opening chunk (vLLM: role and an empty content) is not a token; a token may have empty text
        self._event({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
        for i in range(type(self).tokens):
            time.sleep(type(self).delay)
            self._event({"choices": [{"delta": {"content": "" if i == 2 else "t%d " % i}}]})
        if type(self).usage:
            self._event({"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": type(self).tokens}})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload):
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _plain(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.seen, _Handler.tokens, _Handler.delay, _Handler.fail_every, _Handler.usage = [], 5, 0.01, 0, True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd, scheme="http"):
    return "%s://127.0.0.1:%d" % (scheme, httpd.server_address[1])


@pytest.mark.parametrize("values,q,expected", [
    ([1, 2, 3, 4], 50, 2.5),
    ([1, 2, 3, 4], 0, 1.0),
    ([1, 2, 3, 4], 100, 4.0),
    ([10], 99, 10.0),
    (list(range(1, 101)), 99, 99.01),
    ([3, 1, 2], 50, 2.0),
    ([], 50, None),
    ([None, 5], 50, 5.0),
])
def test_percentile(values, q, expected):
    result = sb.percentile(values, q)
    assert result == expected if expected is None else round(result, 6) == expected


def test_percentile_range():
    with pytest.raises(sb.BenchError, match="between 0 and 100"):
        sb.percentile([1], 101)


@pytest.mark.parametrize("line,expected", [
    (b'data: {"a": 1}\n', {"a": 1}),
    ("data:[DONE]", "DONE"),
    (": keep-alive", None),
    ("event: message", None),
    ("data: not json", None),
])
def test_parse_sse_data(line, expected):
    assert sb.parse_sse_data(line) == expected


@pytest.mark.parametrize("url,message", [
    ("ftp://x", "url must be http"),
    ("https://", "url must be http"),
])
def test_bad_url(url, message):
    with pytest.raises(sb.BenchError, match=message):
        sb.Target(url, KEY, "m")


@pytest.mark.parametrize("levels", [[], [0, 1], ["x"], None])
def test_bad_levels(levels):
    with pytest.raises(sb.BenchError, match="concurrency must be a list of whole numbers >= 1"):
        sb.check_levels(levels)


def test_gateway_endpoint_with_v1_reaches_the_chat_path():
    assert sb.Target("https://localhost:8443/v1", KEY, "m").path == "/v1/chat/completions"
    assert sb.Target("http://h", KEY, "m").path == "/v1/chat/completions"


def test_one_streamed_request(server):
    target = sb.Target(_url(server), KEY, "deepseek-tiny", max_tokens=7, timeout=5)
    result = sb.one_request(target)
    assert result["ok"] and result["status"] == 200 and result["error"] is None
    assert result["tokens"] == 5  # the usage chunk's completion_tokens
    assert len(result["gaps"]) == 4  # five content chunks, four gaps; the role chunk is not a token
    assert 0 < result["ttft"] <= result["latency"]
    sent = _Handler.seen[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer " + KEY
    assert sent["body"]["stream"] is True and sent["body"]["max_tokens"] == 7 and sent["body"]["model"] == "deepseek-tiny"


def test_without_usage_tokens_are_the_token_chunks(server):
    _Handler.usage, _Handler.tokens = False, 7
    result = sb.one_request(sb.Target(_url(server), KEY, "m", timeout=5))
    assert result["ok"] and result["tokens"] == 7 and len(result["gaps"]) == 6


def test_a_stream_interrupted_after_the_role_chunk_is_an_error(server):
    # llama-cpp-python's server (interrupt_requests) ends a running stream this way when another request arrives
    _Handler.tokens, _Handler.usage = 0, False
    result = sb.one_request(sb.Target(_url(server), KEY, "m", timeout=5))
    assert (result["ok"], result["status"], result["error"]) == (False, 200, "no content streamed")


@pytest.mark.parametrize("event,expected", [
    ({"choices": [{"delta": {"role": "assistant", "content": ""}}]}, False),
    ({"choices": [{"delta": {"role": "assistant"}}]}, False),
    ({"choices": [{"delta": {"content": ""}}]}, True),
    ({"choices": [{"delta": {"content": "x"}}]}, True),
    ({"choices": [{"delta": {"reasoning_content": "think"}}]}, True),
    ({"choices": [{"delta": {}, "finish_reason": "stop"}]}, False),
    ({"choices": [], "usage": {"completion_tokens": 3}}, False),
    ("DONE", False),
])
def test_is_token_chunk(event, expected):
    assert sb.is_token_chunk(event) is expected


def test_wrong_key_is_an_error_not_an_exception(server):
    result = sb.one_request(sb.Target(_url(server), "wrong-key-0123456789abcdef", "m", timeout=5))
    assert (result["ok"], result["status"], result["error"]) == (False, 401, "HTTP 401")


def test_nothing_listening_is_an_error(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    result = sb.one_request(sb.Target("http://127.0.0.1:%d" % port, KEY, "m", timeout=2))
    assert result["ok"] is False and "ConnectionRefusedError" in result["error"]


def test_slow_stream_times_out(server):
    _Handler.delay = 1.5
    result = sb.one_request(sb.Target(_url(server), KEY, "m", timeout=0.5))
    assert result["ok"] is False and result["error"] == "timeout after 0.5 s"


def test_levels_count_requests_errors_and_figures(server):
    _Handler.fail_every = 4  # every fourth request gets 429, as the gateway's rate limit answers
    target = sb.Target(_url(server), KEY, "m", timeout=5)
    levels = sb.run(target, [2, 1], requests=4, max_seconds=30)
    assert [lv["concurrency"] for lv in levels] == [1, 2]
    assert [lv["requests"] for lv in levels] == [4, 4]
    assert sum(lv["errors"] for lv in levels) == 2
    assert levels[0]["error_kinds"] == {"HTTP 429": 1}
    for lv in levels:
        assert lv["completed"] == lv["requests"] - lv["errors"]
        assert lv["output_tokens"] == 5 * lv["completed"]
        assert lv["output_tokens_per_s"] > 0
        assert lv["ttft_ms"]["p50"] <= lv["ttft_ms"]["p99"]
        assert 5 <= lv["itl_ms"]["p50"] < 1000
        assert lv["latency_s"]["p50"] <= lv["latency_s"]["p99"]


def test_a_level_stops_at_its_time_budget():
    # a fake clock and sender: each request "takes" 1 s; the budget is 3 s, so no request starts after the third
    now = [0.0]
    lock = threading.Lock()

    def clock():
        return now[0]

    def send(_target):
        with lock:
            now[0] += 1.0
        return {"ok": True, "status": 200, "error": None, "ttft": 0.1, "gaps": [0.01], "tokens": 2, "latency": 1.0}

    target = sb.Target("http://127.0.0.1:9", KEY, "m", timeout=1)
    results, wall = sb.run_level(target, 1, 100, 3.0, clock=clock, send=send)
    assert len(results) == 3 and wall == 3.0


def _private_ca(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.crt").write_bytes(cert.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(tmp_path / "ca.crt")


def test_https_with_the_gateway_ca(server, tmp_path):
    ca = _private_ca(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(tmp_path / "server.crt"), str(tmp_path / "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    trusted = sb.one_request(sb.Target(_url(server, "https"), KEY, "m", ca_path=ca, timeout=5))
    assert trusted["ok"], trusted
    # without the CA the system trust store refuses the private certificate
    untrusted = sb.one_request(sb.Target(_url(server, "https"), KEY, "m", timeout=5))
    assert untrusted["ok"] is False and untrusted["error"].startswith("TLS: ")
