"""Reading logged runs: the town at a time, tables, who told whom, model statistics, exports, believability."""
