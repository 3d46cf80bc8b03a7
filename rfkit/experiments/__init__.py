"""Experiments: train a configuration on seeds (runner), grids of them (sweep), RF's training
cost (cost) and the cold-item methods (cold). Core: nothing here imports the lab."""
