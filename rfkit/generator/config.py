"""Map the spec's YAML keys (`rf_hidden_dim`, `rf_lr`, ...) onto constructor arguments."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

# The spec's own short names; every other argument is spelled rf_<argument>.
SPEC_ALIASES = {
    "rf_lr": "learning_rate",
    "rf_mix_ratio": "train_mix_ratio",
}

# Keys of the host's integration, not of the generator's constructor: how often the host updates
# RF (``rf_step_every``, with `Every`) and with how many optimizer steps on that batch's detached
# targets and conditions (``rf_steps_per_update``; ``rf_warmup_steps_per_update`` while nothing is mixed
# in yet), and when and with how many ODE steps it regenerates in
# training (``rf_refresh_every``, ``rf_train_sampling_steps``, read by `GenerationCache.from_config`).
INTEGRATION_KEYS = ("rf_step_every", "rf_steps_per_update", "rf_warmup_steps_per_update", "rf_refresh_every",
                    "rf_train_sampling_steps")


def config_keys(arguments: Iterable[str]) -> dict[str, str]:
    """YAML key -> constructor argument for the given constructor arguments."""
    aliased = set(SPEC_ALIASES.values())
    keys = {f"rf_{a}": a for a in arguments if a not in aliased}
    keys.update({k: a for k, a in SPEC_ALIASES.items() if a in set(arguments)})
    return keys


def arguments_from_config(config: Mapping[str, Any], arguments: Iterable[str]) -> dict[str, Any]:
    """Constructor kwargs from the `rf_*` keys of a config; other keys (use_rf, model keys) and
    the `INTEGRATION_KEYS` are ignored.

    An unknown `rf_*` key is an error that suggests the closest valid key, so a typo never
    silently falls back to a default.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping (e.g. a dict loaded from YAML), got {type(config).__name__}")
    keys = config_keys(arguments)
    kwargs = {}
    for key, value in config.items():
        if not (isinstance(key, str) and key.startswith("rf_")) or key in INTEGRATION_KEYS:
            continue
        if key not in keys:
            valid = [*keys, *INTEGRATION_KEYS]
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown config key {key!r}{hint}. Valid keys: {sorted(valid)}")
        kwargs[keys[key]] = value
    return kwargs
