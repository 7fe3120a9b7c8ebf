"""The dispatch core: calls, incidents, units and the event log. No web or telephony code lives here."""
