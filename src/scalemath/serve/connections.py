"""The connection cap of `scalemath serve`: how many connections stay open, and which one is closed
past it (the oldest idle or stalled one), so that a flood of stalled connections cannot starve /health."""

from __future__ import annotations

import os
from typing import Any

from scalemath.serve.config import ServerConfig, ServerStats

ACCEPT_BURST = 64  # the listen backlog, which is also how many connections asyncio accepts per wakeup


def connection_cap(config: ServerConfig) -> int:
    """Most open connections: config.max_connections, kept 2 x ACCEPT_BURST + 16 below the
    descriptors the process has left under its file limit (counted when the server starts, after
    the engine loaded): asyncio accepts up to ACCEPT_BURST connections at a time before any is
    counted, and an evicted connection's descriptor is released on the next turn of the loop."""
    cap = config.max_connections
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            try:
                used = len(os.listdir("/proc/self/fd"))
            except OSError:
                used = 64
            cap = min(cap, max(8, soft - used - 2 * ACCEPT_BURST - 16))
    except (ImportError, OSError, ValueError):
        pass
    return cap


def limit_connections(server: Any, cap: int, stats: ServerStats, reading: set) -> None:
    """Past the cap, close the oldest connection that is idle or still sending its request (headers
    or body), else the new one: a flood of stalled connections cannot starve /health."""
    made = server.connection_made

    def connection_made(handler: Any, transport: Any) -> None:
        made(handler, transport)
        conns = server._connections
        if len(conns) <= cap:
            return
        live = [h for h, t in conns.items() if not t.is_closing()]  # closed ones leave a moment later
        if len(live) <= cap:
            return
        victim = next(
            (h for h in live if h is not handler and not getattr(h, "_request_in_progress", False)),
            None,
        ) or next((h for h in live if h is not handler and h in reading), handler)
        stats.evicted += 1
        conns[victim].close()

    server.connection_made = connection_made
