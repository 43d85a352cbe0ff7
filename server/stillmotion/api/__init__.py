"""The daemon's HTTP API (aiohttp): `create_app(config)` and `serve(...)` live in api.server.

    server.py    the app: its middlewares, routes, job store, worker and watch folders
    state.py     typed app state (web.AppKey)
    errors.py    one JSON error shape, and which status each error gets
    middleware.py  JSON errors, the front door (Host, Origin, CORS) and auth, as middlewares
    security.py  the token file, Host / Origin checks, bearer auth
    forms.py     streaming multipart uploads into the data folder, with size limits
    targets.py   which paths a client may read from and write beside
    submit.py    a parsed form -> a queued job (the one function POST /v1/jobs calls)
    events.py    job change notifications and the Server-Sent Events stream
    routes.py    the handlers: parse, call one function, answer
    client.py    a small blocking client for scripts, tests and benchmarks
"""
