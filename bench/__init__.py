"""The benchmark suite behind ``registry bench`` (see docs/performance.md)."""
