"""Running a registry: first start (genesis, the operator, the server keys) and portable
backup and restore between SQLite and PostgreSQL (docs/security.md)."""
