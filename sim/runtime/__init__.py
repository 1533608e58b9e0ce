"""Running a town: the engine, the out-of-order scheduler, pacing, and the one place that assembles a run."""
