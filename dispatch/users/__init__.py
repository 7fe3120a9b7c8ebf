"""People who use the system, their roles, and their login tokens."""
