"""Non-emergency complaints referred to the responsible agency (OPD), and their follow-up."""
