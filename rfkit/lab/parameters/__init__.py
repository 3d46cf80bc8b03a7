"""Notebook 08's analysis: every documented generator parameter, one at a time, and the spec's FAQ.

The sweep starts from the kit's config (`rfkit.config.load("recommended")`) and
changes one of the 14 documented `RFEmbeddingGenerator` parameters (all but `embedding_dim`) at a
time. Every trained model is measured by `measure` (metrics at its best validation epoch, the RF
and contrastive losses of its last epoch, how far its generated embeddings land from their
targets, seconds per epoch) and re-scored at several inference mix ratios, so
`inference_mix_ratio` costs no training. Every effect is a paired difference over seeds against
the kit's config (`rfkit.stats.paired_differences`); the conclusions are sentences computed from
those tables. The spec's FAQ is measured in `rfkit.lab.faq`.

By job: `grid` (parameters, values, configs, budget), `measure` (one trained model), `tables`
(runs and paired differences), `sentences` (the conclusions) and `plots`.
"""
from .grid import (CHOOSE_ON, EXAMPLE, GRID, INFERENCE, JUDGE_ON, MEANING, PARAMETERS, QUICK_BATCH, QUICK_EPOCHS,
                   SweepPlan, budget, check_grid, config_key, documented_default, followup_grid, kit_value,
                   parameter_table, quick_grid, sweep_budget, sweep_plan)
from .measure import MEASURED, contrast_rows, measure
from .plots import panel, plot_effects, setting_summary
from .sentences import followup_conclusions, listing, sweep_conclusions, value_label
from .tables import effects_table, parameter_deltas, rescored_table, top_parameters

__all__ = ["CHOOSE_ON", "EXAMPLE", "GRID", "INFERENCE", "JUDGE_ON", "MEANING", "MEASURED", "PARAMETERS",
           "QUICK_BATCH", "QUICK_EPOCHS", "SweepPlan", "budget", "check_grid", "config_key",
           "contrast_rows", "documented_default", "effects_table", "followup_conclusions",
           "followup_grid", "kit_value", "listing", "measure", "panel", "parameter_deltas", "parameter_table",
           "plot_effects", "quick_grid", "rescored_table", "setting_summary", "sweep_budget", "sweep_conclusions",
           "sweep_plan", "top_parameters", "value_label"]
