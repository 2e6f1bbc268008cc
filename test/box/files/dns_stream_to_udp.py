#!/usr/bin/env python3
"""The other end of dns_udp_to_stream.py, for the integration tier.

Listens on SOCKET (a Unix stream socket) for DNS messages, each prefixed with its two-byte length
(DNS over TCP, RFC 7766 section 8), and asks the server at ADDRESS:PORT over UDP, in the network
namespace it runs in; each reply goes back the same way. So a query a node sends over UDP reaches
the server's UDP socket, though the boxes are joined by stream sockets only. A query the server
does not answer within 5 s gets no reply, as over UDP.

Usage: dns_stream_to_udp.py SOCKET ADDRESS PORT
"""
import os
import socket
import struct
import sys
import threading


def read_exactly(stream: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def serve(stream: socket.socket, server) -> None:
    with stream:
        while True:
            header = read_exactly(stream, 2)
            if not header:
                return
            (length,) = struct.unpack(">H", header)
            query = read_exactly(stream, length)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.settimeout(5)
                try:
                    udp.sendto(query, server)
                    reply, _ = udp.recvfrom(65535)
                except OSError as error:
                    print(f"no answer from {server}: {error}", file=sys.stderr, flush=True)
                    return
            stream.sendall(struct.pack(">H", len(reply)) + reply)


def main() -> None:
    path, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    print(f"relaying DNS from {path} to {address}:{port}/udp", file=sys.stderr, flush=True)
    while True:
        stream, _ = listener.accept()
        threading.Thread(target=serve, args=(stream, (address, port)), daemon=True).start()


if __name__ == "__main__":
    main()
