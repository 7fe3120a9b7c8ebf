"""Asterisk REST Interface: our own thin client, the Stasis application with its ACD, and how it runs."""
