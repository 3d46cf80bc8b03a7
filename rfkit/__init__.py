"""rfkit: Rectified Flow embedding generation for recommender systems.

Core, lowest first: data -> models (backbones) -> generator -> train -> metrics and stats ->
experiments (runner, sweeps, cost, cold start); config and machine beside them. The lab (set-up,
analyses, plots, widgets) serves the notebooks; publish (reports, README) and the command line sit
on top. Import the generator with `from rfkit import RFEmbeddingGenerator`.
"""
from .generator import GenerationCache, RFEmbeddingGenerator, straightness

__version__ = "0.1.0"
__all__ = ["GenerationCache", "RFEmbeddingGenerator", "straightness", "__version__"]
