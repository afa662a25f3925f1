"""Running one model run and many: the executor, the recorder, the launcher and the training loop."""
