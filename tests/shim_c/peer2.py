import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 9000)); s.listen(8); print("ready", flush=True)
c, _ = s.accept()
while True:
    try:
        d = c.recv(100)
    except Exception as e:
        print("peer: recv error:", e, flush=True); break
    if not d: print("peer: EOF", flush=True); break
    c.sendall(d)
