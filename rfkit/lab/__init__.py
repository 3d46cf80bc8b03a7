"""The notebooks' layer: set-up, records, plots, widgets, and the analyses behind each notebook.

Nothing in the core (`rfkit.generator`, `rfkit.data`, `rfkit.models`, training, metrics, sweeps,
statistics, config) imports from here. A notebook's set-up is one call:

    from rfkit.lab import start
    lab = start("01_integration", QUICK, SEED, OUTPUT_DIR, FIGURES_DIR)
"""
from .setup import Lab, load_dataset, process_pool, start

__all__ = ["Lab", "load_dataset", "process_pool", "start"]
