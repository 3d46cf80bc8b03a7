"""The rectified-flow embedding generator, its regression baseline and their building blocks."""
from .factory import GENERATORS, make_generator
from .cache import Every, GenerationCache
from .generator import RFEmbeddingGenerator
from .regression import RegressionEmbeddingGenerator
from .solvers import SOLVERS, integrate
from .straightness import straightness

__all__ = ["RFEmbeddingGenerator", "RegressionEmbeddingGenerator", "GENERATORS", "make_generator",
           "Every", "GenerationCache", "SOLVERS", "integrate", "straightness"]
