"""A TLS front for the mock upstream (tests only): accepts TLS connections on
--listen, optionally requires a client certificate signed by --client-ca,
(--tls12: TLS 1.2 at most) and relays the decrypted bytes of each connection to 127.0.0.1:--backend
(tests/mockllm) and back. One thread per connection; SIGTERM exits 0.
Each handshake's outcome is printed to stderr ("handshake ok" with the
client certificate's subject, or "handshake failed: <reason>")."""
import argparse
import signal
import socket
import ssl
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, ctx, backend):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake failed: %s" % e, file=sys.stderr, flush=True)
        conn.close()
        return
    peer = tls.getpeercert()
    subject = dict(x[0] for x in peer["subject"]) if peer else {}
    print("handshake ok client=%s" % subject.get("commonName", "-"), file=sys.stderr, flush=True)
    try:
        up = socket.create_connection(("127.0.0.1", backend))
    except OSError:
        tls.close()
        return
    t = threading.Thread(target=pump, args=(up, tls), daemon=True)
    t.start()
    pump(tls, up)
    t.join()
    tls.close()
    up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--backend", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--tls12", action="store_true", help="TLS 1.2 at most")
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.client_ca)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.listen))
    srv.listen(128)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, ctx, a.backend), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, SystemExit):
        sys.exit(0)
