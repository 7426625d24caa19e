import socket, struct, threading, sys
def handle(c):
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            if d.startswith(b"RST"):
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); break
            if d.startswith(b"CLOSE"): break
            c.sendall(d)
    except Exception as e: print("peer:", e, flush=True)
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 9000)); s.listen(64)
print("peer ready", flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
