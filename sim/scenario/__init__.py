"""Scenarios: the schema of a town and its people, loading with line numbers, checks, the copy a run stores."""

from .loading import load_scenario, load_scenario_text, schema_message
from .schema import (
    MAX_SEED,
    AreaSpec,
    CognitionSpec,
    GenerationSpec,
    InterventionSpec,
    ObjectSpec,
    PathSpec,
    PersonaSpec,
    PlaceSpec,
    RoutineStep,
    Scenario,
    TownSpec,
)

__all__ = ["AreaSpec", "CognitionSpec", "GenerationSpec", "InterventionSpec", "ObjectSpec", "PathSpec",
           "PersonaSpec", "PlaceSpec", "RoutineStep", "Scenario", "TownSpec", "load_scenario", "load_scenario_text",
           "schema_message", "MAX_SEED"]
