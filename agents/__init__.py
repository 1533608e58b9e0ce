"""Cognition: how an agent decides what to do (routine now, generative agents later)."""
