"""`nightowl eval`: plugged into the CLI through the `nightowl.commands` entry point."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from evals.cases import Suite, load_suite
from evals.errors import EvalError
from evals.report import html_report, table, write_json
from evals.runner import METHODS, run_suite
from evals.scoring import score

CACHE = Path(".cache") / "evals"
PETSHOP = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "petshop"



def _positive(text: str) -> int:
    from bot.cli import _positive as positive  # one rule for counts across commands

    return positive(text)

def register(sub: Any) -> None:
    parser = sub.add_parser("eval", help="score the investigator on labelled incidents",
                            description="Run nightowl and the baselines (BARO, NSigma, random) "
                                        "on labelled suites. `nightowl eval export INCIDENT_ID "
                                        "DIR` turns a corrected production incident into a case.")
    parser.add_argument("action", nargs="*", help="'export INCIDENT_ID DIR' (optional)")
    parser.add_argument("--suite", action="append", default=[],
                        help="synthetic | wide | wide-bare | wide-entry | wide-unnamed | "
                             "wide-self | wide-heldout | public-metrics | public-multi | "
                             "public-code | public-counters | public-heldout | prod | "
                             "prod-heldout | cluster | cluster-heldout | petshop | "
                             "petshop-train | "
                             "petshop-crossed | petshop-injected | "
                             "security | security-detection | fix | fix-heldout | fix-novel | PATH "
                             "(repeatable; default synthetic); an investigation suite's name "
                             "+ '-live' cuts its telemetry at each alert, as in production")
    parser.add_argument("--json", action="store_true", help="print one JSON object per suite")
    parser.add_argument("--out", type=Path, help="write results.json and report.html here")
    parser.add_argument("--jobs", type=_positive, default=1, help="worker processes")
    parser.add_argument("--count", type=_positive, default=130, help="synthetic cases to generate")
    parser.add_argument("--seed", type=int, default=7, help="synthetic suite seed")
    parser.add_argument("--wide-count", type=_positive, default=42, help="wide cases to generate")
    parser.add_argument("--petshop", type=Path, default=PETSHOP, help="PetShop dataset folder")
    parser.add_argument("--ablate", action="append", default=[], metavar="RULE",
                        help="also run nightowl without this causal rule (repeatable; 'all' "
                             "leaves out each in turn): what the rule is worth on every suite")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                        help="also run nightowl with a threshold at each value (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="run nightowl itself with a threshold at this value")
    parser.add_argument("--online", action="store_true",
                        help="summarise responders' feedback from the database instead")
    parser.set_defaults(func=main)


def resolve_suites(args: argparse.Namespace) -> list[Suite]:
    from evals.petshop import convert, convert_crossed
    from evals.petshop_injected import generate
    from evals.synthetic import generate_suite

    suites = []
    for name in args.suite or ["synthetic"]:
        if name.endswith("-live") and not Path(name).exists():
            # Any suite as investigated the moment its alert fires: see evals/live.py.
            from evals.live import live

            base = argparse.Namespace(**{**vars(args), "suite": [name.removesuffix("-live")]})
            suites += [live(suite, CACHE / f"{suite.name}-live") for suite in resolve_suites(base)]
            continue
        if name == "synthetic":
            folder = CACHE / f"synthetic-seed{args.seed}-n{args.count}"
            generate_suite(folder, seed=args.seed, count=args.count)
            suites.append(load_suite(folder, name="synthetic"))
        elif name == "petshop":
            suites.append(convert(args.petshop, CACHE / "petshop-test", split="test"))
        elif name == "petshop-train":  # a development suite: PetShop's real train faults
            suites.append(convert(args.petshop, CACHE / "petshop-train", split="train"))
        elif name == "petshop-crossed":  # a development suite: see evals/petshop.py
            suites.append(convert_crossed(args.petshop, CACHE / "petshop-crossed"))
        elif name == "wide":  # a development suite: see evals/synthetic_wide.py
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(CACHE / f"wide-seed{args.seed}-n{args.wide_count}",
                                        seed=args.seed, count=args.wide_count))
        elif name == "wide-bare":  # the wide cases with metrics and change events only
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(CACHE / f"wide-bare-seed{args.seed}-n{args.wide_count}",
                                        seed=args.seed, count=args.wide_count,
                                        name="wide-bare", bare=True))
        elif name == "wide-entry":  # wide-bare, alerting on the entry service (see generate)
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(CACHE / f"wide-entry-seed{args.seed}-n{args.wide_count}",
                                        seed=args.seed, count=args.wide_count,
                                        name="wide-entry", bare=True, entry=True))
        elif name == "wide-unnamed":  # wide-entry under metric names of no known family
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(
                CACHE / f"wide-unnamed-seed{args.seed}-n{args.wide_count}", seed=args.seed,
                count=args.wide_count, name="wide-unnamed", bare=True, entry=True,
                unnamed=True))
        elif name == "wide-self":  # wide with the alert on the faulty service's own latency
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(
                CACHE / f"wide-self-seed{args.seed}-n{args.wide_count}", seed=args.seed,
                count=args.wide_count, name="wide-self", self_alert=True))
        elif name == "wide-heldout":  # read once, at the end: never developed or fitted on
            from evals.synthetic_wide import HELDOUT_SEED
            from evals.synthetic_wide import generate as generate_wide

            suites.append(generate_wide(CACHE / f"wide-heldout-n{args.wide_count}",
                                        seed=HELDOUT_SEED, count=args.wide_count,
                                        name="wide-heldout"))
        elif name in ("public-metrics", "public-multi", "public-code", "public-counters"):
            # development suites shaped like RCAEval RE1/RE2/RE3: see evals/synthetic_public
            from evals.synthetic_public import generate as generate_public

            suites.append(generate_public(CACHE / f"{name}-seed{args.seed}-n{args.wide_count}",
                                          seed=args.seed, count=args.wide_count, name=name))
        elif name == "public-heldout":  # public-multi at a seed read once, at the end
            from evals.synthetic_public import HELDOUT_SEED
            from evals.synthetic_public import generate as generate_public

            suites.append(generate_public(CACHE / f"public-heldout-n{args.wide_count}",
                                          seed=HELDOUT_SEED, count=args.wide_count,
                                          name="public-heldout"))
        elif name == "prod":  # production-shaped, written blind to the rules: evals/synthetic_prod
            from evals.synthetic_prod import generate as generate_prod

            suites.append(generate_prod(CACHE / f"prod-seed{args.seed}-n{args.wide_count}",
                                        seed=args.seed, count=args.wide_count))
        elif name == "prod-heldout":  # prod at a seed read once, at the end
            from evals.synthetic_prod import HELDOUT_SEED
            from evals.synthetic_prod import generate as generate_prod

            suites.append(generate_prod(CACHE / f"prod-heldout-n{args.wide_count}",
                                        seed=HELDOUT_SEED, count=args.wide_count,
                                        name="prod-heldout"))
        elif name in ("cluster", "cluster-heldout"):  # Kubernetes-shaped, written blind too
            from evals.synthetic_cluster import HELDOUT_SEED
            from evals.synthetic_cluster import generate as generate_cluster

            held = name == "cluster-heldout"  # read once, at the end of a round
            suites.append(generate_cluster(
                CACHE / (f"cluster-heldout-n{args.wide_count}" if held
                         else f"cluster-seed{args.seed}-n{args.wide_count}"),
                seed=HELDOUT_SEED if held else args.seed, count=args.wide_count, name=name))
        elif name == "petshop-injected":  # a development suite: see evals/petshop_injected.py
            suites.append(generate(args.petshop, CACHE / f"petshop-injected-seed{args.seed}",
                                   seed=args.seed))
        else:
            suites.append(load_suite(Path(name)))
    return suites


def _progress(label: str) -> Any:
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done not in (total,) and done % 20:
            return
        filled = int(30 * done / total)
        sys.stderr.write(f"\r{label:<12} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                         f"{time.monotonic() - started:5.1f}s")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def evaluate(args: argparse.Namespace) -> int:
    fix = [name for name in args.suite if name in ("fix", "fix-heldout", "fix-novel")]
    if fix:  # the Dev agent's suite: its own cases, figures and table (evals/fix/)
        from evals.fix.run import evaluate_fix

        code = evaluate_fix(fix, CACHE, as_json=args.json)
        args.suite = [name for name in args.suite if name not in fix]
        if not args.suite:
            return code
    if "security-detection" in args.suite:  # Sigma conformance: see evals/security_detection.py
        from evals.security_detection import command as detection

        code = detection(as_json=args.json, out=args.out)
        args.suite = [s for s in args.suite if s != "security-detection"]
        if not args.suite or code:
            return code
    if "security" in args.suite:  # security triage: its own cases and metrics
        from evals.security.run import command

        code = command(args, CACHE)
        args.suite = [s for s in args.suite if s != "security"]
        if not args.suite or code:
            return code
    from evals.variants import Variant, base_thresholds, variants, worth

    try:
        base = Variant("nightowl", thresholds=base_thresholds(args.set))
        extra = tuple(variants(ablate=args.ablate, sweep=args.sweep, base=base.thresholds))
        suites = resolve_suites(args)
    except (EvalError, ValueError) as exc:
        print(f"nightowl eval: {exc}", file=sys.stderr)
        return 2
    print("nightowl: the statistical engine alone (no model), as `nightowl investigate "
          "--no-model`" + (f"; thresholds set: {', '.join(args.set)}" if args.set else ""),
          file=sys.stderr)
    outputs = []
    for suite in suites:
        started = time.monotonic()
        results = run_suite(suite, jobs=args.jobs, progress=_progress(suite.name),
                            variants=extra, base=base)
        labels = [*METHODS, *(v.label for v in extra)]
        figures = {m: score([r.outcomes[m] for r in results]) for m in labels}
        outputs.append({"suite": suite.name, "cases": len(suite.cases), "credit": suite.credit,
                        "model": "none (statistical engine alone)",
                        "wall_s": round(time.monotonic() - started, 2), "methods": figures})
        if args.json:
            print(json.dumps(outputs[-1], default=str))
        else:
            print(table(suite.name, figures))
            if extra:
                print(worth(figures, [v.label for v in extra]))
            print(f"({len(suite.cases)} cases in {outputs[-1]['wall_s']}s with "
                  f"{args.jobs} job(s){'; ' + suite.credit if suite.credit else ''})\n")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "results.json", outputs)
        html_report(args.out / "report.html", outputs)
        if not args.json:
            print(f"wrote {args.out / 'results.json'} and {args.out / 'report.html'}")
    return 0


def online(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from evals.online import summarise
    from storage.db import make_engine, upgrade
    from storage.repository import Store

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    store = Store(engine)
    try:
        summary = asyncio.run(summarise(store))
    finally:
        store.close()
    if args.json:
        print(json.dumps(summary))
        return 0
    if not summary["rated_investigations"]:
        print("No feedback yet: responders rate diagnoses with 👍 / 👎 / Wrong cause… in Slack.")
        return 0
    print(f"{summary['rated_investigations']} rated investigations, "
          f"accuracy {summary['accuracy']:.0%}")
    for section in ("by_day", "by_service", "by_alert"):
        print(f"\n{section.replace('_', ' ')}:")
        for key, row in summary[section].items():
            print(f"  {key:<40} {row['accuracy']:>6.0%} of {row['rated']}")
    return 0


def export(args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from bot.wiring import production_telemetry
    from evals.online import export_case
    from storage.db import make_engine, upgrade
    from storage.repository import Store

    if len(args.action) != 3 or not args.action[1].isdigit():
        print("usage: nightowl eval export INCIDENT_ID DIR", file=sys.stderr)
        return 2
    settings = Settings()
    telemetry_for = production_telemetry(settings)
    if telemetry_for is None:
        print("nightowl eval export: no telemetry configured (set PROMETHEUS_URL and/or "
              "LOKI_URL) to fetch the incident's data", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    upgrade(engine)
    store = Store(engine)

    async def go() -> Path:
        incident = await store.incident(int(args.action[1]))
        alerts = await store.incident_alerts(incident.id or 0)
        source = telemetry_for(incident, alerts)
        if source is None:
            raise LookupError("no telemetry source for this incident")
        return await export_case(store, int(args.action[1]), Path(args.action[2]), source)

    try:
        path = asyncio.run(go())
    except (ValueError, LookupError) as exc:
        print(f"nightowl eval export: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"wrote labelled case {path}")
    return 0


def main(args: argparse.Namespace) -> int:
    if args.action:
        if args.action[0] == "export":
            return export(args)
        print(f"nightowl eval: unknown action {args.action[0]!r} (did you mean export?)",
              file=sys.stderr)
        return 2
    if args.online:
        return online(args)
    return evaluate(args)
