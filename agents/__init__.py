"""Cognition: the generative agents that live in the town, and how they think.

``generative.GenerativeAgent`` is the agent the engine hosts (through
``agentville.sim.context``). Its parts sit in folders that build on each other:
``llm`` (asking the model for text that must parse, prompt templates from
``prompts/``, when each kind of request is due), ``memory`` (the stream and
retrieval, importance, reflection, the nightly sense of itself), ``talk``
(conversations and what each side takes away), ``planning`` (the day in
strokes, the schedule, an hour's steps, revisions, commitments, places).
At the top: ``acting`` (steps, reactions, sleep), ``living`` (the day loop)
and ``perception``.
"""
