"""The price table: a data file, per `provider:model`, in USD per million tokens."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from integrations.errors import ConfigurationError
from integrations.llm.base import Usage

log = logging.getLogger(__name__)
BUNDLED = Path(__file__).with_name("prices.json")


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float = 0.0
    cache_write: float = 0.0

    def cost(self, usage: Usage) -> float:
        # `input_tokens` counts every input token (adapters normalise to that); cache reads
        # and writes are billed at their own rates, the rest at the input rate.
        fresh = max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0)
        return (fresh * self.input + usage.output_tokens * self.output
                + usage.cached_input_tokens * self.cached_input
                + usage.cache_write_tokens * self.cache_write) / 1e6


class PriceTable:
    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices
        self._warned: set[str] = set()

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        path = path or BUNDLED
        try:
            raw = json.loads(path.read_text())
            prices = {model: Price(**entry) for model, entry in raw.items()
                      if not model.startswith("_")}
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"NIGHTOWL_PRICES_FILE ({path}) is not a valid price "
                                     f"table: {exc}") from exc
        return cls(prices)

    def cost(self, model: str, usage: Usage) -> float:
        price = self.prices.get(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("no price for %s: its calls are recorded at $0 (add it to the "
                            "price table)", model)
            return 0.0
        return price.cost(usage)
