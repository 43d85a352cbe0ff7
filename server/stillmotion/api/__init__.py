"""The daemon's HTTP API (aiohttp): `create_app(config)` and `serve(...)` live in api.server.

    state.py     typed app state (web.AppKey)
    errors.py    one JSON error shape, and the middleware that produces it
    security.py  the front door: token file, Host / Origin checks, bearer auth
    forms.py     streaming multipart uploads into the data folder, with size limits
    targets.py   which paths a client may read from and write beside
    submit.py    a parsed form -> a queued job (the one function POST /v1/jobs calls)
    events.py    job change notifications and the Server-Sent Events stream
    routes.py    the handlers: parse, call one function, answer
"""
