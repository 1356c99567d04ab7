"""Latency and throughput measurement with a minimal keep-alive HTTP/1.1 client.

A hand-written client keeps the load generator's own CPU use small: on a 2-core machine
the client and the server share the cores, and httpx would cost about as much per request
as the fast endpoints themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any


def auth_headers() -> dict[str, str]:
    """The bench's credentials: its personal access token (``TD_API_TOKEN``, minted by ``bench.server.Server``)."""
    token = os.environ.get("TD_API_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    body: Any = None
    headers: tuple[tuple[str, str], ...] | None = None  # None: the bench's token (auth_headers)

    def request_bytes(self) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body).encode()
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: td-bench\r\n"
        extra = auth_headers().items() if self.headers is None else self.headers
        head += "".join(f"{k}: {v}\r\n" for k, v in extra)
        if self.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        return (head + "\r\n").encode() + payload


class Conn:
    """One keep-alive connection; ``send`` returns (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**24)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def sequential(host: str, port: int, call: Call, *, warmup: int, n: int, max_s: float) -> dict[str, Any]:
    """``warmup`` untimed requests, then up to ``n`` timed ones (stops early after ``max_s``)."""
    conn, raw = Conn(host, port), call.request_bytes()
    errors, times = 0, []
    try:
        for _ in range(warmup):
            await conn.send(raw)
        deadline = time.perf_counter() + max_s
        while len(times) < n and time.perf_counter() < deadline:
            t = time.perf_counter()
            status, _ = await conn.send(raw)
            times.append((time.perf_counter() - t) * 1000)
            errors += status >= 400
    finally:
        await conn.close()
    return {"n": len(times), "errors": errors, "p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95),
            "max_ms": max(times), "mean_ms": statistics.fmean(times)}


async def concurrent(host: str, port: int, call: Call, *, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` connections, each sending back-to-back for ``seconds``; completed requests/s."""
    raw = call.request_bytes()
    done, errors, lat = 0, 0, []
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal done, errors
        conn = Conn(host, port)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                status, _ = await conn.send(raw)
                if time.perf_counter() <= deadline:
                    done += 1
                    errors += status >= 400
                    lat.append((time.perf_counter() - t) * 1000)
        finally:
            await conn.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), timeout=seconds + 120)
    elapsed = min(time.perf_counter(), deadline) - start
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": done, "errors": errors,
            "rps": done / elapsed if elapsed else 0.0,
            "p50_ms": percentile(lat, 0.5) if lat else None, "p95_ms": percentile(lat, 0.95) if lat else None,
            "p99_ms": percentile(lat, 0.99) if lat else None}
