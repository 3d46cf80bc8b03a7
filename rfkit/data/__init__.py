"""Data layer: interactions plus item modality features, in the MMRec protocol.

`load(source, **options)` is the entry point; see `sources.load` for the sources.
"""
from .cold_start import cold_half, cold_start, warm_items, warm_view
from .dataset import SPLITS, Dataset
from .mmrec import load_mmrec, save_mmrec
from .sources import SOURCES, load
from .synthetic import PRESETS, SyntheticConfig, SyntheticData, make_synthetic

__all__ = ["SPLITS", "Dataset", "load", "load_mmrec", "save_mmrec", "SOURCES",
           "PRESETS", "SyntheticConfig", "SyntheticData", "make_synthetic",
           "cold_start", "cold_half", "warm_items", "warm_view"]
