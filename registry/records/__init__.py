"""Signed records: their format, and accepting them into the log.

``schema`` (with ``fields`` and ``parts``) says what a record of each kind may say
(docs/records.md). ``ingest`` accepts DSSE envelopes: ``signers`` checks who signed and may
they, ``projection`` and ``endorsement_projection`` project each kind into the tables
(``evidence`` is what an endorsement's preconditions are evaluated on), ``ingest_cache``
holds what one submission looks up. ``custodial`` completes drafts and signs them with an
account's custodial key; ``keys`` manages signing keys; ``stored`` reads stored records back
and checks them again; ``receipts`` gives a record's tlog proof.

The endorsement workflow (``registry.endorsements``) builds on this package, never the
other way round.
"""
