"""Rebuild the committed training files: ``python -m models_ml.dedupe {pairs,retrain}``.

pairs    regenerate training/crm_training.json from generated people (drops hand-labelled pairs)
retrain  relearn training/crm.settings from the labelled pairs
"""

from __future__ import annotations

import argparse
import logging

from models_ml.dedupe import TRAINING_PAIRS, bootstrap_training_pairs, retrain


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m models_ml.dedupe", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("pairs", "retrain"))
    parser.add_argument("--time-budget", type=float, default=600.0, help="seconds training may take")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.what == "pairs":
        pairs = bootstrap_training_pairs()
        print(f"{TRAINING_PAIRS}: {len(pairs['match'])} match, {len(pairs['distinct'])} distinct pairs")
    else:
        print(retrain(time_budget_s=args.time_budget))


if __name__ == "__main__":
    main()
