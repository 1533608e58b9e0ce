"""How long thinking takes, in simulated time: the due times of an agent's requests.

Every request to the model carries a due time, the simulated moment its
answer is needed (``GenerationService.due_time``). These constants set them.
They are functions of simulated time only, the same for every run, so the log
does not depend on how fast the model answers; and the later an answer is
due after it is asked, the more other requests it can share a batch with.

- Remembering does not stop an agent: a new memory is rated and stored
  ``CONSOLIDATION_S`` after it was noticed, while the agent goes on.
- Deciding takes a moment: whether to talk to someone it sees
  (``REACTION_S``), how to go on after a conversation or a thought, where to
  do the next thing and how to split it into steps when that was not thought
  out ahead (``DECIDING_S``).
- Reflecting runs beside the day; each of its steps is due ``THINKING_S``
  after it is asked.
- Falling asleep, an agent decides when to get up (due ``FALLING_ASLEEP_S``
  later); the next day's plan is then asked, due when it wakes.
- Thinking ahead (``agents.planning.ahead``) and speaking (``agents.talk.dialogue``) use
  the time the current step or line takes: the next one is due when it ends.
"""

CONSOLIDATION_S = 60.0
REACTION_S = 10.0
DECIDING_S = 10.0
THINKING_S = 60.0
FALLING_ASLEEP_S = 30 * 60.0
