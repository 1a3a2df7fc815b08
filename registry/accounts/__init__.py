"""Who may act: organizations, accounts, API tokens, back-office sessions and invites.

Functions take a SQLAlchemy ``Session``; they flush, and the caller's boundary commits.
"""
