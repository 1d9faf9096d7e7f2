"""Signing keys and tokens for the JWT e2e tests, made with the openssl CLI
(Python's stdlib cannot do RSA/EC), and a local JWKS server (http.server
in a thread of the test process) whose document and status the test sets."""
import atexit
import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout


class Key:
    """A throwaway key pair in a temp dir: kind "rsa" (bits) or "ec" (curve
    P-256 / P-384). .pem is the public key, .jwk() its JWK."""

    def __init__(self, kind="rsa", bits=2048, curve="P-256", kid=None):
        self.dir = tempfile.mkdtemp(prefix="mm-jwt-")
        atexit.register(shutil.rmtree, self.dir, True)
        self.priv = os.path.join(self.dir, "key.pem")
        self.kind, self.curve, self.kid = kind, curve, kid
        if kind == "rsa":
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits,
                     "-out", self.priv)
        else:
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve,
                     "-out", self.priv)
        self.pem = _openssl("pkey", "-in", self.priv, "-pubout").decode()

    def jwk(self, **extra):
        if self.kind == "rsa":
            mod = _openssl("rsa", "-in", self.priv, "-modulus", "-noout").decode()
            n = bytes.fromhex(mod.strip().split("=", 1)[1])
            j = {"kty": "RSA", "n": b64url(n), "e": b64url((65537).to_bytes(3, "big"))}
        else:
            text = _openssl("pkey", "-in", self.priv, "-text_pub", "-noout").decode()
            pub = re.search(r"pub:\s*\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
            raw = bytes.fromhex(re.sub(r"[\s:]", "", pub))
            size = (len(raw) - 1) // 2
            j = {"kty": "EC", "crv": self.curve, "x": b64url(raw[1:1 + size]),
                 "y": b64url(raw[1 + size:])}
        if self.kid is not None:
            j["kid"] = self.kid
        j.update(extra)
        return j


class JwksServer:
    """Serves self.body with self.status on every GET (self.delay seconds
    late). Use as a context manager; .url is its address."""

    def __init__(self, doc=None):
        self.status, self.delay, self.hits = 200, 0.0, 0
        self.set(doc if doc is not None else {"keys": []})
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                if outer.delay:
                    time.sleep(outer.delay)
                body = outer.body
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/jwks" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def set(self, doc=None, raw=None, status=200):
        self.body = raw if raw is not None else json.dumps(doc).encode()
        self.status = status

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _der_to_raw(der, size):
    """An ECDSA DER signature (SEQUENCE of r, s) as JOSE r||s."""
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(size, b"\0")
        i += 2 + n
    return out


def sign(key, claims, alg="RS256", kid="default", header=None):
    """A compact JWS of claims signed with key by the openssl CLI
    (RS*/PS*: PKCS#1 v1.5 / PSS; ES*: DER turned into r||s). kid
    "default" uses the key's kid, None leaves it out."""
    h = {"alg": alg, "typ": "JWT"}
    if kid == "default":
        kid = key.kid
    if kid is not None:
        h["kid"] = kid
    h.update(header or {})
    signing = (b64url(json.dumps(h).encode()) + "." +
               b64url(json.dumps(claims).encode())).encode()
    bits = alg[2:]
    args = ["dgst", "-sha" + bits, "-sign", key.priv]
    if alg.startswith("PS"):
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:" +
                 str(int(bits) // 8)]
    sig = _openssl(*args, data=signing)
    if alg.startswith("ES"):
        sig = _der_to_raw(sig, 32 if bits == "256" else 48)
    return signing.decode() + "." + b64url(sig)


def hs256(secret, claims):
    """An HMAC token (always refused by the gateway)."""
    import hashlib
    import hmac
    signing = (b64url(json.dumps({"alg": "HS256"}).encode()) + "." +
               b64url(json.dumps(claims).encode())).encode()
    return signing.decode() + "." + b64url(hmac.new(secret, signing, hashlib.sha256).digest())
