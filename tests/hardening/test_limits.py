"""Slow or abandoned uploads must not pin the server's workers."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.hardening.server import ApiServer

pytestmark = pytest.mark.slow


def test_abandoned_uploads_do_not_block_other_requests(tmp_path):
    server = ApiServer(tmp_path / "data").start()
    stalled: list[socket.socket] = []
    auth = f"Authorization: Bearer {server.token}\r\n".encode()  # signed in: the body is what gets tested
    try:
        for _ in range(60):  # more than the thread pool (40): would starve it if bodies pinned threads
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"POST /api/prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth
                      + b"Content-Length: 5000\r\n\r\n{\"text\": \"")
            stalled.append(s)
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for i in range(50):
                assert c.post("/prompts", json={"text": f"still served {i}"}).status_code == 201
            assert c.get("/prompts", params={"limit": 1}).json()["total"] == 50
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /api/prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth
                      + b"Content-Length: 1000000000\r\n\r\n{")
            reply = b""
            while b"larger than" not in reply and (chunk := s.recv(4096)):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 413") and b"larger than" in reply
    finally:
        for s in stalled:
            s.close()
        server.stop()
