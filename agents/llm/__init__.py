"""Asking the model: prompt templates, answers that must parse and their shapes, and when each request is due."""
