"""Guarantee Registry: the domain.

Signed records of a farm product's journey, an append-only Merkle log of them, and the
endorsements officials give on livestreams. Nothing in this package imports a web framework.
"""

__version__ = "0.1.0"
