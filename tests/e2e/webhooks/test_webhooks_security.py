"""SSRF refusals at send time (deployed mode) and secret rotation."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as StdError

from tests.e2e.webhooks.webhook_helpers import Org, Receiver, komos_verify, verify_both


def _deployed_sender(container: Any) -> Any:
    """The real sender with deployed-stage settings (the local cloud allows private targets)."""
    from runhook.netguard import _system_resolver
    from runhook.webhooks.send import Sender

    def resolver(host: str, port: int) -> list[str]:
        if host == "intranet.example.test":  # a public name that points inside
            return ["10.20.30.40"]
        return _system_resolver(host, port)

    settings = container.settings.model_copy(update={"allow_private_targets": False})
    assert settings.deployed and settings.deliveries_dlq_url
    return Sender(
        settings=settings,
        endpoints=container.webhooks.endpoints,
        deliveries=container.webhooks.deliveries,
        queue=container.delivery_queue,
        publish=lambda detail_type, detail: container.bus.publish([(detail_type, detail)]),
        resolver=resolver,
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://127.0.0.1:{port}/hook", "target_not_allowed"),
        ("https://10.0.0.1/hook", "target_not_allowed"),
        ("https://169.254.169.254/latest/meta-data/", "target_not_allowed"),
        ("https://[::1]:{port}/hook", "target_not_allowed"),
        ("https://intranet.example.test/hook", "target_not_allowed"),
        ("https://localhost:{port}/hook", "target_not_allowed"),
        ("https://[::ffff:127.0.0.1]:{port}/hook", "target_not_allowed"),
        ("http://example.com/hook", "scheme_not_allowed"),
    ],
)
def test_deployed_mode_refuses_private_targets(
    org: Org, receivers: Any, url: str, code: str, container: Any
) -> None:
    from runhook import clock
    from runhook.adapters.deliveries import QueueMessage
    from runhook.webhook_models import Delivery
    from runhook.webhooks.send import Record

    receiver: Receiver = receivers()
    target = url.format(port=receiver.port)
    # Created in local mode (which allows them); a deployed sender must refuse at send time.
    endpoint_id, _ = org.endpoint(target, enabled=True)
    org.api.patch(f"/webhook-endpoints/{endpoint_id}", json={"events": ["task-run.waiting"]})
    delivery_id = str(uuid.uuid4())
    now = clock.now_iso()
    delivery = Delivery(
        id=delivery_id,
        org_id=org.id,
        endpoint_id=endpoint_id,
        event_type="task-run.started",
        webhook_id=delivery_id,
        payload='{"id":"x"}',
        created_at=now,
        updated_at=now,
    )
    container.webhooks.deliveries.create(delivery)
    message = QueueMessage.of(delivery)
    report = _deployed_sender(container).send_batch([Record("m-1", "unused", message.body(), 1)])
    assert report.failed_message_ids == []  # dead-lettered by the sender, not retried
    delivery = org.delivery(delivery_id)
    assert delivery["status"] == "failed"
    (attempt,) = delivery["attempts"]
    assert attempt["statusCode"] is None and not attempt["success"]
    assert attempt["error"].startswith(f"blocked: {code}"), attempt["error"]
    assert receiver.received() == []
    assert org.get_endpoint(endpoint_id)["health"]["consecutiveFailures"] == 1


def test_secret_rotation_overlap(org: Org, receivers: Any) -> None:
    receiver: Receiver = receivers()
    endpoint_id, old = org.endpoint(receiver.url)
    resp = org.api.post(f"/webhook-endpoints/{endpoint_id}/rotate-secret")
    assert resp.status_code == 200, resp.text
    body = resp.json()["endpoint"]
    new = body["secret"]
    assert new.startswith("whsec_") and new != old
    assert body["previousSecretExpiresAt"] and body["secretRotatedAt"]
    assert "secret" not in org.get_endpoint(endpoint_id)  # shown only at creation/rotation

    org.publish("task-run.started")
    during = receiver.wait_for(1)[0]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.headers["x-komos-signature"].count("v1=") == 2
    verify_both(during, old)
    verify_both(during, new)

    # Rotate again with a one-second overlap: once it is over, only the newest secret signs.
    resp = org.api.post(
        f"/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlapSeconds": 1}
    )
    newest = resp.json()["endpoint"]["secret"]
    time.sleep(1.5)
    org.publish("task-run.completed")
    after = receiver.wait_for(1, event="task-run.completed")[0]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    verify_both(after, newest)
    for stale in (old, new):
        with pytest.raises(StdError):
            Webhook(stale).verify(after.body, after.headers)
        assert not komos_verify(after.body, after.headers["x-komos-signature"], stale)

    bad = org.api.post(
        f"/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlapSeconds": 90000}
    )
    assert bad.status_code == 400
