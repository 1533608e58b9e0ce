"""The kernel's vocabulary: simulated time, the simpy kernel, locations, place names, the event schema, errors,
how memories are scored."""
