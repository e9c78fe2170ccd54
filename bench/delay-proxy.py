#!/usr/bin/env python3
"""A loopback HTTP/1.1 proxy that holds every answer back by a fixed delay (a registry that far
away) and logs each request: method, path, when its head arrived and when its answer began to
go out (JSON lines). The Python twin of tests/it/support/proxy.rs's delay, for bench/round-trips.sh.

Usage: delay-proxy.py LISTEN_PORT UPSTREAM_HOST:PORT DELAY_MS LOG_FILE

Understands what our client and curl send: request heads, bodies with Content-Length,
keep-alive, no pipelining (each client waits for an answer before its next request). The first
bytes from the registry after a forwarded request are that request's answer.
"""
import asyncio
import json
import sys
import time

port, upstream, delay_ms, log_path = (
    int(sys.argv[1]),
    sys.argv[2],
    float(sys.argv[3]),
    sys.argv[4],
)
up_host, up_port = upstream.rsplit(":", 1)
delay = delay_ms / 1000.0
log = open(log_path, "a", buffering=1)


async def handle(client_r, client_w):
    try:
        server_r, server_w = await asyncio.open_connection(up_host, int(up_port))
    except OSError:
        client_w.close()
        return
    pending = asyncio.Queue()

    async def requests():
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = await client_r.read(65536)
                if not chunk:
                    server_w.close()
                    return
                buf += chunk
            head_end = buf.index(b"\r\n\r\n") + 4
            head = buf[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip() or 0)
            while len(buf) < head_end + length:
                chunk = await client_r.read(65536)
                if not chunk:
                    return
                buf += chunk
            request, buf = buf[: head_end + length], buf[head_end + length :]
            entry = {"method": method, "path": path, "started": time.monotonic()}
            await pending.put(entry)
            server_w.write(request)
            await server_w.drain()

    async def responses():
        while True:
            chunk = await server_r.read(65536)
            if not chunk:
                client_w.close()
                return
            if not pending.empty():
                entry = pending.get_nowait()
                wait = entry["started"] + delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                entry["answered"] = time.monotonic()
                log.write(json.dumps(entry) + "\n")
            client_w.write(chunk)
            await client_w.drain()

    tasks = [asyncio.ensure_future(requests()), asyncio.ensure_future(responses())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    client_w.close()
    server_w.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
