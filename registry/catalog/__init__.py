"""The catalogue: products an organization registers and the batches (lots) made of them.

Functions take a SQLAlchemy ``Session``; they flush, and the caller's boundary commits.
"""
