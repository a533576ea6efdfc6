#!/usr/bin/env python3
"""results.json -> results.png: Swiftlet's median over each QEMU's (or the host's), per metric
(log scale; below the line at 1 Swiftlet is faster or smaller).
Exits 2 when matplotlib is missing, so bench/run can install it."""
import json
import statistics
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(2)

LABEL = {"qemu-microvm": "QEMU microvm", "qemu-q35": "QEMU q35", "kvmloop": "bare KVM loop",
         "host": "host baseline (fio, tap loop)", "swiftlet-pci": "Swiftlet over PCI (mmio rows)"}
COLOR = {"qemu-microvm": "tab:blue", "qemu-q35": "tab:orange", "kvmloop": "tab:gray", "host": "tab:green",
         "swiftlet-pci": "tab:purple"}


def main(src, png):
    with open(src) as f:
        results = json.load(f)
    rows = [r for r in results["rows"] if r["values"].get("swiftlet") and not r.get("note", "").startswith("informative")]
    names = [f"{r['benchmark']}: {r['metric']}" for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    width = 0.8 / len(LABEL)
    for k, (vmm, label) in enumerate(LABEL.items()):
        ys, xs = [], []
        for i, r in enumerate(rows):
            q = r["values"].get(vmm)
            if q and statistics.median(q) > 0:
                xs.append(statistics.median(r["values"]["swiftlet"]) / statistics.median(q))
                ys.append(i + (k - (len(LABEL) - 1) / 2) * width)
        if xs:
            ax.barh(ys, xs, height=width, color=COLOR[vmm], label=f"Swiftlet / {label}")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio of medians (< 1: Swiftlet faster / smaller)")
    m = results["machine"]
    ax.set_title(f"Swiftlet vs QEMU — {m['cpu']}, {m['kvm']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
