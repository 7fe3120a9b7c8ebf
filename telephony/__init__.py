"""Telephony bridges: Asterisk (ARI and AGI) and Twilio, translating vendor payloads into dispatch calls."""
