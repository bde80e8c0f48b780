"""The floor: the least an HTTP JSON service can do on this stack (uvicorn, httptools, uvloop).

It reads the body, parses the JSON and answers a small JSON, nothing more: no routing,
validation, metrics or model. bench_serve.py runs it to measure what one request costs
before any framework or prediction, so the service is judged against its own stack.

    python -m uvicorn --app-dir bench bare_asgi:app --no-access-log
"""

import json


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan and websockets: nothing to set up
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = json.loads(body) if body else {}
    answer = json.dumps({"prediction": "floor", "fields": len(payload)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})
