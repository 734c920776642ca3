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
               "W3": "≤ 0.90× PyTorch or ≤ 1.05× reference", "W4": "≤ 1.05× reference",
               "C1": "≤ 1.0× PyTorch (issue 32)", "W5": "≤ 1.2× PyTorch", "W6": "≤ 1.0× PyTorch",
               "M2048": "≤ 1.2× JAX (issue 32)"}
    threads = f"{r['threads']} threads" + (", machine tuning on" if r.get("machine_tuning") else "")
    kernels = "; ".join(r.get("kernels", [])) or "not recorded"
    lines = [f"{r['date']}, {r['machine']}, {threads}; kernels: {kernels}; median ms per training step.", "",
             "| workload | tapegrad `train_on_batch` | tapegrad `GradientTape` | tapegrad `tg.function` | NumPy reference | "
             "PyTorch | JAX (jit) | tapegrad / PyTorch | reference / PyTorch | tapegrad / reference | tapegrad / JAX | "
             "`tg.function` / JAX | target | peak memory tapegrad / reference |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(row, name):
        return f"{row[name]['median_ms']:.3f}" if name in row else "n/a"  # a run without it

    def ratio(row, name):
        return f"{row[name]:.2f}" if name in row else "n/a"

    for key, row in r["workloads"].items():
        lines.append(f"| {key} | {ms(row, 'tapegrad')} | {ms(row, 'tapegrad_tape')} | "
                     f"{ms(row, 'tapegrad_function')} | {ms(row, 'numpy_ref')} | "
                     f"{ms(row, 'torch')} | {ms(row, 'jax')} | {ratio(row, 'ratio_to_torch')} | "
                     f"{ratio(row, 'numpy_ref_ratio_to_torch')} | {ratio(row, 'ratio_to_numpy_ref')} | "
                     f"{ratio(row, 'ratio_to_jax')} | {ratio(row, 'function_ratio_to_jax')} | {targets.get(key, '')} | "
                     f"{ratio(row, 'memory_ratio_to_numpy_ref')} |")
    fit = r["workloads"].get("W2", {}).get("fit_overhead")
    if fit is not None:
        lines += ["", f"`fit(verbose=1)` over a bare `train_on_batch` loop on W2: {fit:+.1%} (target ≤ +10%)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest.json")))
