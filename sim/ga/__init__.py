"""The reference implementation's towns (generative_agents): maze, names and personas, as scenarios."""
