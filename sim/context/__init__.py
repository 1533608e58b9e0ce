"""What an agent may see and do, and what the engine needs from an agent: protocols, and the promises agents make."""

from .promises import Promises
from .protocols import Agent, AgentContext, AgentFactory, Process, SubProcess

__all__ = ["Agent", "AgentContext", "AgentFactory", "Process", "Promises", "SubProcess"]
