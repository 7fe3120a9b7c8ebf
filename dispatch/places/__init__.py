"""Places the center learns from its own work: the words call-takers typed for a confirmed point."""
