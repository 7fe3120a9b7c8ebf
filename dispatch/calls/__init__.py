"""Calls to 112: from ringing to classification, caller history and repeat-abuse flags."""
