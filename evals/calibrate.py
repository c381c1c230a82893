"""Fit the investigator's confidence calibration on the pooled development suites, and check
it across suites.

    python -m evals.calibrate                 # run the suites, fit, print the constants
    python -m evals.calibrate --reuse         # refit on the cached per-case answers

The confidence of the top cause is Platt scaling (a logistic curve) over the features that
the ranking reports for it (`Report.confidence_basis`, `Basis.features`): its strength, its
margin over the runner-up, the number of independent modalities behind it (metrics, logs,
traces, a change event), whether a call path connects it to the alert, whether the run had
a call graph at all, and without one whether it is also the loudest anomaly. The constants
(`Thresholds.calibration_*`) are fitted by L2-regularised logistic regression on every
decisive fault case of the development suites, and one more, `abstained_confidence`: how
often the strongest lead of an abstention was the cause anyway. The suites: synthetic seed
3, wide seeds 7 and 11, wide-bare seed 7, the three public-shaped suites (RCAEval RE1-RE3
shapes, written without reading the investigator) at seed 7, PetShop's train split,
PetShop-injected seed 11, and the two generators written blind to the rules, `prod` and
`cluster`, at seeds 5 and 7: without them the curve only knew suites the investigator does
well on, and was as sure of its answers on the harder ones. Never on PetShop's test split,
never on a held-out seed, never on synthetic seed 7 (the reported synthetic figure).

Cross-suite check: for each suite, the curve is fitted on the others and its expected
calibration error (10 bins, as `nightowl eval` reports it) measured on the suite left out.
A curve that only fits the suites it saw shows there.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agents.sre.candidates import Basis
from agents.sre.rules.thresholds import DEFAULT
from evals.scoring import expected_calibration_error

CACHE = Path(".cache") / "evals" / "calibration"
# The development suites the fit pools: name, eval suite, seed.
SUITES: tuple[tuple[str, str, int], ...] = (
    ("synthetic-3", "synthetic", 3), ("wide-7", "wide", 7), ("wide-11", "wide", 11),
    ("petshop-train", "petshop-train", 0), ("petshop-injected-11", "petshop-injected", 11),
    ("wide-bare-7", "wide-bare", 7), ("public-metrics-7", "public-metrics", 7),
    ("public-multi-7", "public-multi", 7), ("public-code-7", "public-code", 7),
    ("prod-5", "prod", 5), ("prod-7", "prod", 7),
    ("cluster-5", "cluster", 5), ("cluster-7", "cluster", 7),
)
FORBIDDEN = {("synthetic", 7), ("petshop", 0), ("wide-heldout", 0), ("wide-bare", 11)}
NAMES = ("strength", "margin", "modalities", "path", "graph", "loudest_uncharted")
Row = dict[str, object]


def features(basis: dict[str, float]) -> list[float]:
    b = Basis(strength=float(basis.get("strength", 0.0)), margin=float(basis.get("margin", 0.0)),
              modalities=int(basis.get("modalities", 1)), on_path=bool(basis.get("on_path")),
              charted=bool(basis.get("charted", 1.0)), loudest=bool(basis.get("loudest", 1.0)))
    return [1.0, *b.features()]


def fit(rows: Sequence[Row], *, l2: float = 1.0, steps: int = 50) -> list[float]:
    """Logistic regression by Newton's method (IRLS), an L2 penalty on the slopes only.
    Returns [bias, strength, margin, modalities, path, graph, loudest without a graph].
    Every slope is known to point one way (more strength, a wider margin, more modalities,
    a path, a call graph: never less likely to be right); a slope the data would make
    negative is fixed at 0 and the rest refitted, so that a few lucky off-path answers on
    the development suites cannot make a cause with no known connection more credible than
    one on the call path."""
    usable = [r for r in rows if not r["abstained"]]
    if not usable:
        raise SystemExit("no decisive fault cases to fit on")
    x = np.array([features(r["basis"]) for r in usable])  # type: ignore[arg-type]
    y = np.array([1.0 if r["correct"] else 0.0 for r in usable])
    free = list(range(x.shape[1]))
    while True:
        w = _irls(x[:, free], y, l2=l2, steps=steps)
        negative = [free[k] for k in range(1, len(free)) if w[k] < 0]
        if not negative:
            break
        free = [f for f in free if f not in negative]
    full = [0.0] * x.shape[1]
    for k, f in enumerate(free):
        full[f] = float(w[k])
    return full


def _irls(x: np.ndarray, y: np.ndarray, *, l2: float, steps: int) -> np.ndarray:
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + penalty @ w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(x.shape[1])
        w = w - np.linalg.solve(hess, grad)
    return w


def fit_abstained(rows: Sequence[Row]) -> float:
    """How often the strongest lead of an abstention was the cause anyway (fault cases
    only), with a uniform prior: (right + 1) / (abstained + 2). Leads listed only because
    nothing stood out have their own cap (`residual_confidence`) and are left out."""
    abstained = [r for r in rows if r["abstained"] and not _residual(r)]
    return (sum(bool(r["correct"]) for r in abstained) + 1) / (len(abstained) + 2)


def predict(weights: Sequence[float], row: Row) -> float:
    """`weights` are the fit's (bias and slopes), then the abstained cap."""
    basis: dict[str, float] = row["basis"]  # type: ignore[assignment]
    logit = float(sum(a * b for a, b in zip(weights[:-1], features(basis), strict=True)))
    p = min(1 / (1 + math.exp(-max(min(logit, 40.0), -40.0))), DEFAULT.max_confidence)
    if _residual(row):
        return min(p, DEFAULT.residual_confidence)
    return min(p, weights[-1]) if row["abstained"] else p


def _residual(row: Row) -> bool:
    basis: dict[str, float] = row["basis"]  # type: ignore[assignment]
    return bool(basis.get("residual"))


def ece(weights: Sequence[float], rows: Sequence[Row]) -> float:
    return expected_calibration_error([(predict(weights, r), bool(r["correct"]))
                                       for r in rows]) or 0.0


def current() -> list[float]:
    return [DEFAULT.calibration_bias, DEFAULT.calibration_strength, DEFAULT.calibration_margin,
            DEFAULT.calibration_modalities, DEFAULT.calibration_path, DEFAULT.calibration_graph,
            DEFAULT.calibration_loudest_uncharted,
            DEFAULT.abstained_confidence]


def fit_all(rows: Sequence[Row]) -> list[float]:
    return [*fit(rows), fit_abstained(rows)]


def collect(name: str, suite_name: str, seed: int, *, jobs: int, petshop: Path) -> list[Row]:
    """Run nightowl on one development suite; one row per fault case (basis, right at 1)."""
    from evals.cli import resolve_suites
    from evals.runner import run_suite

    if (suite_name, seed) in FORBIDDEN or suite_name in ("petshop", "wide-heldout",
                                                         "public-heldout", "prod-heldout",
                                                         "cluster-heldout"):
        raise SystemExit(f"{suite_name} seed {seed} is an evaluation suite: never fit on it")
    args = argparse.Namespace(suite=[suite_name], seed=seed, count=130, wide_count=42,
                              petshop=petshop)
    rows: list[Row] = []
    for suite in resolve_suites(args):
        for result in run_suite(suite, jobs=jobs):
            o = result.outcomes["nightowl"]
            if o.truth.control or o.error:
                continue
            rows.append({"suite": name, "case": o.case, "basis": o.basis,
                         "abstained": o.abstained, "correct": o.rank_of_truth() == 1,
                         "confidence": o.confidence})
    return rows


def main() -> None:
    from evals.cli import PETSHOP

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--petshop", type=Path, default=PETSHOP)
    parser.add_argument("--reuse", action="store_true",
                        help="refit on the per-case answers cached by the last run")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    by_suite: dict[str, list[Row]] = {}
    for name, suite_name, seed in SUITES:
        cached = CACHE / f"{name}.jsonl"
        if args.reuse and cached.is_file():
            by_suite[name] = [json.loads(line) for line in cached.read_text().splitlines()]
            continue
        if suite_name.startswith("petshop") and not args.petshop.is_dir():
            print(f"skipping {name}: no PetShop dataset at {args.petshop}")
            continue
        by_suite[name] = collect(name, suite_name, seed, jobs=args.jobs, petshop=args.petshop)
        cached.write_text("".join(json.dumps(r) + "\n" for r in by_suite[name]))
    pooled = [r for rows in by_suite.values() for r in rows]
    # Weigh each suite alike: repeat the smaller ones up to the largest's size.
    largest = max(len(rows) for rows in by_suite.values())
    balanced = [r for rows in by_suite.values() for r in rows * max(1, largest // len(rows))]
    weights = fit_all(balanced)
    print(f"{len(pooled)} fault cases in {len(by_suite)} development suites")
    print(f"{'suite (left out)':<22} {'cases':>5} {'ECE now':>8} {'ECE pooled':>10} "
          f"{'ECE held out':>12}")
    for name, rows in by_suite.items():
        others = [r for n, rs in by_suite.items() if n != name
                  for r in rs * max(1, largest // len(rs))]
        held_out = fit_all(others)
        print(f"{name:<22} {len(rows):>5} {ece(current(), rows):>8.3f} "
              f"{ece(weights, rows):>10.3f} {ece(held_out, rows):>12.3f}")
    print("\nThresholds (agents/sre/rules/thresholds.py):")
    for label, value in zip(("bias", *NAMES), weights[:-1], strict=True):
        print(f"    calibration_{label}: float = {value:.2f}")
    print(f"    abstained_confidence: float = {weights[-1]:.2f}")


if __name__ == "__main__":
    main()
