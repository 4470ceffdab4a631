"""hero's defaults, per config namespace: what an app's ``config.py`` overrides.

Every key an app may set is here, with its default; a value of another type fails the boot
(:mod:`hero.config`). ``docs/limits.md`` lists the limits among them and what a client gets at each.
"""
from __future__ import annotations

from typing import Any

ENVIRONMENTS = ("development", "test", "production")

#: hero's own defaults. Every limit is here, with a safe value.
DEFAULTS: dict[str, dict[str, Any]] = {
    "general": {
        "server_name": "hero",
        "api_version": "1.0.0",
        "description": "a hero API server",
        #: This process's id in the cluster (None: host name and pid).
        "id": None,
        #: The secret every cluster message is signed with (HMAC-SHA256); unsigned, forged, stale or
        #: replayed messages are dropped. Also ``HERO_CLUSTER_SECRET``. None: production on a shared
        #: Redis refuses to boot; development and test use a built-in development secret.
        "cluster_secret": None,
        #: Seconds a cluster message stays acceptable after it was sent (the replay window).
        "cluster_message_window": 30.0,
        "welcome_message": "Welcome to the hero api",
        "simultaneous_actions": 5,
        #: Seconds an action may run before it is killed with a 504 (per-action `timeout` wins).
        "action_timeout": 30.0,
        "disable_param_scrubbing": False,
        "missing_param_checks": [None, ""],
        #: Params shown as [FILTERED] in log lines (exact names; dotted paths reach nested inputs).
        "filtered_params": ["password", "passwd", "token", "access_token", "refresh_token", "secret",
                            "client_secret", "authorization", "api_key", "apiKey", "cookie", "session"],
        #: Answer an unexpected exception with its text (None: everywhere but production, which answers
        #: "internal error" and an errorId that the log line carries too).
        "expose_errors": None,
        #: Seconds in-flight actions get to finish on SIGTERM/SIGINT.
        "shutdown_timeout": 30.0,
        "starting_chat_rooms": {},
        #: Seed 000: every action accepts ``limit`` and ``offset`` (whole numbers >= 0), defaulting to
        #: ``pagination_limit`` and 0 when the request has none. Off: they are ordinary params.
        "pagination_defaults": False,
        "pagination_limit": 100,
        "channel": "hero",
        #: Seconds a waited cluster RPC may take.
        "rpc_timeout": 5.0,
        #: Seconds between cluster heartbeats; a process silent for 3 of them leaves ``cluster.peers()``.
        "peer_heartbeat_interval": 5.0,
        #: Chat rooms one connection may be in at once (docs/limits.md).
        "max_rooms_per_connection": 100,
        #: Sticky params (``paramAdd``) one connection may hold (docs/limits.md).
        "max_sticky_params": 100,
        #: Request limit shared by the cluster (docs/limits.md, Request rate): None is off; else
        #: ``{"requests": n, "per_seconds": s, "by": "ip" | "fingerprint" | a function of the connection}``.
        "rate_limit": None,
        #: JSON nested deeper than this is refused on every transport (HTTP 400), before parsing
        #: (orjson's own cap, 1024, bounds it in any case).
        "max_json_depth": 64,
        "cache_prefix": "cache:",
        "lock_prefix": "lock:",
        "lock_duration_ms": 10_000,
        #: Seconds a streaming answer may be quiet before hero sends a keep-alive (an SSE comment over
        #: HTTP) and checks the client is still there (docs/actions.md, Streaming).
        "stream_keepalive_interval": 15.0,
        #: Show tracebacks in boot errors and action logs.
        "debug": False,
        #: Log a warning with the stack when a greenlet holds the hub longer than this (seconds; 0: off).
        "max_blocking_time": 0.5,
        #: Young-generation threshold of Python's garbage collector once a server has booted (0: Python's
        #: 700). Boot's objects are frozen out of collections too (hero/runtime/collector.py says why).
        "gc_young_threshold": 10_000,
        "paths": {
            "actions": "actions",
            "tasks": "tasks",
            "initializers": "initializers",
            "public": "public",
            "servers": "servers",
            "locales": "locales",
            "models": "models",
        },
    },
    "mcp": {
        #: Serve the Model Context Protocol endpoint on the web port (docs/mcp.md); with no action
        #: opted in (``mcp = True``) it lists no tools.
        "enabled": True,
        "path": "/mcp",
        #: MCP sessions held at once; past it the least recently used one is forgotten.
        "max_sessions": 10_000,
        #: Seconds an MCP session may go unused before it is forgotten.
        "session_timeout": 3600.0,
    },
    "logger": {
        "level": "info",
        #: "text" or "json" (one JSON object per line, with an action's fields; docs/deployment.md, Logs).
        "format": "text",
        #: Strings in logged params are cut to this many characters.
        "max_log_string_length": 200,
        #: A ``logging.config.dictConfig`` applied after hero's own handler (files, rotation, syslog).
        "config": {},
    },
    "metrics": {
        #: Prometheus metrics at ``path`` (docs/deployment.md, Metrics). None: on when prometheus-client
        #: is installed (``hero[metrics]``); True: required (the boot fails without it); False: off.
        "enabled": None,
        "path": "/metrics",
        #: Seconds between folds of the actions counted in-process into the exported values (a scrape
        #: always folds its own process's first; under gunicorn other workers lag by at most this).
        "flush_interval": 1.0,
        #: Upper bounds (seconds) of the action latency histogram's buckets.
        "buckets": [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
    },
    "otel": {
        #: An OpenTelemetry span per action (docs/deployment.md, Tracing). None: on when opentelemetry-api
        #: is installed (``hero[otel]``); True: required; False: off.
        "enabled": None,
        #: The instrumentation name spans are created under.
        "tracer": "hero",
    },
    "redis": {
        #: None: the embedded in-process store (one process only).
        "url": None,
        "prefix": "hero:",
        "connect_timeout": 0.5,
        "socket_timeout": 1.0,
        "retries": 1,
        "max_connections": 64,
        "pool_timeout": 2.0,
        #: Read timeout (seconds) of the client for pub/sub and blocking pops: longer than any block
        #: hero asks for (RQ raises its own per dequeue), finite so a dead link ends a read.
        "blocking_socket_timeout": 30.0,
        #: Seconds the chat/RPC subscriber may hear nothing, not even the answer to its own PING,
        #: before it calls the subscription lost (a silent, blackholed Redis) and subscribes again.
        "subscriber_health_seconds": 10.0,
        "health_check_interval": 30,
        #: The hot paths (cache, status, chat say) pipeline their commands on one shared connection
        #: per process (hero.services.redis_mux: ~3 µs of client CPU a command instead of ~60 under
        #: load). False: they go through redis-py's pool like everything else.
        "multiplex": True,
    },
    "web": {
        "enabled": True,
        #: A TCP port, or a Unix socket path (``"/run/hero/web.sock"``; relative to the app folder).
        "port": 8080,
        "bind": "127.0.0.1",
        "url_path_for_actions": "api",
        "url_path_for_files": "public",
        "root_endpoint_type": "file",
        "simple_routing": True,
        "query_routing": True,
        "return_error_codes": True,
        "padding": 2,
        "metadata": {"server_information": True, "requester_information": True},
        "cors_origins": [],
        "allowed_hosts": [],
        "http_headers": {},
        "jsonp": False,
        #: gzip static files (text, JS, JSON, SVG...) for clients that accept it.
        "compress": False,
        #: Static files: seconds in ``Cache-Control: max-age=<n>, must-revalidate, public``.
        "file_cache_seconds": 60,
        #: Largest public file the WebSocket/TCP ``file`` verb sends in one message (larger: 413).
        "max_file_read_bytes": 10 * 1024 * 1024,
        #: Longest public-file path hero looks up (longer: 404, before touching the disk).
        "max_file_path_chars": 4096,
        #: Static files: serve symlinks in ``public/`` whose target lies outside it (``..`` never works).
        "follow_symlinks_outside_root": False,
        "upload_dir": None,
        "fingerprint_cookie": "sessionID",
        "welcome_message": None,
        #: Concurrent HTTP connections (a gevent Pool); more wait in the listen backlog.
        "max_connections": 1000,
        #: Seconds from a request's first byte to the end of its headers (slowloris bound) → 408 + close.
        "header_timeout": 10.0,
        #: Seconds an idle keep-alive connection is kept before it is closed.
        "keepalive_timeout": 5.0,
        #: Requests served on one keep-alive connection before it is closed.
        "max_keepalive_requests": 1000,
        #: Response bytes one connection may hold for the end of the loop's turn while the client is
        #: slow to take them (a pipelining client that does not read); past it the handler waits.
        "max_waiting_response_bytes": 262_144,
        #: Seconds a read of the body (or a write of the response) may stall → 408 / close.
        "body_timeout": 30.0,
        #: Seconds the whole body of one request may take (a body dripped a byte at a time is cut)
        #: → 408 / close. Raise it for large uploads over slow links.
        "body_total_timeout": 300.0,
        #: Seconds the whole of one response may take to be written (a client that reads a large
        #: response a trickle at a time) → the connection is closed.
        "send_total_timeout": 300.0,
        #: Request line bytes → 414; header count, one header line, the whole header block → 431.
        "max_request_line_bytes": 8190,
        "max_header_count": 100,
        "max_header_bytes": 8190,
        "max_header_block_bytes": 65_536,
        #: JSON or urlencoded body bytes → 413.
        "max_body_bytes": 1_048_576,
        #: multipart/form-data total bytes (files are streamed to disk) → 413.
        "max_upload_bytes": 104_857_600,
        #: multipart parts, and bytes of the non-file fields kept in memory → 413.
        "max_form_parts": 1000,
        "max_form_memory_bytes": 500_000,
        #: Params from the query string or a form → 413 beyond this.
        "max_params": 1000,
        #: Peers whose X-Forwarded-For / X-Forwarded-Proto are believed.
        "forwarded_allow_ips": ["127.0.0.1", "::1"],
        #: Sent with an allowed CORS origin and on OPTIONS.
        "cors_methods": "HEAD, GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "cors_headers": "Content-Type",
        "cors_credentials": False,
        "cors_max_age": 600,
        #: ``{"cert": path, "key": path}`` serves HTTPS (and wss://) on ``web.port``; None: plain HTTP.
        "tls": None,
        #: With ``web.port`` a Unix socket path: the socket file's mode, and its listen backlog.
        "unix_socket_mode": 0o660,
        "unix_socket_backlog": 1024,
        #: Seed 001's ``/file/<path>`` alias of ``/public/<path>`` (None: off); ``?action=file&fileName=``
        #: serves a public file too unless an action is named ``file``.
        "file_alias": "file",
        #: Static files: send an ``ETag`` (and answer ``If-None-Match`` with 304); Last-Modified stays.
        "enable_etag": True,
        #: The body of a static-file 404.
        "file_not_found_message": "that file is not found",
        #: With ``compress``: gzip JSON answers of at least this many bytes for clients that accept it.
        "compress_min_bytes": 1024,
        #: Send the ``sessionID`` fingerprint cookie to a client that has none (False: the fingerprint
        #: is made per request and not remembered).
        "fingerprint_set_cookie": True,
        #: Seconds the fingerprint cookie lives (``Max-Age``); None: a session cookie.
        "fingerprint_cookie_expiry": None,
        #: Uploaded files keep the extension of the client's file name (``hero-upload-x.png``).
        "keep_upload_extensions": False,
        #: ``"flat"``: ``a[b]=1`` is the param ``a[b]``; ``"nested"``: ``{"a": {"b": "1"}}`` and
        #: ``a[]=1&a[]=2`` is ``{"a": ["1", "2"]}`` (qs-style, seed 001's queryParseOptions).
        "query_parse": "flat",
        #: Brackets in one nested query key (``query_parse = "nested"``) → 400 beyond this.
        "max_query_depth": 5,
    },
    "socket": {
        "enabled": True,
        "port": 5000,
        "bind": "127.0.0.1",
        "max_line_bytes": 65_536,
        "max_connections": 1000,
        #: ``{"cert": path, "key": path}`` serves TLS on the same port; None: plain TCP.
        "tls": None,
        #: Seconds a TLS client gets to finish its handshake before it is dropped.
        "tls_handshake_timeout": 10.0,
        #: Replies queued for one client before it is closed as too slow (docs/limits.md, TCP).
        "max_queued_messages": 256,
        #: Bytes of replies queued for one client (counted as each is queued; one larger reply alone
        #: may wait): the reader stops at half, and past it the client is closed as too slow.
        "max_queued_bytes": 4_194_304,
        #: Seconds one write may block on a client that does not read before it is closed.
        "write_timeout": 10.0,
        #: Seconds without a byte from the client before it is closed (None: never; TCP keepalive still reaps dead peers).
        "idle_timeout": None,
        #: A client that vanished without closing (cable pulled, NAT forgot it) is found by TCP
        #: keepalive: a probe after ``keepalive_idle`` quiet seconds, then every
        #: ``keepalive_interval`` seconds; ``keepalive_count`` unanswered probes close it.
        "keepalive_idle": 60,
        "keepalive_interval": 10,
        "keepalive_count": 6,
        #: Seconds data sent to a client may stay unacknowledged before the connection is dropped
        #: (TCP_USER_TIMEOUT; keepalive does not probe while replies wait). None: the kernel's ~15 minutes.
        "unacked_timeout": 120,
        #: Share the port with other processes (SO_REUSEPORT; gunicorn workers). Off: a second process fails to bind.
        "reuse_port": False,
        #: A chat room every new TCP client joins (seed 000's ``defaultSocketRoom``; created at boot),
        #: in which ``say <message>`` without a room speaks. None: no default room.
        "default_room": None,
    },
    "websocket": {
        "enabled": True,
        "path": "/ws",
        #: A message (all its frames) longer than this closes the connection with 1009.
        "max_message_bytes": 1_048_576,
        #: Seconds between server pings; a client that has not answered one in ``ping_timeout``
        #: seconds is closed with 1011.
        "ping_interval": 20.0,
        "ping_timeout": 20.0,
        #: Origins (``https://example.com``) allowed to open a socket; empty = the request's own
        #: host only; ``"*"`` = any. Requests without an Origin header (non-browsers) are allowed.
        "allowed_origins": [],
        #: Replies and chat messages waiting for a slow client; over either cap it is closed with 1013.
        "max_queued_messages": 256,
        "max_queued_bytes": 4_194_304,
        #: Bytes sent right after the handshake (before the 101) taken from the web server's reader
        #: at once; the rest is read from the socket as usual.
        "max_handshake_leftover_bytes": 1_048_576,
        #: Seconds to wait for the client's close frame (and for a slow client to take ours).
        "close_timeout": 10.0,
    },
    "tasks": {
        #: SimpleWorker greenlets in each server process (the embedded store needs >= 1 to run tasks).
        "workers": 1,
        #: Queues the in-process workers (and `hero worker` without arguments) listen on, in priority
        #: order; "*" means every task's queue.
        "queues": ["*"],
        #: Run the (leader-elected) scheduler greenlet in server processes.
        "scheduler": True,
        #: Seconds between scheduler rounds (delayed jobs are promoted with this resolution).
        "scheduler_interval": 1.0,
        #: Seconds the scheduler's leader lock lives without renewal: how fast another process takes over.
        "scheduler_lock_ttl": 10.0,
        #: Seconds a task may run (a task's own `timeout` wins).
        "timeout": 180,
        #: Retries after a failure (a task's own `retries` wins; periodic tasks default to 0).
        "retries": 3,
        #: Seconds before each retry.
        "retry_intervals": [1, 5, 30],
        #: Seconds past a job's last heartbeat before it counts as abandoned (its worker died) and is
        #: retried or filed as failed by the scheduler.
        "heartbeat_grace": 60,
        #: Seconds between heartbeats of a `hero worker` running a job.
        "job_monitoring_interval": 30,
        #: Seconds results and failed jobs are kept.
        "result_ttl": 500,
        "failure_ttl": 31_536_000,
    },
    #: Models on SQLAlchemy 2 (README, Models; ``pip install -e '.[models]'``).
    "models": {
        #: None: on when the app (or a plugin) has a ``models/`` folder; True or False force it.
        "enabled": None,
        #: A SQLAlchemy URL (``postgresql://``, ``mysql://``, ``mariadb://``, ``sqlite:///path``);
        #: None: the SQLite file ``hero-<env>.sqlite3`` in the app folder.
        "url": None,
        #: Connections kept open, and the extra ones allowed under load (not SQLite: it has one).
        "pool_size": 5,
        "max_overflow": 5,
        #: Seconds an action waits for a pooled connection → 503.
        "pool_timeout": 5.0,
        #: Seconds to open a connection (whole seconds for PostgreSQL and MySQL) → 503.
        "connect_timeout": 5.0,
        #: Seconds after which a pooled connection is replaced.
        "pool_recycle": 1800,
        #: Check a pooled connection before each use (one round trip), so a restarted database
        #: costs no failed request.
        "pre_ping": True,
        #: Log every SQL statement.
        "echo": False,
        #: Seconds a booting process waits for another to finish creating tables and seeding.
        "seed_lock_timeout": 30.0,
    },
    #: Localization (docs/actions.md, Localization): catalogs are ``<locale>.json`` files in ``locales/``.
    "i18n": {
        #: The locale of connections that ask for none (or for one without a catalog), and the fallback
        #: catalog of a message missing from another.
        "default_locale": "en",
    },
    "routes": {},
    #: Plugins by name: ``{"path": folder}`` (relative to the app) or ``{"module": package}``, whose
    #: actions/, tasks/, initializers/ and public/ load after the app's own; ``"public": False``
    #: etc. leaves a part out.
    "plugins": {},
    #: Config of the app's own servers (docs/servers.md), by each server's ``type``:
    #: ``{"udp": {"enabled": True, "port": 9000}}``. A server without an entry is enabled.
    "servers": {},
}

#: The parts of an app a plugin may bring, each on unless its entry says False.
PLUGIN_PARTS = ("actions", "tasks", "initializers", "public", "servers", "locales", "models")

#: Per-environment adjustments of hero's own defaults (the app's sections overlay these).
ENVIRONMENT_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "test": {
        "general": {"starting_chat_rooms": {"defaultRoom": {}, "otherRoom": {}}, "rpc_timeout": 3.0},
        "logger": {"level": "warning"},
        "tasks": {"scheduler_interval": 0.1, "scheduler_lock_ttl": 2.0, "retry_intervals": [0]},
    },
    "production": {
        "web": {"padding": None, "metadata": {"server_information": False, "requester_information": False}},
    },
}

#: Namespaces whose keys are free-form (no type check against a default).
FREE_FORM = frozenset({"routes", "plugins", "servers"})

#: Simple environment variables, each → (namespace, key).
ENV_SHORTCUTS: dict[str, tuple[str, str]] = {
    "PORT": ("web", "port"),
    "HERO_SOCKET_PORT": ("socket", "port"),
    "REDIS_URL": ("redis", "url"),
    "HERO_CLUSTER_SECRET": ("general", "cluster_secret"),
}
