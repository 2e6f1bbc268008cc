#!/usr/bin/env python3
"""Serves a folder over plain HTTP at ADDRESS:PORT, for the integration tier's datacenter mirror.

Python's own `python3 -m http.server` looks up the name of the address it binds to before it
listens (HTTPServer.server_bind calls socket.getfqdn), which in a box's network, with no resolver
that answers, stalls until the lookup times out; this server skips that lookup.

Usage: static_http.py ADDRESS PORT FOLDER
"""
import functools
import http.server
import socketserver
import sys


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main() -> None:
    address, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    with Server((address, port), handler) as server:
        print(f"serving {folder} at http://{address}:{port}/", file=sys.stderr, flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
