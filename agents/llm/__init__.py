"""Asking the model: prompt templates, answers that must parse, and when each kind of request is due."""
