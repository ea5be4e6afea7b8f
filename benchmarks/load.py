"""A bounded HTTP/1.1 load generator for 127.0.0.1 only: keep-alive connections, asyncio.

``run(port, headers, requests=..., seconds=..., connections=...)`` sends at most
``requests`` GETs and stops at ``seconds`` whatever happens; it returns the
completed requests per second and how many answers were not ``expect`` (200).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass
class Load:
    done: int
    failed: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


async def _worker(
    port: int, request: bytes, quota: list[int], deadline: float, tally: list[int], expect: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while quota[0] > 0 and time.monotonic() < deadline:
            quota[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            tally[0 if status == expect else 1] += 1
    finally:
        writer.close()


async def _run(
    port: int, request: bytes, requests: int, seconds: float, connections: int, expect: int
) -> Load:
    quota, tally = [requests], [0, 0]
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(
        *(_worker(port, request, quota, deadline, tally, expect) for _ in range(connections))
    )
    return Load(tally[0], tally[1], time.monotonic() - start)


def run(
    port: int,
    headers: dict[str, str],
    *,
    requests: int = 2000,
    seconds: float = 5.0,
    connections: int = 8,
    expect: int = 200,
) -> Load:
    """Drive the server on 127.0.0.1:``port``; bounded by count and by time."""
    lines = ["GET / HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return asyncio.run(_run(port, request, requests, seconds, connections, expect))
