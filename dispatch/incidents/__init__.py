"""Incidents, the incident-type catalogue, assignments of units, duplicates."""
