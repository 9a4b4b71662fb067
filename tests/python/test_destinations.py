"""A destination added with the CLI, fed by the official Segment library, delivering to a
webhook receiver (Python's own HTTP server) with a verifiable signature; and the CLI's view of
its figures and of a test delivery."""

import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid

from segment.analytics.client import Client as SegmentClient

from conftest import Silta


class Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.headers, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_events_from_the_segment_library_reach_a_signed_webhook(tmp_path):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    secret = tmp_path / "hook-secret"
    secret.write_text("python-secret\n")
    spec = tmp_path / "crm.json"
    spec.write_text(json.dumps({
        "name": "CRM", "purpose": "marketing",
        "target": {"type": "webhook", "url": f"http://127.0.0.1:{receiver.server_port}/hook",
                   "signing_secret": {"file": str(secret)}},
        "filter": {"events": ["Order Completed"]},
    }))
    server = Silta(tmp_path / "data")
    write_key = server.cli("sources", "add", "--name", "Backend", "--channel", "server")
    created = json.loads(server.cli("destinations", "add", str(spec)))
    destination = created["id"]
    assert created["target"]["signing_secret"] == {"file": str(secret)}
    server.start()
    try:
        client = SegmentClient(write_key, host=server.url, sync_mode=True)
        consent = {"consent": {"categoryPreferences": {"marketing": True}}}
        refused = {"consent": {"categoryPreferences": {"marketing": False}}}
        ids = [str(uuid.uuid4()) for _ in range(3)]
        client.track("ada", "Order Completed", {"revenue": 12.0}, context=consent, message_id=ids[0])
        client.track("bob", "Order Completed", {"revenue": 99.0}, context=refused, message_id=ids[1])
        client.track("ada", "Page Viewed", {}, context=consent, message_id=ids[2])
        client.flush()

        deadline = time.time() + 30
        while not Receiver.received and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(Receiver.received) == 1, Receiver.received
        headers, body = Receiver.received[0]
        event = json.loads(body)
        assert (event["userId"], event["event"], event["messageId"]) == ("ada", "Order Completed", ids[0])
        assert event["properties"]["revenue"] == 12.0
        assert event["context"]["library"]["name"] == "analytics-python"
        stamp, digest = headers["X-Silta-Signature"].removeprefix("t=").split(",v1=")
        expected = hmac.new(b"python-secret", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert digest == expected

        # The CLI goes through the running server.
        shown = json.loads(server.cli("destinations", "show", destination))
        assert shown["stats"]["delivered"] == 1, shown
        assert shown["stats"]["suppressed_without_consent"] == 1, shown
        tested = json.loads(server.cli("destinations", "test", destination))
        assert tested["delivered"] is True and tested["attempt"]["status"] == 204, tested
        assert json.loads(Receiver.received[-1][1])["event"] == "Silta Test Delivery"
    finally:
        server.stop()
        receiver.shutdown()
