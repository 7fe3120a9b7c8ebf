"""Agencies (damkar, PSC 119, BPBD...), their stations and their units."""
