#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, onprem.deepseek contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Measure what the gateway and the front door add: latency and requests/s through nginx (TLS 1.3 + key), and through
HAProxy in front of the gateways, vs the engine directly, in one run.

Run it ON the serving host (same host, loopback, so the network is not measured), with the standard library only:

    python3 bench_gateway.py --key ADMIN_KEY [--requests 200] [--concurrency 4] [--ca /etc/onprem-deepseek/gateway-ca.crt]
    podman exec -i onprem-lab-1 python3 - --key "$(cat .lab/bench-api-key)" < tests/benchmarks/bench_gateway.py  # the lab

The key must have role admin: /v1/models, which every phase calls, answers 403 to user and auditor keys
(docs/access.md). Give it a rate limit above what the run sends (its `rate` in gateway_api_keys; the lab's
lab-bench key, .lab/bench-api-key, has 1000/s): with the default 10/s the run measures the limiter. Answers 429 are
counted apart from errors, and when there are any the ratio is not printed as the gateway's.

Each phase is a bounded loop (--requests requests, --concurrency at once) of GET /v1/models (no token generation,
so the engine's own cost stays small and the gateway's share is visible) and, with --completions, of 1-token chat
completions. With --frontdoor URL (the front door's service address, e.g. https://10.88.200.100:8443 in the lab)
the same loops also go through the front door, which passes TLS through to one of the service's gateways: its CA
(--frontdoor-ca, several PEMs in one file where the gateways' CAs differ) must verify every gateway of the service,
and --no-frontdoor-check-hostname skips the name check where the gateways' certificates do not name the front
door's address (the lab). The front door balances over all gateways of the service: with several, its phase
measures them together, each with its own engine. With --site INVENTORY it first times `ansible-playbook
onprem.deepseek.site` from the controller
until the endpoint answers (run that variant on the controller, with --gateway pointing at the lab host).
A report, not a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def _request(url, key=None, body=None, context=None, timeout=60):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout, context=context) as response:  # noqa: S310 (loopback URLs given by the operator)
        response.read()
        status = response.status
    return status, time.perf_counter() - start


def _phase(name, url, count, concurrency, key=None, body=None, context=None):
    """Run `count` requests with `concurrency` workers; return a dict of latency percentiles and rate."""
    latencies, errors, limited = [], [], [0]
    lock = threading.Lock()
    remaining = [count]

    def worker():
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            try:
                status, seconds = _request(url, key, body, context)
                with lock:
                    (latencies if status == 200 else errors).append(seconds if status == 200 else status)
            except urllib.error.HTTPError as exc:
                with lock:
                    if exc.code == 429:
                        limited[0] += 1
                    else:
                        errors.append(exc.code)
            except (urllib.error.URLError, OSError) as exc:
                with lock:
                    errors.append(str(exc))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for dummy in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if not latencies:
        raise SystemExit("%s: every request failed (%s)" % (name, errors[:3]))
    latencies.sort()
    return {
        "phase": name, "ok": len(latencies), "errors": len(errors), "rate_limited": limited[0], "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
    }


def _site_time(inventory, url, context, key, timeout):
    start = time.perf_counter()
    run = subprocess.run(["ansible-playbook", "onprem.deepseek.site", "-i", inventory], check=False)
    if run.returncode != 0:
        raise SystemExit("site.yml failed (rc %d)" % run.returncode)
    while time.perf_counter() - start < timeout:
        try:
            if _request(url + "/v1/models", key, context=context)[0] == 200:
                return round(time.perf_counter() - start, 1)
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise SystemExit("the endpoint did not answer within %d s after site.yml" % timeout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="http://127.0.0.1:8000", help="the engine, directly")
    parser.add_argument("--gateway", default="https://localhost:443", help="the gateway")
    parser.add_argument("--key", required=True, help="an admin API key of the gateway (/v1/models is for admin keys)")
    parser.add_argument("--ca", default="/etc/onprem-deepseek/gateway-ca.crt", help="CA of the gateway's certificate")
    parser.add_argument("--model", default="deepseek")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--completions", action="store_true", help="also time 1-token chat completions")
    parser.add_argument("--frontdoor", help="the front door's URL for the service (also measure through it)")
    parser.add_argument("--frontdoor-ca", help="CA(s) of the gateways behind the front door (default: --ca)")
    parser.add_argument("--frontdoor-check-hostname", action=argparse.BooleanOptionalAction, default=True,
                        help="check the gateways' certificate names against the front door's address")
    parser.add_argument("--site", metavar="INVENTORY", help="first time site.yml on INVENTORY until the gateway answers")
    parser.add_argument("--site-timeout", type=int, default=1800)
    args = parser.parse_args()
    args.requests = max(1, min(args.requests, 100000))
    args.concurrency = max(1, min(args.concurrency, 64))
    context = ssl.create_default_context(cafile=args.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    results = {}
    if args.site:
        results["site_seconds_to_serving"] = _site_time(args.site, args.gateway, context, args.key, args.site_timeout)
        print(json.dumps(results))
        return
    targets = [("engine", args.engine, None, None), ("gateway", args.gateway, args.key, context)]
    if args.frontdoor:
        frontdoor_context = ssl.create_default_context(cafile=args.frontdoor_ca or args.ca)
        frontdoor_context.minimum_version = ssl.TLSVersion.TLSv1_3
        frontdoor_context.check_hostname = args.frontdoor_check_hostname
        targets.append(("frontdoor", args.frontdoor, args.key, frontdoor_context))
    phases = [_phase("%s /v1/models" % name, url + "/v1/models", args.requests, args.concurrency, key, context=ctx)
              for name, url, key, ctx in targets]
    if args.completions:
        body = {"model": args.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        count = max(1, args.requests // 10)
        phases += [_phase("%s chat(1 token)" % name, url + "/v1/chat/completions", count, args.concurrency, key, body, ctx)
                   for name, url, key, ctx in targets]
    for phase in phases:
        print("%-24s ok %5d  errors %3d  429 %4d  %8.1f req/s  p50 %8.2f ms  p95 %8.2f ms" % (
            phase["phase"], phase["ok"], phase["errors"], phase["rate_limited"], phase["rps"], phase["p50_ms"], phase["p95_ms"]))
    by_name = dict((phase["phase"], phase) for phase in phases)
    engine = by_name["engine /v1/models"]
    limited = any(phase["rate_limited"] for phase in phases)
    if limited:
        print("the key's rate limit answered 429: this run measured the limiter, not the gateway; give the key a higher"
              " rate (gateway_api_keys[].rate) and run again")
    for name, dummy, dummy, dummy in targets[1:]:
        phase = by_name["%s /v1/models" % name]
        added = round(phase["p50_ms"] - engine["p50_ms"], 2)
        ratio = None if limited else round(phase["rps"] / engine["rps"], 3)
        if ratio is not None:
            print("%s adds %.2f ms at p50 and serves %.0f %% of the engine's requests/s (/v1/models)" % (name, added, 100.0 * ratio))
        results.update({"%s_added_p50_ms" % name: added, "%s_rps_ratio" % name: ratio})
    results["phases"] = phases
    json.dump(results, sys.stderr)
    sys.stderr.write("\n")


if __name__ == "__main__":
    main()
