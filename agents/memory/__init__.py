"""Memory: the stream and its retrieval, importance, reflection, and the agent's sense of itself."""

from .stream import Impression, MemoryNode, MemoryStream, RetrievalWeights

__all__ = ["Impression", "MemoryNode", "MemoryStream", "RetrievalWeights"]
