"""Notifications: webhooks that tell organizations of events (a ``recall``) as they happen.

* **Subscriptions** (``subscriptions``) belong to an organization. The secret is 32 random
  bytes shown once, at creation; at rest it is sealed with AES-256-GCM under the registry's
  master key, the subscription id being authenticated data (``signing``).
* **Outbox** (``outbox``). ``enqueue`` writes one ``webhook_deliveries`` row per
  subscription in the caller's transaction: the event and its notifications commit together
  or not at all. The body is fixed then, so every attempt sends (and signs) the same bytes.
* **Delivery** (``delivery``). A ``WebhookDeliverer`` thread claims due deliveries in a short
  transaction (a lease in ``locked_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
  several workers never send one delivery twice at once), POSTs them with no transaction
  open, then records the attempt. A 2xx answer delivers; anything else is retried after
  1 s, 2 s, 4 s, … (capped) until ``max_attempts``, then the delivery is ``failed``.
* **Signature** (``signing``). ``X-Registry-Signature: sha256=<hex HMAC-SHA256(secret,
  body)>`` (RFC 2104) over the exact body bytes, with ``X-Registry-Event`` and
  ``X-Registry-Delivery`` (the delivery id, the same on every retry: receivers deduplicate on
  it). ``verify_signature`` is what a receiver runs.
"""
