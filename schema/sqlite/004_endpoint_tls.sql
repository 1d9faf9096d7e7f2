-- Upstream TLS settings of endpoints (SPEC 2.2 Endpoints "tls"): extra
-- trusted CA certificates and the client certificate as PEM text (public),
-- and where the client's private key is: a key of a secret (like
-- secret_name/secret_key, no foreign key: the secret may come later).
ALTER TABLE endpoints ADD COLUMN tls_ca_cert TEXT;
ALTER TABLE endpoints ADD COLUMN tls_client_cert TEXT;
ALTER TABLE endpoints ADD COLUMN tls_key_secret TEXT;
ALTER TABLE endpoints ADD COLUMN tls_key_name TEXT;
CREATE INDEX endpoints_tls_key_secret ON endpoints (tls_key_secret);
