"""Problem reports: what viewers of the consumer page tell the registry ("report a problem"),
shown to those who can act on it.
"""
