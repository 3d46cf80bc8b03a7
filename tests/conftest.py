"""Shared test set-up."""
import torch

# The tests train tiny models: on a 2-core machine intra-op threads cost more than they buy.
torch.set_num_threads(1)
