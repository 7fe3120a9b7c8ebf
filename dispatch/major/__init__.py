"""Major incidents (disaster mode): one declared event over an area, the reports filed under it, triage counts
per site, units staged for it, the surge it brings to the 112 line, and the shelters people are sent to."""
