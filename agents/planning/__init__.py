"""Planning: the day in strokes, the hourly schedule, the current hour's steps, revisions and commitments."""
