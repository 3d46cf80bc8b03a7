"""The rectified-flow embedding generator, its regression baseline, its noise placebo and their building blocks."""
from .factory import GENERATORS, make_generator
from .cache import Every, GenerationCache
from .generator import RFEmbeddingGenerator
from .health import GeneratorHealth, health
from .placebo import NoiseEmbeddingGenerator
from .regression import RegressionEmbeddingGenerator
from .solvers import SOLVERS, integrate
from .straightness import straightness

__all__ = ["RFEmbeddingGenerator", "RegressionEmbeddingGenerator", "NoiseEmbeddingGenerator", "GENERATORS", "make_generator",
           "Every", "GenerationCache", "GeneratorHealth", "health", "SOLVERS", "integrate", "straightness"]
