"""Which units to send: the response plan's slots filled with the units that will arrive first."""
