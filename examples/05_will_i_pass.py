"""5. Will I pass this class? The lecture's example, end to end (the same as `tapegrad demo`).

Two features, lectures attended and hours spent on the final project, and a pass/fail
label. An untrained network's answer is a guess; after training on the empirical loss
(binary cross-entropy over the data) with mini-batch gradient descent, it has learned.
"""

from __future__ import annotations

import argparse
from typing import Any

from tapegrad.cli.demo import run_demo


def main(quick: bool = False, out: str = "tapegrad-demo", epochs: int = 60) -> dict[str, Any]:
    return run_demo(out, seed=0, epochs=10 if quick else epochs, verbose=0 if quick else 1)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=60, help="maximum number of epochs (default 60)")
    p.add_argument("--out", default="tapegrad-demo", help="folder for the pictures (default tapegrad-demo)")
    a = p.parse_args()
    main(out=a.out, epochs=a.epochs)
