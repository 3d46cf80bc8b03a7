"""rfkit: Rectified Flow embedding generation for recommender systems.

Layers, lowest first: data -> models (backbones) -> generator -> train -> metrics -> sweep,
plots, widgets, report. Import the generator with `from rfkit import RFEmbeddingGenerator`.
"""
from .generator import GenerationCache, RFEmbeddingGenerator, straightness

__version__ = "0.1.0"
__all__ = ["GenerationCache", "RFEmbeddingGenerator", "straightness", "__version__"]
