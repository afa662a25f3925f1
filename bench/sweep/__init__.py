"""`bench sweep`: Optuna studies built on the same runner, their search spaces and outputs."""
