#!/usr/bin/env python3
"""Carries DNS over UDP across Unix stream sockets, for the integration tier.

Boxes reach each other only through Unix stream sockets (test/box/README.md), which carry no
datagrams. The two ends of a relay carry each DNS message over the stream prefixed with its
two-byte length (DNS over TCP, RFC 7766 section 8):

  dns_relay.py udp-to-stream ADDRESS PORT SOCKET
      listens for queries on ADDRESS:PORT/udp in the network namespace it runs in (the node's) and
      asks the server behind SOCKET;
  dns_relay.py stream-to-udp SOCKET ADDRESS PORT
      listens on SOCKET and asks the server at ADDRESS:PORT over UDP in the network namespace it
      runs in (the infra VM's), so that a node's UDP query reaches the server's UDP socket.

A query that gets no answer within 5 s (a stopped VM, a server that is down) is dropped, as over UDP.
"""
import os
import socket
import struct
import sys
import threading


def read_exactly(stream: socket.socket, size: int) -> bytes:
    """`size` bytes from the stream, or b"" when it closes first."""
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def read_message(stream: socket.socket) -> bytes:
    header = read_exactly(stream, 2)
    return read_exactly(stream, struct.unpack(">H", header)[0]) if header else b""


def framed(message: bytes) -> bytes:
    return struct.pack(">H", len(message)) + message


def udp_to_stream(address: str, port: int, target: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((address, port))
    print(f"relaying DNS on {address}:{port}/udp to {target}", file=sys.stderr, flush=True)

    def answer(query: bytes, client) -> None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
                stream.settimeout(5)
                stream.connect(target)
                stream.sendall(framed(query))
                reply = read_message(stream)
            if reply:
                listener.sendto(reply, client)
        except OSError as error:
            print(f"no answer for {client}: {error}", file=sys.stderr, flush=True)

    while True:
        query, client = listener.recvfrom(65535)
        threading.Thread(target=answer, args=(query, client), daemon=True).start()


def stream_to_udp(path: str, address: str, port: int) -> None:
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    print(f"relaying DNS from {path} to {address}:{port}/udp", file=sys.stderr, flush=True)

    def serve(stream: socket.socket) -> None:
        with stream:
            while True:
                query = read_message(stream)
                if not query:
                    return
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.settimeout(5)
                    try:
                        udp.sendto(query, (address, port))
                        reply, _ = udp.recvfrom(65535)
                    except OSError as error:
                        print(f"no answer from {address}:{port}: {error}", file=sys.stderr, flush=True)
                        return
                stream.sendall(framed(reply))

    while True:
        stream, _ = listener.accept()
        threading.Thread(target=serve, args=(stream,), daemon=True).start()


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "udp-to-stream":
        udp_to_stream(args[0], int(args[1]), args[2])
    elif mode == "stream-to-udp":
        stream_to_udp(args[0], args[1], int(args[2]))
    else:
        sys.exit(f"unknown mode {mode}: udp-to-stream or stream-to-udp")


if __name__ == "__main__":
    main()
