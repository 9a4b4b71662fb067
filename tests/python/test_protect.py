"""Protection as an operator sees it: HTTPS with a real client, the CLI through a TLS server,
and a server log that holds no personal data, tokens or write keys."""

import http.client
import json
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from segment.analytics.client import Client as SegmentClient

from conftest import Silta


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         # A server certificate, not a CA: rustls refuses a CA certificate used as one.
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_https_serves_real_clients_and_the_cli(tmp_path, certificate, monkeypatch):
    cert, key = certificate
    server = Silta(tmp_path / "data")
    write_key = server.cli("sources", "add", "--name", "Secure shop", "--channel", "shop")
    token = server.cli("tokens", "add", "--role", "analyst")
    server.start("--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert server.url.startswith("https://127.0.0.1:")
        # The Segment library verifies the server with the CA bundle requests is told about.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        client = SegmentClient(write_key, host=server.url, sync_mode=True)
        client.track("user-tls", "Checkout Started", {"cart_value": 12.5})
        client.flush()

        context = ssl.create_default_context(cafile=str(cert))
        request = urllib.request.Request(
            server.url + "/v1/query",
            data=json.dumps({"sql": "SELECT user_id, event FROM events"}).encode(),
            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            rows = json.load(response)["rows"]
        assert rows == [{"user_id": "user-tls", "event": "Checkout Started"}]

        # Plain HTTP on the TLS port gets no HTTP answer.
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(server.url.replace("https://", "http://") + "/health", timeout=10)

        # The CLI reaches the running server over TLS, trusting exactly its certificate.
        answer = server.cli("sql", "SELECT count(*) AS n FROM events")
        assert "1" in answer, answer
        audit = [json.loads(line) for line in server.cli("audit").splitlines()]
        assert any(entry["action"] == "token.created" and entry["actor"]["kind"] == "local" for entry in audit)
    finally:
        server.stop()


def test_the_server_log_holds_no_personal_data_or_secrets(tmp_path):
    server = Silta(tmp_path / "data")
    server.env["SILTA_LOG"] = ",".join(
        ["info"] + [f"silta_{crate}=debug" for crate in ("server", "store", "wal", "collect", "identity", "state")]
    )
    write_key = server.cli("sources", "add", "--name", "Web", "--channel", "web")
    token = server.cli("tokens", "add", "--role", "marketer")
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log_file:
        server.start(stderr=log_file)
    email, user_id, anonymous_id = "hedy.secret@example.com", "user-secret-77", "anon-secret-99"
    client = SegmentClient(write_key, host=server.url, sync_mode=True)
    client.identify(user_id, {"email": email}, anonymous_id=anonymous_id)
    client.track(user_id, "Order Completed", {"revenue": 10})
    client.flush()
    # A rejected event (kept with its reason) and a failed lookup must not be logged either.
    bad = urllib.request.Request(
        server.url + "/v1/track", data=json.dumps({"writeKey": write_key, "userId": user_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(bad, timeout=30)
    assert server.get(token, f"/v1/profiles/email/{email}")["traits"]["email"]["value"] == email
    with pytest.raises(urllib.error.HTTPError):
        server.get(token, "/v1/profiles/email/nobody.secret@example.com")
    server.stop()
    log = log_path.read_text()
    assert "identity graph rebuilt" in log, log[:2000]
    for needle in (email, user_id, anonymous_id, "nobody.secret", write_key, token):
        assert needle not in log, f"the server log contains {needle!r}"
