"""Cognition: the generative agents that live in the town, and how they think.

``generative.GenerativeAgent`` is the agent the engine hosts (through
``agentville.sim.context.protocols``); the other modules are its parts: ``days``
(wake-up, day plan, schedule, revisions), ``places`` (where to do
something), ``acting`` (steps, reactions, sleep), ``dialogue``,
``reflection``, ``memory`` (the memory stream and retrieval),
``perception``, ``planning`` (plan parsers), ``asking`` (asking the model for
text that must parse), ``templates`` (the prompt files in ``prompts/``),
``protocols`` (what dialogue and reflection need from an agent), ``ahead``
(the next chunk of the day, prepared during the current one) and ``timing``
(when each kind of request is due).
"""
