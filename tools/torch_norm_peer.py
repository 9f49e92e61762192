#!/usr/bin/env python3
"""Times PyTorch's LayerNorm and RMSNorm on the GPU at the shapes opbench's cuda.fast kernels run,
as a peer to compare against in the same session (PyTorch is on the lent GPU machines, not a
dependency of opbench). CUDA events, warm-up, median of repeated timings; inputs rotate over
several buffers when they are smaller than ~4x L2 so repeated runs do not measure the cache.

usage: torch_norm_peer.py ROWSxCOLS [ROWSxCOLS ...]
"""
import statistics
import sys

import torch
import torch.nn.functional as F


def time_ms(fn, inputs, reps=50):
    for x in inputs[:2]:
        fn(x)
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        x = inputs[i % len(inputs)]
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    shapes = [tuple(int(v) for v in s.split("x")) for s in sys.argv[1:]] or [(64, 4096), (16384, 4096)]
    dev = torch.device("cuda")
    print(f"# PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    print("| op | rows x cols | time (us) | GB/s | copy GB/s | fraction of copy |")
    print("|---|---|---:|---:|---:|---:|")
    for rows, cols in shapes:
        nbytes = rows * cols * 4
        copies = max(1, min(8, (200 << 20) // nbytes))
        xs = [torch.randn(rows, cols, device=dev) for _ in range(copies)]
        ys = [torch.empty_like(x) for x in xs]
        gamma = torch.rand(cols, device=dev) + 0.5
        beta = torch.randn(cols, device=dev) * 0.1
        traffic = 2 * nbytes + 2 * cols * 4
        copy_ms = time_ms(lambda x: ys[0].copy_(x), xs)
        copy_gbps = 2 * nbytes / copy_ms / 1e6
        cases = {
            "layernorm": lambda x: F.layer_norm(x, (cols,), gamma, beta, 1e-5),
            "rmsnorm": lambda x: F.rms_norm(x, (cols,), gamma, 1e-5),
        }
        for name, fn in cases.items():
            ms = time_ms(fn, xs)
            gbps = traffic / ms / 1e6
            print(f"| {name} | {rows}x{cols} | {ms * 1e3:.1f} | {gbps:.0f} | {copy_gbps:.0f} | "
                  f"{gbps / copy_gbps:.2f} |")


if __name__ == "__main__":
    main()
