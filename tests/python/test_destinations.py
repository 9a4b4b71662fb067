"""Destinations added with the CLI and fed by the official client libraries: a webhook receiver
(Python's own HTTP server) with a verifiable signature, the CLI's view of its figures and of a
test delivery; Parquet exports to moto's S3 server; triggered emails through aiosmtpd with their
frequency cap and unsubscribe link."""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.exceptions
import pyarrow
import pyarrow.parquet
from aiosmtpd.controller import Controller
from rudderstack.analytics.client import Client as RudderClient
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


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_parquet_exports_reach_s3_compatible_storage(tmp_path):
    """A files destination writing Parquet to a bucket of moto's S3 server, with its keys read
    from the environment, fed by the RudderStack library."""
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    server = Silta(tmp_path / "data")
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-north-1",
                          aws_access_key_id="lake-id", aws_secret_access_key="lake-secret")
        deadline = time.time() + 30
        while True:
            try:
                s3.create_bucket(Bucket="silta-lake",
                                 CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
                break
            except botocore.exceptions.EndpointConnectionError:
                assert time.time() < deadline, "moto did not start"
                time.sleep(0.2)
        server.env.update(LAKE_KEY_ID="lake-id", LAKE_SECRET="lake-secret")
        spec = tmp_path / "lake.json"
        spec.write_text(json.dumps({
            "name": "Lake", "purpose": "analytics",
            "target": {"type": "files", "url": "s3://silta-lake/events", "format": "parquet",
                       "endpoint": endpoint, "region": "eu-north-1",
                       "access_key_id": {"env": "LAKE_KEY_ID"},
                       "secret_access_key": {"env": "LAKE_SECRET"}},
            "delivery": {"batch_size": 100, "linger_ms": 500},
        }))
        write_key = server.cli("sources", "add", "--name", "Shop", "--channel", "shop")
        destination = json.loads(server.cli("destinations", "add", str(spec)))["id"]
        server.start()
        client = RudderClient(write_key, host=server.url, sync_mode=True)
        consent = {"consent": {"categoryPreferences": {"analytics": True}}}
        refused = {"consent": {"categoryPreferences": {"analytics": False}}}
        for n in range(5):
            client.track(f"user-{n}", "Product Viewed", {"sku": f"SKU-{n}", "price": n + 0.5},
                         context=consent if n != 2 else refused, message_id=f"m-{n}")
        client.flush()

        rows = []
        deadline = time.time() + 30
        while len(rows) < 4 and time.time() < deadline:
            time.sleep(0.2)
            listed = s3.list_objects_v2(Bucket="silta-lake", Prefix="events/").get("Contents", [])
            rows = []
            for entry in listed:
                assert entry["Key"].startswith("events/dt="), entry["Key"]
                assert entry["Key"].endswith(".parquet"), entry["Key"]
                body = s3.get_object(Bucket="silta-lake", Key=entry["Key"])["Body"].read()
                rows += pyarrow.parquet.read_table(pyarrow.BufferReader(body)).to_pylist()
        assert sorted(row["userId"] for row in rows) == ["user-0", "user-1", "user-3", "user-4"]
        first = next(row for row in rows if row["userId"] == "user-0")
        assert first["event"] == "Product Viewed"
        assert first["idempotency_key"].endswith(":m-0")
        assert json.loads(first["properties"]) == {"sku": "SKU-0", "price": 0.5}

        shown = json.loads(server.cli("destinations", "show", destination))
        assert shown["stats"]["delivered"] == 4, shown
        assert shown["stats"]["suppressed_without_consent"] == 1, shown
        # The keys are named, never stored.
        assert "lake-secret" not in json.dumps(shown)
        assert b"lake-secret" not in b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*")
                                               if p.is_file())
    finally:
        if server.process:
            server.stop()
        moto.terminate()
        moto.wait(timeout=30)


class Inbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 OK"


def wait_until(condition, what, seconds=30):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_triggered_emails_with_frequency_cap_unsubscribe_and_a_recorded_send(tmp_path):
    """An email destination triggered by `Order Completed` of at least 10, sent through aiosmtpd to the
    person's address, at most once a day; its one-click unsubscribe link withdraws consent, and
    each send is recorded as an `Email Sent` event of the person."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    server = Silta(tmp_path / "data")
    server.env["SILTA_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    spec = tmp_path / "thanks.json"
    spec.write_text(json.dumps({
        "name": "Order thanks", "purpose": "marketing",
        "target": {"type": "email", "url": f"smtp://127.0.0.1:{smtp.port}",
                   "from": "Shop <shop@example.com>",
                   "template": {
                       "subject": "Thanks for order {{ properties.order_id }}",
                       "text": "Hi {{ properties.name | default('there') }}, your order of "
                               "{{ properties.revenue }} EUR is on its way.\n"
                               "Unsubscribe: {{ recipient.unsubscribe_url }}\n"}},
        "filter": {"events": ["Order Completed"],
                   "where": [{"field": "properties.revenue", "op": "gte", "value": 10}]},
        "frequency_cap": {"max": 1, "per_hours": 24},
    }))
    write_key = server.cli("sources", "add", "--name", "Shop", "--channel", "shop")
    token = server.cli("tokens", "add", "--role", "admin")
    destination = json.loads(server.cli("destinations", "add", str(spec)))["id"]
    server.start(listen=f"127.0.0.1:{port}")
    try:
        client = SegmentClient(write_key, host=server.url, sync_mode=True)
        consent = {"consent": {"categoryPreferences": {"marketing": True}}}
        refused = {"consent": {"categoryPreferences": {"marketing": False}}}
        client.identify("ada", {"email": " Ada@Example.com"}, context=consent)
        client.identify("bob", {"email": "bob@example.com"}, context=refused)
        # Below the trigger's condition: not even queued.
        client.track("ada", "Order Completed", {"order_id": "o-0", "revenue": 5}, context=consent)
        client.track("ada", "Order Completed", {"order_id": "o-1", "revenue": 30.5}, context=consent)
        client.track("ada", "Order Completed", {"order_id": "o-2", "revenue": 12}, context=consent)
        client.track("bob", "Order Completed", {"order_id": "o-3", "revenue": 90}, context=refused)
        client.flush()

        def figures():
            return json.loads(server.cli("destinations", "show", destination))["stats"]

        wait_until(lambda: figures()["capped"] + figures()["suppressed_without_consent"] == 2,
                   "the capped and the refused order")
        assert len(inbox.messages) == 1, inbox.messages
        recipients, message = inbox.messages[0]
        assert recipients == ["ada@example.com"]
        assert message["Subject"] == "Thanks for order o-1"
        assert message["From"] == "Shop <shop@example.com>"
        link = message["List-Unsubscribe"].strip("<>")
        assert link.startswith(f"http://127.0.0.1:{port}/v1/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = message.get_content()
        assert "Hi there, your order of 30.5 EUR is on its way." in body
        assert f"Unsubscribe: {link}" in body
        assert figures()["delivered"] == 1

        # The send is an event of the person.
        wait_until(lambda: server.sql(token, "SELECT user_id, channel, properties FROM events "
                                             "WHERE event = 'Email Sent'"), "the recorded send")
        [sent] = server.sql(token, "SELECT user_id, channel, properties FROM events WHERE event = 'Email Sent'")
        assert (sent["user_id"], sent["channel"]) == ("ada", "email")
        assert json.loads(sent["properties"])["destination_id"] == destination

        # Opening the link changes nothing; a changed link is refused; one click unsubscribes.
        with urllib.request.urlopen(link, timeout=30) as page:
            assert b"<form method=\"post\"" in page.read()
        assert server.get(token, "/v1/profiles/user_id/ada")["consent"]["purposes"]["marketing"]["granted"]
        forged = link[:-1] + ("0" if link[-1] != "0" else "1")
        try:
            urllib.request.urlopen(urllib.request.Request(forged, data=b"", method="POST"), timeout=30)
            raise AssertionError("a changed link was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        one_click = urllib.request.Request(link, data=b"List-Unsubscribe=One-Click", method="POST")
        with urllib.request.urlopen(one_click, timeout=30) as page:
            assert b"You are unsubscribed" in page.read()
        profile = server.get(token, "/v1/profiles/user_id/ada")
        assert profile["consent"]["purposes"]["marketing"]["granted"] is False

        # Tomorrow's order would pass the cap, but ada has withdrawn: nothing more is sent.
        client.track("ada", "Order Completed", {"order_id": "o-4", "revenue": 50}, context={})
        client.flush()
        wait_until(lambda: figures()["suppressed_without_consent"] == 2, "the withdrawn order")
        assert len(inbox.messages) == 1
    finally:
        server.stop()
        smtp.stop()
