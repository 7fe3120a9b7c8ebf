"""Supervisor reports: response-time fractiles against the standards, call mix, follow-up, queue.

Pure functions over the database: each takes a session (and a period in the region's time zone) and returns a
`Table`, which the web layer turns into JSON or CSV.
"""
