"""The rectified-flow embedding generator, its regression baseline, its noise placebo and their building blocks."""
from .base import EmbeddingGenerator
from .cache import Every, GenerationCache
from .factory import GENERATORS, make_generator
from .generator import RFEmbeddingGenerator
from .health import GeneratorHealth, health
from .placebo import NoiseEmbeddingGenerator
from .regression import RegressionEmbeddingGenerator
from .settings import GeneratorSettings
from .solvers import SOLVERS, integrate
from .straightness import straightness

__all__ = ["EmbeddingGenerator", "GeneratorSettings", "RFEmbeddingGenerator", "RegressionEmbeddingGenerator", "NoiseEmbeddingGenerator", "GENERATORS", "make_generator",
           "Every", "GenerationCache", "GeneratorHealth", "health", "SOLVERS", "integrate", "straightness"]
