# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A serving load test through the gateway: streamed OpenAI chat completions at a few concurrency levels.

Standard library only (http.client, ssl, threading), so that it runs wherever Ansible runs a module: the
established tools (guidellm, aiperf, `vllm bench serve`) bring torch/transformers-sized dependencies that neither
a freshly installed inference host nor the 60-minute CI toolchain should carry. The figures follow their
definitions: TTFT (request sent -> first content chunk), inter-token latency (gaps between content chunks),
output tokens/s (completion tokens of the level / its wall time), request latency p50/p99, errors.

Every loop is bounded: a level stops after its request count or its time budget, whichever comes first, and
each request has a socket timeout.
"""

from __future__ import absolute_import, division, print_function

import json
import math
import socket
import ssl
import threading
import time

from http.client import HTTPConnection, HTTPSConnection, HTTPException
from urllib.parse import urlsplit

CHAT_PATH = "/v1/chat/completions"
DEFAULT_PROMPT = ("Explain in a few sentences how a load balancer spreads requests over several servers, "
                  "and why a queue forms when requests arrive faster than they are served.")


class BenchError(ValueError):
    """An argument the load test cannot run with; the message names it."""


def percentile(values, q):
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's default); None if empty."""
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise BenchError("percentile must be between 0 and 100, got %r" % (q,))
    rank = (len(data) - 1) * q / 100.0
    low = int(math.floor(rank))
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def check_url(url):
    """(scheme, host, port, base path) of an http(s) URL; anything else is a BenchError."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BenchError("url must be http(s)://host[:port][/path], got %r" % (url,))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


def check_levels(levels):
    """Sorted distinct concurrency levels, each a whole number >= 1."""
    try:
        result = sorted(set(int(level) for level in levels))
    except (TypeError, ValueError):
        raise BenchError("concurrency must be a list of whole numbers >= 1, got %r" % (levels,))
    if not result or result[0] < 1:
        raise BenchError("concurrency must be a list of whole numbers >= 1, got %r" % (levels,))
    return result


def parse_sse_data(line):
    """The JSON of one server-sent event line `data: {...}`; 'DONE' for `data: [DONE]`; None for other lines."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return "DONE"
    try:
        return json.loads(payload)
    except ValueError:
        return None


def is_token_chunk(event):
    """Whether a chat completion chunk carries one generated token: its first choice's delta has a content (or
    reasoning_content) string and no role. The opening chunk (role, and for vLLM an empty content) is not a token;
    a token whose text is empty (a byte of a multi-byte character, or a random-weight model's piece) is one."""
    if not isinstance(event, dict):
        return False
    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return False
    delta = choices[0].get("delta") or {}
    if "role" in delta:
        return False
    return isinstance(delta.get("content"), str) or isinstance(delta.get("reasoning_content"), str)


class Target(object):
    """Where requests go and how: URL, TLS trust, key, model and request shape."""

    def __init__(self, url, api_key, model, ca_path=None, validate_certs=True, max_tokens=64, prompt=None, timeout=120.0):
        self.scheme, self.host, self.port, base = check_url(url)
        # a base ending in /v1 (gateway_endpoint) or the bare origin both reach the chat path
        self.path = (base[:-3] if base.endswith("/v1") else base) + CHAT_PATH
        self.api_key = api_key
        self.model = model
        self.timeout = float(timeout)
        self.body = json.dumps({
            "model": model, "stream": True, "max_tokens": int(max_tokens), "temperature": 0,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": prompt or DEFAULT_PROMPT}],
        }).encode("utf-8")
        self.context = None
        if self.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_path or None)
            self.context.minimum_version = ssl.TLSVersion.TLSv1_2
            if not validate_certs:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE

    def connection(self):
        if self.scheme == "https":
            return HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        return HTTPConnection(self.host, self.port, timeout=self.timeout)


def one_request(target, clock=time.monotonic):
    """Send one streamed chat completion; return its measurements (never raises for network or HTTP errors)."""
    result = {"ok": False, "status": None, "error": None, "ttft": None, "gaps": [], "tokens": 0, "latency": None}
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
               "Authorization": "Bearer %s" % target.api_key}
    start = clock()
    conn = target.connection()
    try:
        conn.request("POST", target.path, body=target.body, headers=headers)
        response = conn.getresponse()
        result["status"] = response.status
        if response.status != 200:
            result["error"] = "HTTP %d" % response.status
            response.read()
            return result
        last = None
        chunks = 0
        usage_tokens = None
        while True:
            line = response.readline()
            if not line:
                break
            event = parse_sse_data(line)
            if event == "DONE":
                break
            if event is None:
                continue
            if isinstance(event.get("usage"), dict) and event["usage"].get("completion_tokens") is not None:
                usage_tokens = int(event["usage"]["completion_tokens"])
            if isinstance(event.get("error"), dict):
                result["error"] = "stream error: %s" % str(event["error"].get("message", ""))[:120]
                return result
            if is_token_chunk(event):
                now = clock()
                chunks += 1
                if last is None:
                    result["ttft"] = now - start
                else:
                    result["gaps"].append(now - last)
                last = now
        result["latency"] = clock() - start
        result["tokens"] = usage_tokens if usage_tokens is not None else chunks
        if chunks == 0:
            result["error"] = "no content streamed"
        else:
            result["ok"] = True
        return result
    except ssl.SSLError as exc:
        result["error"] = "TLS: %s" % (getattr(exc, "reason", None) or exc)
        return result
    except socket.timeout:
        result["error"] = "timeout after %g s" % target.timeout
        return result
    except (OSError, HTTPException, ValueError) as exc:
        result["error"] = "%s: %s" % (type(exc).__name__, exc)
        return result
    finally:
        conn.close()


def run_level(target, concurrency, requests, max_seconds, clock=time.monotonic, send=one_request):
    """`concurrency` workers send `requests` requests in all; none starts after `max_seconds`. Returns (results, wall)."""
    lock = threading.Lock()
    state = {"next": 0}
    results = []
    start = clock()

    def worker():
        while True:
            with lock:
                if state["next"] >= requests or clock() - start >= max_seconds:
                    return
                state["next"] += 1
            outcome = send(target)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, name="bench-%d" % index) for index in range(concurrency)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        # a request cannot outlive its socket timeout by much; the join bound keeps a stuck read from hanging the run
        thread.join(max_seconds + target.timeout * 2 + 5)
    return list(results), clock() - start


def _ms(value):
    return None if value is None else round(value * 1000.0, 1)


def _s(value):
    return None if value is None else round(value, 3)


def summarise(concurrency, results, wall):
    """The figures of one level from its requests' measurements."""
    good = [r for r in results if r["ok"]]
    errors = {}
    for r in results:
        if not r["ok"]:
            key = r["error"] or "error"
            errors[key] = errors.get(key, 0) + 1
    ttfts = [r["ttft"] for r in good]
    gaps = [gap for r in good for gap in r["gaps"]]
    latencies = [r["latency"] for r in good]
    tokens = sum(r["tokens"] for r in good)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "completed": len(good),
        "errors": len(results) - len(good),
        "error_kinds": errors,
        "wall_s": _s(wall),
        "output_tokens": tokens,
        "output_tokens_per_s": round(tokens / wall, 2) if wall > 0 else None,
        "requests_per_s": round(len(good) / wall, 3) if wall > 0 else None,
        "ttft_ms": {"p50": _ms(percentile(ttfts, 50)), "p99": _ms(percentile(ttfts, 99))},
        "itl_ms": {"p50": _ms(percentile(gaps, 50)), "p99": _ms(percentile(gaps, 99))},
        "latency_s": {"p50": _s(percentile(latencies, 50)), "p99": _s(percentile(latencies, 99))},
    }


def run(target, levels, requests, max_seconds, clock=time.monotonic, send=one_request):
    """Every level in turn (lowest first); per level at least 2 x concurrency requests, so each worker sends two."""
    levels = check_levels(levels)
    if int(requests) < 1 or float(max_seconds) <= 0:
        raise BenchError("requests must be >= 1 and max_seconds > 0, got %r and %r" % (requests, max_seconds))
    figures = []
    for level in levels:
        results, wall = run_level(target, level, max(int(requests), 2 * level), float(max_seconds), clock=clock, send=send)
        figures.append(summarise(level, results, wall))
    return figures
