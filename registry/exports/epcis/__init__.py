"""EPCIS 2.0 JSON-LD: signed records to events (export) and events to record drafts (capture)."""
