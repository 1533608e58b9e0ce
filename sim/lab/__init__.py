"""Experiments on agents: interventions, interviews, ablations, measures of what agents know, and sweeps."""
