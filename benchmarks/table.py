"""Print benchmarks/results/latest.json as the Markdown table the READMEs show."""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def table(path: str) -> str:
    with open(path) as f:
        r = json.load(f)
    # W2 and W3: where the reference itself measures above the PyTorch target, within 1.05x of it
    targets = {"W1": "≤ 0.35× PyTorch", "W2": "≤ 0.85× PyTorch or ≤ 1.05× reference",
               "W3": "≤ 0.90× PyTorch or ≤ 1.05× reference", "W4": "≤ 1.05× reference"}
    threads = f"{r['threads']} threads" + (", machine tuning on" if r.get("machine_tuning") else "")
    lines = [f"{r['date']}, {r['machine']}, {threads}; median ms per training step.", "",
             "| workload | tapegrad `train_on_batch` | tapegrad `GradientTape` | NumPy reference | PyTorch | "
             "tapegrad / PyTorch | reference / PyTorch | tapegrad / reference | target | "
             "peak memory tapegrad / reference |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, row in r["workloads"].items():
        torch = f"{row['torch']['median_ms']:.3f}" if "torch" in row else "n/a"  # run without PyTorch
        rt = f"{row['ratio_to_torch']:.2f}" if "ratio_to_torch" in row else "n/a"
        # older result files lack the reference's own ratio
        rt += f" | {row['numpy_ref_ratio_to_torch']:.2f}" if "numpy_ref_ratio_to_torch" in row else " | n/a"
        lines.append(f"| {key} | {row['tapegrad']['median_ms']:.3f} | {row['tapegrad_tape']['median_ms']:.3f} | "
                     f"{row['numpy_ref']['median_ms']:.3f} | {torch} | {rt} | {row['ratio_to_numpy_ref']:.2f} | "
                     f"{targets[key]} | {row['memory_ratio_to_numpy_ref']:.2f} |")
    fit = r["workloads"].get("W2", {}).get("fit_overhead")
    if fit is not None:
        lines += ["", f"`fit(verbose=1)` over a bare `train_on_batch` loop on W2: {fit:+.1%} (target ≤ +10%)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest.json")))
