"""Entrypoint of the lab's flaky image (molecule/inference/prepare.yml): the lab's llama.cpp server, except that every
third POST is answered 500. A version that passes its health check (GET /v1/models) yet fails a share of the
requests: tests/test_canary.py rolls it out as a canary, which must be rolled back on its error ratio."""

import runpy
import threading

import llama_cpp.server.app as app_module
from starlette.responses import JSONResponse

_create_app = app_module.create_app


def create_app(*args, **kwargs):
    app = _create_app(*args, **kwargs)
    lock, count = threading.Lock(), [0]

    @app.middleware("http")
    async def every_third_post_fails(request, call_next):
        if request.method == "POST":
            with lock:
                count[0] += 1
                fail = count[0] % 3 == 0
            if fail:
                return JSONResponse({"error": {"message": "flaky canary (lab)", "type": "server_error"}}, status_code=500)
        return await call_next(request)

    return app


# llama_cpp.server's __main__ imports create_app from this module when it runs: it gets the wrapper.
app_module.create_app = create_app
runpy.run_path("/opt/llama/onprem_llama_server.py", run_name="__main__")
