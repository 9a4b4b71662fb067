"""The official Segment and RudderStack Python libraries, unmodified, pointed at Silta."""

import datetime
import uuid

import pytest

from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError


def send_every_call_type(client, prefix):
    """Sends track/identify/page/group/alias with known message ids; returns them."""
    ids = {kind: f"{prefix}-{kind}-{uuid.uuid4()}" for kind in ("track", "identify", "page", "group", "alias")}
    client.identify("user-42", {"email": "ada@example.com", "plan": "pro"}, message_id=ids["identify"])
    client.track(
        "user-42", "Order Completed", {"revenue": 49.5, "currency": "EUR", "order_id": "o-1"},
        context={"campaign": {"source": "newsletter", "medium": "email", "name": "november"}},
        message_id=ids["track"],
    )
    client.page(
        anonymous_id="anon-7", name="Pricing",
        properties={"url": "https://shop.example/pricing?utm_source=google&utm_medium=cpc", "referrer": "https://www.google.com/"},
        message_id=ids["page"],
    )
    client.group("user-42", "acme-corp", {"name": "Acme"}, message_id=ids["group"])
    client.alias("anon-7", "user-42", message_id=ids["alias"])
    client.flush()
    return ids


def assert_events_arrived(silta, ids, library_name):
    id_list = ", ".join(f"'{message_id}'" for message_id in ids.values())
    rows = silta.sql(
        silta.token,
        "SELECT message_id, type, event, name, user_id, anonymous_id, group_id, previous_id, channel, "
        "revenue, currency, utm_source, utm_medium, utm_campaign, page_path, page_referrer, "
        "traits->>'email' AS email, json_get_str(context, 'library', 'name') AS library, "
        f"received_at, timestamp FROM events WHERE message_id IN ({id_list})",
    )
    by_type = {row["type"]: row for row in rows}
    assert len(rows) == 5, rows
    assert set(by_type) == {"track", "identify", "page", "group", "alias"}
    assert all(row["library"] == library_name for row in rows), rows
    assert all(row["channel"] == "server" for row in rows)

    track = by_type["track"]
    assert (track["event"], track["user_id"], track["revenue"], track["currency"]) == ("Order Completed", "user-42", 49.5, "EUR")
    assert (track["utm_source"], track["utm_medium"], track["utm_campaign"]) == ("newsletter", "email", "november")
    assert by_type["identify"]["email"] == "ada@example.com"
    page = by_type["page"]
    assert (page["name"], page["anonymous_id"], page["page_path"]) == ("Pricing", "anon-7", "/pricing")
    assert (page["utm_source"], page["utm_medium"], page["page_referrer"]) == ("google", "cpc", "https://www.google.com/")
    assert by_type["group"]["group_id"] == "acme-corp"
    assert (by_type["alias"]["previous_id"], by_type["alias"]["user_id"]) == ("anon-7", "user-42")
    for row in rows:
        received = datetime.datetime.fromisoformat(row["received_at"].replace("Z", "+00:00"))
        happened = datetime.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        assert abs((received - happened).total_seconds()) < 60, row


def test_segment_python_library(silta):
    errors = []
    client = SegmentClient(silta.write_key, host=silta.url, sync_mode=True, on_error=lambda error, _: errors.append(error))
    ids = send_every_call_type(client, "segment")
    assert errors == []
    assert_events_arrived(silta, ids, "analytics-python")


def test_rudderstack_python_library_with_gzip(silta):
    errors = []
    client = RudderClient(silta.write_key, host=silta.url, gzip=True, sync_mode=True, on_error=lambda error, _: errors.append(error))
    ids = send_every_call_type(client, "rudder")
    assert errors == []
    assert_events_arrived(silta, ids, "analytics-python")


def test_an_unknown_write_key_is_reported_to_the_client(silta):
    client = SegmentClient("not-a-key", host=silta.url, sync_mode=True, max_retries=0)
    with pytest.raises(APIError) as refused:
        client.track("user-1", "Ignored")
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert refused.value.message == "unknown write key"


def test_a_visitor_who_signs_up_becomes_one_profile(silta):
    client = SegmentClient(silta.write_key, host=silta.url, sync_mode=True)
    visitor = f"cookie-{uuid.uuid4()}"
    client.page(anonymous_id=visitor, name="Home", properties={"url": "https://shop.example/?utm_campaign=spring"})
    client.identify("user-77", {"email": " Grace@Example.com "}, anonymous_id=visitor)
    client.track("user-77", "Order Completed", {"revenue": 20.0, "currency": "EUR"})
    client.flush()

    profile = silta.get(silta.token, "/v1/profiles/email/grace%40example.com")
    assert {"type": "anonymous_id", "value": visitor} in profile["identifiers"]
    assert {"type": "user_id", "value": "user-77"} in profile["identifiers"]
    assert profile["traits"]["email"]["value"] == " Grace@Example.com "
    assert (profile["computed"]["event_count"], profile["computed"]["total_revenue"]) == (3, 20.0)
    assert profile["computed"]["first_touch"]["campaign"] == "spring"

    timeline = silta.get(silta.token, f"/v1/profiles/anonymous_id/{visitor}/events?limit=2")
    assert [event["type"] for event in timeline["events"]] == ["track", "identify"]
    people = silta.sql(
        silta.token,
        "SELECT count(DISTINCT profile_id(user_id, anonymous_id)) AS people FROM events "
        f"WHERE anonymous_id = '{visitor}' OR user_id = 'user-77'",
    )
    assert people == [{"people": 1}]
