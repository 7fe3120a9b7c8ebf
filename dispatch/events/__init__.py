"""The append-only event log and the bus that fans committed events out to subscribers."""
