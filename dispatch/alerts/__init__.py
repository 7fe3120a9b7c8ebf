"""Public alerts in CAP 1.2 (BMKG, InaTEWS): received, kept once, shown to the consoles; incidents as CAP out."""
