#!/usr/bin/env python3
"""The kernel's side of a bulk transfer, independent of c-tests.

    kpeer.py connect HOST PORT IN OUT
    kpeer.py listen HOST PORT IN OUT

HOST may be IPv6 (it has a ':'). Connects (or listens and accepts one
connection), then at once sends the
file IN in a thread and half-closes (shutdown SHUT_WR), while writing all it
receives to OUT until EOF. The script compares the files with sha256sum.
Prints "listening" when listening, "done SENT RECEIVED" at the end; exits 1
on a socket error.
"""
import socket
import sys
import threading


def main():
    mode, host, port, src, dst = sys.argv[1:6]
    if mode == "listen":
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, int(port)))
        lsock.listen(1)
        print("listening", flush=True)
        sock, _ = lsock.accept()
        lsock.close()
    else:
        sock = socket.create_connection((host, int(port)))
    sent = [0]
    err = []

    def sender():
        try:
            with open(src, "rb") as f:
                sent[0] = sock.sendfile(f)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    got = 0
    with open(dst, "wb") as out:
        while True:
            try:
                b = sock.recv(1 << 16)
            except OSError as e:
                err.append(e)
                break
            if not b:
                break
            out.write(b)
            got += len(b)
    t.join()
    sock.close()
    print("done", sent[0], got, flush=True)
    if err:
        print("FAIL", err, flush=True)
        sys.exit(1)


main()
