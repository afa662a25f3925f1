"""What a run costs: trackers around the training loop, NVML, process memory, FLOPs, the machine."""
