"""Many runs: the session, the launcher that orders them, the run queue and its workers, cost
repeats, the Optuna storage that queues and sweeps share, and the console."""
