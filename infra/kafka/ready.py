#!/usr/bin/env python3
"""One readiness probe of the local Kafka broker, used by `bin/stack start`.

An open port is not enough: the socket server accepts connections before the broker has
joined the KRaft quorum, and the port might belong to some other process altogether. So this
sends real ApiVersions and Metadata requests and checks that the answer comes from the
cluster bin/stack formatted.

It speaks the wire protocol by hand on purpose, using only the standard library: bin/stack
must work before `uv sync` has created .venv (bin/setup order, fresh CI machines), and any
python3 >= 3.8 will do.

With `--api-versions-only` it stops after ApiVersions: a SASL listener (HUIGONG_KAFKA_SECURITY=scram)
answers that before authentication and closes the connection on anything else, so bin/stack
then leaves the cluster id and broker checks to `huigong kafka principals`, which logs in as
admin anyway.

Exit status: 0 ready, 1 not ready yet (the caller retries), 2 wrong cluster (do not retry).
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

API_METADATA = 3
API_VERSIONS = 18
# Kafka 4.0 removed Metadata v0-v3 (KIP-896); v4 is the oldest version still served and the
# newest one without "flexible" (tagged-field) encoding, which keeps this parser small.
METADATA_VERSION = 4
CLIENT_ID = b"huigong-stack-ready"


class NotReadyError(Exception):
    pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise NotReadyError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    # Request header v1: api_key, api_version, correlation_id, client_id (non-flexible).
    header = struct.pack(">hhih", api_key, version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    resp = _recv_exact(sock, size)
    (resp_corr,) = struct.unpack_from(">i", resp, 0)
    if resp_corr != corr:
        raise NotReadyError(f"correlation id mismatch ({resp_corr} != {corr})")
    return resp[4:]  # response header v0 is just the correlation id


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def string(self) -> str | None:
        n = self.int16()
        if n < 0:
            return None
        s = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return s


def probe(
    host: str, port: int, timeout: float, api_versions_only: bool = False
) -> tuple[str | None, list[tuple[int, str, int]]]:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)

        # ApiVersions v0 is understood by every broker version, so it is a safe first contact.
        r = _Reader(_request(sock, API_VERSIONS, 0, 1, b""))
        error = r.int16()
        if error != 0:
            raise NotReadyError(f"ApiVersions error code {error}")
        ranges = {}
        for _ in range(r.int32()):
            key, lo, hi = r.int16(), r.int16(), r.int16()
            ranges[key] = (lo, hi)
        lo, hi = ranges.get(API_METADATA, (0, -1))
        if not lo <= METADATA_VERSION <= hi:
            raise NotReadyError(f"broker does not serve Metadata v{METADATA_VERSION} (has {lo}..{hi})")
        if api_versions_only:
            return None, []

        # Metadata v4 with an empty topic list: brokers and cluster id only.
        body = struct.pack(">ib", 0, 0)  # topics=[], allow_auto_topic_creation=false
        r = _Reader(_request(sock, API_METADATA, METADATA_VERSION, 2, body))
        r.int32()  # throttle_time_ms
        brokers = []
        for _ in range(r.int32()):
            node_id = r.int32()
            b_host = r.string() or ""
            b_port = r.int32()
            r.string()  # rack
            brokers.append((node_id, b_host, b_port))
        cluster_id = r.string()
        return cluster_id, brokers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="host:port")
    parser.add_argument("--cluster-id", help="fail (exit 2) if the broker reports another id")
    parser.add_argument("--timeout", type=float, default=2.0, help="socket timeout, seconds")
    parser.add_argument("--quiet", action="store_true", help="print nothing while not ready")
    parser.add_argument(
        "--api-versions-only",
        action="store_true",
        help="only check that the listener answers ApiVersions (SASL listeners before login)",
    )
    args = parser.parse_args()

    host, _, port_s = args.bootstrap.rpartition(":")
    try:
        cluster_id, brokers = probe(host, int(port_s), args.timeout, args.api_versions_only)
    except (OSError, NotReadyError, struct.error) as exc:
        if not args.quiet:
            print(f"not ready: {exc}", file=sys.stderr)
        return 1

    if args.api_versions_only:
        print(f"listening: {args.bootstrap} answers ApiVersions")
        return 0
    if args.cluster_id and cluster_id != args.cluster_id:
        print(
            f"{args.bootstrap} answers for cluster {cluster_id!r}, expected {args.cluster_id!r}"
            " (another Kafka on this port, or data formatted with another cluster id)",
            file=sys.stderr,
        )
        return 2
    if not brokers:
        # Metadata is served before the broker has registered itself with the controller.
        if not args.quiet:
            print("not ready: no brokers registered yet", file=sys.stderr)
        return 1
    listed = ", ".join(f"{n}@{h}:{p}" for n, h, p in brokers)
    print(f"ready: cluster {cluster_id}, brokers {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
