"""Graph recommender backbones: LightGCN and the multimodal model that hosts the RF generator."""
from .graph import bipartite_adjacency, item_knn_graph, user_item_mean
from .lightgcn import LightGCN
from .multimodal import MultimodalGCN

__all__ = ["LightGCN", "MultimodalGCN", "bipartite_adjacency", "item_knn_graph", "user_item_mean"]
