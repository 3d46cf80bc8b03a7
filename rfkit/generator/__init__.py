"""The rectified-flow embedding generator and its building blocks."""
from .generator import RFEmbeddingGenerator
from .solvers import SOLVERS, integrate
from .straightness import straightness

__all__ = ["RFEmbeddingGenerator", "SOLVERS", "integrate", "straightness"]
