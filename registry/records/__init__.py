"""Signed records: their format, and accepting them into the log.

``schema`` (with ``fields`` and ``parts``) says what a record of each kind may say
(docs/records.md); ``ingest`` accepts DSSE envelopes, applies the signing policy and
projects each record into the tables; ``custodial`` signs drafts with an account's
custodial key; ``keys`` manages signing keys; ``receipts`` gives a record's tlog proof.
"""
