"""`--until-decided` and `bench decide`: the loop that adds test items, seeds or cost repeats until
every pair is decided, its looks, and its backends (in this process, or over a run queue)."""
