"""The rectified-flow embedding generator and its building blocks."""
from .cache import Every, GenerationCache
from .generator import RFEmbeddingGenerator
from .solvers import SOLVERS, integrate
from .straightness import straightness

__all__ = ["Every", "GenerationCache", "RFEmbeddingGenerator", "SOLVERS", "integrate", "straightness"]
