"""The canary's tally from gateway log lines (plugins/module_utils/canary.py). The upstream fields' format is nginx's:
servers of one request separated by ", ", groups of an internal redirect by " : ", statuses in the same positions
(https://nginx.org/en/docs/http/ngx_http_upstream_module.html#var_upstream_addr). The default threshold, 5 %, is the
error ratio issue 17 names from the deployment guides."""

from ansible_collections.onprem.deepseek.plugins.module_utils import canary

CANARY = '127.0.0.1:8001'


def _line(addr, status, final=200):
    return ('127.0.0.1 [2026-12-05T10:00:00+00:00] "POST /v1/chat/completions HTTP/2.0" %d 512 300 0.250 key=a upstream_time=0.240 '
            'upstream="%s" upstream_status="%s" role=user auth="ok" prompt_tokens=- completion_tokens=- owner=""' % (final, addr, status))


def test_tries_of_each_upstream_are_counted_apart():
    lines = [_line(CANARY, '200'), _line(CANARY, '500', 500), _line('127.0.0.1:8000', '200'), _line('127.0.0.1:8000', '503', 503),
             # nginx could not reach the canary (502) and went on to the serving engine, which answered.
             _line('127.0.0.1:8001, 127.0.0.1:8000', '502, 200'),
             # refused before any upstream (401, 429): no try at all
             _line('-', '-', 401),
             # an internal redirect between two groups
             _line('127.0.0.1:8000 : 127.0.0.1:8001', '200 : 504', 504)]
    found = canary.tally(lines, CANARY)
    assert found['canary'] == {'requests': 4, 'errors': 3, 'error_percent': 75.0}
    assert found['baseline'] == {'requests': 4, 'errors': 1, 'error_percent': 25.0}
    assert found['unparsed'] == 0


def test_lines_without_the_fields_are_counted_as_unparsed():
    old = '127.0.0.1 [2026-12-05T10:00:00+00:00] "GET /v1/models HTTP/2.0" 200 512 300 0.250 key=a upstream_time=0.240 role=admin'
    found = canary.tally([old, '', _line(CANARY, '200')], CANARY)
    assert found['unparsed'] == 2 and found['canary']['requests'] == 1


def test_the_verdict_waits_for_enough_requests_then_compares_with_the_threshold():
    def found(requests, errors):
        return {'canary': {'requests': requests, 'errors': errors, 'error_percent': round(100.0 * errors / requests, 2) if requests else 0.0},
                'baseline': {'requests': 0, 'errors': 0, 'error_percent': 0.0}}
    assert canary.verdict(found(19, 19)) == 'wait'
    assert canary.verdict(found(20, 1)) == 'promote'   # 5.00 %: at the threshold still promotes
    assert canary.verdict(found(20, 2)) == 'rollback'  # 10 %
    assert canary.verdict(found(100, 6), threshold_percent=10) == 'promote'
    assert canary.verdict(found(0, 0), min_requests=0) == 'promote'
    assert canary.summary(found(20, 2)) == ('canary: 2 error(s) in 20 request(s), 10.00 % (threshold 5.00 %); serving version: 0 error(s) '
                                            'in 0 request(s), 0.00 %')
