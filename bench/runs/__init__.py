"""One run and its folder: the executor, the training loop, batching, checkpoints and kept weights,
the recorder (which writes a run's rows) and the folder lock."""
