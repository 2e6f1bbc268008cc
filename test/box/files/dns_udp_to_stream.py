#!/usr/bin/env python3
"""Carries DNS over UDP across a Unix stream socket, for the integration tier.

Boxes reach each other only through Unix stream sockets (test/box/README.md), which carry no
datagrams. This listens for DNS queries on ADDRESS:PORT/udp in the network namespace it runs in
and asks the server behind SOCKET over a stream, each message prefixed with its two-byte length
(DNS over TCP, RFC 7766 section 8). When the server cannot be reached the query gets no answer,
as one sent to a stopped VM gets none.

Usage: dns_udp_to_stream.py ADDRESS PORT SOCKET
"""
import socket
import struct
import sys
import threading


def read_exactly(stream: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the stream")
        data += chunk
    return data


def answer(listener: socket.socket, target: str, query: bytes, client) -> None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
            stream.settimeout(5)
            stream.connect(target)
            stream.sendall(struct.pack(">H", len(query)) + query)
            (length,) = struct.unpack(">H", read_exactly(stream, 2))
            reply = read_exactly(stream, length)
        listener.sendto(reply, client)
    except OSError as error:
        print(f"no answer for {client}: {error}", file=sys.stderr, flush=True)


def main() -> None:
    address, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((address, port))
    print(f"relaying DNS on {address}:{port}/udp to {target}", file=sys.stderr, flush=True)
    while True:
        query, client = listener.recvfrom(65535)
        threading.Thread(target=answer, args=(listener, target, query, client), daemon=True).start()


if __name__ == "__main__":
    main()
