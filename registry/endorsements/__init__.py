"""Endorsements: an official's signed guarantee of named batches, given on a livestream.

``requests`` (a cooperative asks), ``decisions`` (the official reviews the evidence, then
approves, rejects or revokes), ``published`` (an endorsement by its code, and its status),
``verify`` (the public verification document), ``scan_cache`` and ``scans`` (serving and
counting label scans). Accepting the signed records themselves is ``registry.records``'
job (docs/records.md, "Endorsements").
"""
