"""TLS helpers for the end-to-end tests: throwaway CAs and certificates made
with the `openssl` CLI in a temporary directory, HTTPS requests with Python's
ssl module, a control plane serving HTTPS, and a TLS wrapper (tls_proxy.py)
in front of the mock upstream."""
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile

import mm

HERE = os.path.dirname(os.path.abspath(__file__))


def _openssl(*args):
    r = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True, text=True)
    assert r.returncode == 0, "openssl %s: %s" % (" ".join(map(str, args)), r.stderr)


class Pki:
    """CAs and certificates in a fresh directory. Every key is EC P-256
    unless rsa=True."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mm-pki-")
        self.n = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name, rsa=False):
        p = self.path(name + ".key")
        if rsa:
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p)
        else:
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p)
        return p

    def ca(self, name):
        """A self-signed CA: (cert path, key path)."""
        key = self._key(name)
        cert = self.path(name + ".pem")
        _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def cert(self, ca, name, hosts=("localhost", "127.0.0.1"), client=False, rsa=False):
        """A leaf certificate signed by ca (a (cert, key) pair from ca()) for
        hosts (DNS names or IPs): (cert path, key path)."""
        key = self._key(name, rsa=rsa)
        csr = self.path(name + ".csr")
        cert = self.path(name + ".pem")
        _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + name)
        sans = ",".join(("IP:" if h.replace(".", "").isdigit() else "DNS:") + h for h in hosts)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
            if sans:
                f.write("subjectAltName=%s\n" % sans)
        self.n += 1
        _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(1000 + self.n),
                 "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key


def read(path):
    with open(path) as f:
        return f.read()


def client_context(cafile=None, cert=None, verify=True):
    ctx = ssl.create_default_context(cafile=cafile) if verify else ssl._create_unverified_context()
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def tls_connection(port, cafile=None, ctx=None, host="localhost", timeout=30.0):
    """An HTTP/1.1 connection to 127.0.0.1:port over TLS, the server's
    certificate checked for the name `host` (handshake done here)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout * mm.SLOW)
    try:
        sock = (ctx or client_context(cafile)).wrap_socket(raw, server_hostname=host)
    except Exception:
        raw.close()
        raise
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * mm.SLOW)
    conn.sock = sock
    return conn


def https_request(port, method, path, body=None, headers=None, token=None, cafile=None, ctx=None,
                  host="localhost", timeout=30.0):
    """One HTTPS request on a new connection (server name `host`, address
    127.0.0.1), as mm.request."""
    conn = tls_connection(port, cafile=cafile, ctx=ctx, host=host, timeout=timeout)
    return mm.request(port, method, path, body=body, headers=headers, token=token, conn=conn)


class HttpsControlPlane(mm.ControlPlane):
    """modelmux-cp with --tls-cert/--tls-key; its admin API is called over
    HTTPS, trusting cafile."""

    def __init__(self, cert, cafile, **kw):
        self.cafile = cafile
        extra = ["--tls-cert", cert[0], "--tls-key", cert[1]] + list(kw.pop("extra_args", ()))
        super().__init__(extra_args=extra, **kw)

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def api(self, method, path, body=None, token=None, headers=None, timeout=30.0):
        return https_request(self.port, method, "/api/v1" + path, body=body, headers=headers,
                             token=self.token if token is None else token, cafile=self.cafile,
                             timeout=timeout)


class TlsProxy(mm.Proc):
    """tests/e2e/tls_proxy.py: a TLS listener on a free port relaying each
    connection to 127.0.0.1:backend_port (the mock upstream). With
    client_ca, clients must present a certificate signed by it; tls12: TLS
    1.2 at most (a refused client certificate then fails the handshake
    itself, where TLS 1.3 reports it after the handshake)."""

    def __init__(self, backend_port, cert, client_ca=None, tls12=False):
        self.port = mm.free_port()
        args = [sys.executable, os.path.join(HERE, "tls_proxy.py"), "--listen", str(self.port),
                "--backend", str(backend_port), "--cert", cert[0], "--key", cert[1]]
        if client_ca:
            args += ["--client-ca", client_ca]
        if tls12:
            args += ["--tls12"]
        super().__init__(args, name="tls_proxy")
        mm.wait_port(self.port, proc=self.p)

    def url(self, host="localhost"):
        return "https://%s:%d" % (host, self.port)
