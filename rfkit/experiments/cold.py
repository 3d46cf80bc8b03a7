"""Cold-item embeddings: what should replace the ID embedding of an item nobody interacted with?

Per (dataset, host, seed) ONE host is trained on the warm items of a cold-start dataset (BPR
negatives and early stopping on warm items only; see `rfkit.train`; through the run cache):

- ``multimodal``: MultimodalGCN without RF. Its final item embedding is the propagated ID row (the
  RF target) plus the mean modality embedding; the mappers' conditions are its modality rows.
- ``lightgcn``: ID-only LightGCN. Its item embedding is the propagated ID row alone; the mappers'
  conditions are the item modality features, standardized with warm-item statistics.

All methods share that host and differ only in the cold items' rows of the propagated ID table:

- ``untrained`` (``lightgcn`` only): left as initialized (a cold item is never in a batch, not even
  as a negative). In the ``multimodal`` host it equals ``zero``, its baseline: a cold row never
  received a gradient and propagation shrinks it (the records keep that gap, ``untrained_minus_zero``,
  and the RMS of cold and warm ID rows);
- ``zero`` (``multimodal`` only): zero rows, i.e. the content branch alone (in the ID-only host
  zero rows would tie every cold item, an arbitrary order rather than a method);
- ``rf_1step`` / ``rf`` / ``rf_mean``: an RF generator fitted AFTER the host on the warm rows, then
  sampled from the cold items' conditions with 1 step, the configured ``rf_sampling_steps``, and
  the mean of ``samples`` draws at the configured steps (seeded noise: inference is deterministic);
- ``regression``: the regression baseline, fitted after the host in the same way;
- ``host_ceiling`` (synthetic data only): the planted item factors mapped to the ID rows by least
  squares on the warm items: the best a linear content-to-ID mapper can do in this host;
- ``data_ceiling`` (synthetic data only): no host: cold items ranked by the planted user x item
  factors themselves, the best any method can do from what the data were drawn from;
- ``random``: random scores, no host: the chance level of every metric;
- ``vbpr_content`` (with ``references=True``; needs Cornac): no host either: Cornac's VBPR trained
  on the warm items, cold items scored by its content part alone (a reference written elsewhere,
  `rfkit.experiments.references.vbpr_cold_scores`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler
from torch import nn

from rfkit.data.cold_start import warm_items, warm_view
from rfkit.data.dataset import Dataset
from rfkit.experiments.run_cache import cached_call
from rfkit.experiments.runner import health_columns
from rfkit.generator import EmbeddingGenerator, health, make_generator
from rfkit.generator.factory import GENERATOR_KEY
from rfkit.metrics import cold_start_metrics
from rfkit.models import LightGCN, MultimodalGCN, bipartite_adjacency
from rfkit.models.multimodal import resolve_config
from rfkit.train import TrainResult, train

HOSTS = ("multimodal", "lightgcn")


@dataclass
class HostEmbeddings:
    """A trained host split into the parts a cold-item method touches.

    scores = users @ (item_id + item_extra).T; ``item_id`` is the propagated ID table whose cold
    rows the methods replace, ``item_extra`` the content branch (None in an ID-only host),
    ``conditions`` the per-modality content rows the mappers read.
    """

    users: torch.Tensor
    item_id: torch.Tensor
    item_extra: torch.Tensor | None
    conditions: list[torch.Tensor]

    def scores(self, item_id: torch.Tensor) -> torch.Tensor:
        items = item_id if self.item_extra is None else item_id + self.item_extra
        return self.users @ items.T


def build_host(host: str, config: Mapping[str, Any], dataset: Dataset, seed: int) -> nn.Module:
    """An untrained host model on ``dataset`` (model keys of ``config``; RF always off)."""
    if host not in HOSTS:
        raise ValueError(f"host must be one of {HOSTS}, got {host!r}")
    cfg = resolve_config({**config, "use_rf": False, "seed": seed})
    if host == "multimodal":
        return MultimodalGCN(cfg, dataset)
    model = LightGCN(dataset.n_users, dataset.n_items, bipartite_adjacency(dataset.matrix("train")),
                     cfg["embedding_dim"], cfg["n_layers"], cfg["reg_weight"], seed, cfg["device"])
    model.learning_rate = cfg["learning_rate"]
    return model


def train_host(dataset: Dataset, host: str, config: Mapping[str, Any], seed: int,
               train_options: Mapping[str, Any]) -> TrainResult:
    """`build_host` trained with `seed` on the warm items of a cold-start ``dataset``."""
    return train(build_host(host, config, dataset, seed), warm_view(dataset), seed=seed, **train_options)


@torch.no_grad()
def host_embeddings(model: nn.Module, dataset: Dataset) -> HostEmbeddings:
    """The parts of a trained MultimodalGCN or LightGCN (see `HostEmbeddings`)."""
    model.eval()
    if isinstance(model, MultimodalGCN):
        user_id, item_id = model.id_encoder()
        conditions = model.modality_conditions()
        content = torch.stack(conditions).mean(dim=0)
        return HostEmbeddings(user_id + content[:model.n_users], item_id,
                              content[model.n_users:], [c[model.n_users:] for c in conditions])
    if isinstance(model, LightGCN):
        users, items = model()
        warm = warm_items(dataset)
        conditions = [torch.from_numpy(StandardScaler().fit(f[warm]).transform(f)
                                       .astype(np.float32)).to(items.device)
                      for _, f in sorted(dataset.features.items())]
        return HostEmbeddings(users, items, None, conditions)
    raise TypeError(f"model must be a MultimodalGCN or LightGCN, got {type(model).__name__}")


def replace_rows(table: torch.Tensor, rows: np.ndarray, values: torch.Tensor) -> torch.Tensor:
    """A copy of ``table`` whose ``rows`` hold ``values``; every other row unchanged."""
    out = table.clone()
    out[torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(table.device)] = values
    return out


def fit_mapper(kind: str, config: Mapping[str, Any], target: torch.Tensor,
               conditions: list[torch.Tensor], steps: int, seed: int) -> EmbeddingGenerator:
    """A generator (``kind`` "flow" or "regression", the other rf_* keys of ``config``) trained
    with ``steps`` full-batch steps to map ``conditions`` to ``target`` (warm rows only)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    rf_keys = {k: v for k, v in config.items() if str(k).startswith("rf_")}
    generator = make_generator({**rf_keys, GENERATOR_KEY: kind}, target.shape[1])
    with torch.random.fork_rng(devices=[]):  # the fit's noise and dropout, without side effects
        torch.manual_seed(seed)
        for _ in range(steps):
            generator.compute_loss_and_step(target, conditions)
    return generator


def host_ceiling_rows(item_factors: np.ndarray, item_id: torch.Tensor, warm: np.ndarray,
                      cold: np.ndarray) -> torch.Tensor:
    """Cold rows of the least-squares affine map planted factors -> ID rows fitted on warm items."""
    factors = torch.from_numpy(np.asarray(item_factors, dtype=np.float64))
    design = torch.cat([factors, torch.ones(len(factors), 1, dtype=factors.dtype)], dim=1)
    coef = torch.linalg.lstsq(design[warm], item_id[warm].double().cpu()).solution
    return (design[cold] @ coef).to(item_id)


def _item_rows(parts: HostEmbeddings, items: np.ndarray) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The ID rows and the condition rows of `items`."""
    index = torch.from_numpy(items).to(parts.item_id.device)
    return parts.item_id[index], [c[index] for c in parts.conditions]


def fit_mappers(parts: HostEmbeddings, dataset: Dataset, config: Mapping[str, Any], seed: int,
                generator_steps: int = 1000) -> dict[str, EmbeddingGenerator]:
    """The content -> ID mappers of the cold-item methods, "flow" and "regression", each fitted
    with `fit_mapper` on the warm items' rows."""
    target, conditions = _item_rows(parts, warm_items(dataset))
    return {kind: fit_mapper(kind, config, target, conditions, generator_steps, seed)
            for kind in ("flow", "regression")}


def mapper_health(parts: HostEmbeddings, dataset: Dataset,
                  mappers: Mapping[str, EmbeddingGenerator]) -> dict[str, dict[str, Any]]:
    """Each mapper's `rfkit.generator.health` on the warm items it was fitted to."""
    target, conditions = _item_rows(parts, warm_items(dataset))
    return {kind: health(mapper, conditions, target).record() for kind, mapper in mappers.items()}


def cold_rows(parts: HostEmbeddings, dataset: Dataset, mappers: Mapping[str, EmbeddingGenerator],
              seed: int, samples: int = 8, item_factors: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """Method name -> the (n_cold, d) rows that replace the cold items' propagated ID rows;
    `mappers` from `fit_mappers`, `seed` seeds the flow's start noise."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    cold, warm = dataset.cold_items, warm_items(dataset)
    untrained, cold_conditions = _item_rows(parts, cold)
    # the host's baseline: the content branch alone where there is one, else the untrained row
    rows = {"untrained": untrained} if parts.item_extra is None else {"zero": torch.zeros_like(untrained)}
    flow = mappers["flow"]

    def noise() -> torch.Generator:  # on the CPU, so every device starts from the same noise
        return torch.Generator().manual_seed(seed)

    rows["rf_1step"] = flow.generate(cold_conditions, 1, generator=noise())
    rows["rf"] = flow.generate(cold_conditions, generator=noise())
    draws = noise()
    rows["rf_mean"] = torch.stack([flow.generate(cold_conditions, generator=draws)
                                   for _ in range(samples)]).mean(dim=0)
    rows["regression"] = mappers["regression"].generate(cold_conditions)
    if item_factors is not None:
        if np.shape(item_factors)[0] != dataset.n_items:
            raise ValueError(f"item_factors has {np.shape(item_factors)[0]} rows, "
                             f"dataset has {dataset.n_items} items")
        rows["host_ceiling"] = host_ceiling_rows(item_factors, parts.item_id, warm, cold)
    return rows


def id_row_sizes(parts: HostEmbeddings, dataset: Dataset) -> dict[str, float]:
    """RMS per coordinate of the propagated ID rows of the cold and of the warm items."""
    def rms(items: np.ndarray) -> float:
        return float(parts.item_id[torch.from_numpy(items).to(parts.item_id.device)].pow(2).mean().sqrt())
    return {"cold_id_rms": rms(dataset.cold_items), "warm_id_rms": rms(warm_items(dataset))}


# The methods whose rows a fitted mapper generates, and which mapper (its health goes with them).
MAPPER_OF = {"rf_1step": "flow", "rf": "flow", "rf_mean": "flow", "regression": "regression"}
FIT_SEED_STRIDE = 100  # mapper fit i of seed s is seeded s + 100 i, so the first fit is seeded s


def mean_health(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The health of several fits of one mapper as one record: each number's mean (a number the fits
    share, such as the row count, as it is), and the verdict "learned" only when every fit learned."""
    if not records:
        raise ValueError("records must hold the health of at least one fit")
    values = {k: [r[k] for r in records] for k in records[0] if k != "verdict"}
    numbers = {k: v[0] if len(set(v)) == 1 else float(np.mean(v)) for k, v in values.items()}
    learned = all(r["verdict"] == "learned" for r in records)
    return {**numbers, "verdict": "learned" if learned else "not learned"}


def _metrics(score: torch.Tensor, dataset: Dataset, ks: Sequence[int]) -> dict[str, float]:
    """The test cold/warm/all metrics and the same on the validation half prefixed ``valid_``."""
    test = cold_start_metrics(score, dataset, "test", ks)
    valid = cold_start_metrics(score, dataset, "valid", ks)
    return {**test, **{f"valid_{k}": v for k, v in valid.items()}}


def evaluate_cold_methods(dataset: Dataset, host: str, config: Mapping[str, Any], seed: int = 0,
                          train_options: Mapping[str, Any] | None = None,
                          item_factors: np.ndarray | None = None, generator_steps: int = 1000,
                          samples: int = 8, ks: Sequence[int] = (20,), references: bool = False,
                          user_factors: np.ndarray | None = None, mapper_fits: int = 1) -> pd.DataFrame:
    """Train one host on a cold-start dataset and score every cold-item method on it.

    ``config`` holds the model keys and rf_* keys (as configs/multimodal.yaml); ``train_options``
    go to `rfkit.train.train` (epochs, lr, patience, ...; progress is off unless given).
    ``item_factors`` (the planted factors of synthetic data) adds the host's ceiling, and with
    ``user_factors`` (rows = the cold-start dataset's users) the data's ceiling; ``references`` the
    Cornac VBPR content reference (``vbpr_content``). ``mapper_fits`` fits both mappers that many
    times on the one host (fit i seeded ``seed + FIT_SEED_STRIDE * i``, start noise included) and
    reports each mapper method's metrics averaged over the fits: their initialisation, dropout and
    noise then weigh less in a comparison between methods. One row per method:
    dataset, host, method, seed, the host's best epoch, the test ``cold_/warm_/all_`` Recall and
    NDCG@K and the same on the validation half prefixed ``valid_``; the rows of a mapper's methods
    also carry that mapper's health on the warm items (``health_*``, ``rf_steps_taken``).
    """
    if dataset.cold_items is None:
        raise ValueError(f"dataset {dataset.name!r} has no cold_items; make it with cold_start()")
    if isinstance(mapper_fits, bool) or not isinstance(mapper_fits, int) or mapper_fits < 1:
        raise ValueError(f"mapper_fits must be a positive int, got {mapper_fits!r}")
    result = cached_call(train_host, dataset, config.get("device", "cpu"), host, dict(config), seed,
                         {"progress": False, **(train_options or {})})
    parts = host_embeddings(result.model, dataset)
    fits, fit_healths = [], []  # per mapper fit: method -> metrics, and the mappers' health
    for fit_seed in (seed + FIT_SEED_STRIDE * i for i in range(mapper_fits)):
        mappers = fit_mappers(parts, dataset, config, fit_seed, generator_steps)
        fit_healths.append(mapper_health(parts, dataset, mappers))
        rows = cold_rows(parts, dataset, mappers, fit_seed, samples, item_factors)
        scored = {method: parts.scores(replace_rows(parts.item_id, dataset.cold_items, values))
                  for method, values in rows.items()}
        fits.append({method: _metrics(score, dataset, ks) for method, score in scored.items()})
    # the host's own row and its ceiling are the same in every fit; the mappers' methods are averaged
    metrics = {**fits[0], **{method: pd.DataFrame([fit[method] for fit in fits]).mean().to_dict()
                             for method in MAPPER_OF}}
    healths = {kind: mean_health([health[kind] for health in fit_healths]) for kind in ("flow", "regression")}
    scores = {}  # the methods without a host row
    if user_factors is not None and item_factors is not None:
        scores["data_ceiling"] = torch.from_numpy(np.asarray(user_factors, np.float32)
                                                  @ np.asarray(item_factors, np.float32).T)
    scores["random"] = torch.rand(dataset.n_users, dataset.n_items,
                                  generator=torch.Generator().manual_seed(seed))
    if references:
        from rfkit.experiments.references import vbpr_cold_scores  # needs Cornac
        scores["vbpr_content"] = vbpr_cold_scores(dataset, seed)
    metrics.update({method: _metrics(score, dataset, ks) for method, score in scores.items()})
    host_numbers = {"best_epoch": result.best_epoch, **id_row_sizes(parts, dataset)}
    if parts.item_extra is not None:  # the untrained row, measured only to show it equals zero
        untrained, zero = (cold_start_metrics(score, dataset, "test", (20,))["cold_recall@20"]
                           for score in (parts.scores(parts.item_id), scored["zero"]))
        host_numbers["untrained_minus_zero"] = untrained - zero
    records = []
    for method, values in metrics.items():
        mapper = MAPPER_OF.get(method)
        generator = ({"generator": None} if mapper is None else
                     {"mapper_fits": mapper_fits, **health_columns(healths[mapper], generator_steps, mapper)})
        records.append({"dataset": dataset.name, "host": host, "method": method, "seed": seed, **host_numbers,
                        **values, **generator})
    return pd.DataFrame.from_records(records)
