"""Peer benchmark (run by hand): how fast PyTorch CPU does activation patching on a GPT-2-small-shaped
model with random weights, (a) one forward per head the way TransformerLens's patching loop does it,
(b) attribution patching (2 forwards + 1 backward). Prints one JSON object; wall seconds plus
process CPU seconds (the sum over both threads, less sensitive to other load on the machine). See scripts/golden/README.md."""
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import GPT2Config, GPT2LMHeadModel

THREADS = 2
BATCH, SEQ_LEN = 8, 16
END = SEQ_LEN - 1
DIFF_POSITIONS = [2, 5, 9]
REPEATS_B = 3


def make_inputs(vocab: int):
    gen = torch.Generator().manual_seed(7)
    clean = torch.randint(0, vocab, (BATCH, SEQ_LEN), generator=gen)
    corrupt = clean.clone()
    corrupt[:, DIFF_POSITIONS] = torch.randint(0, vocab, (BATCH, len(DIFF_POSITIONS)), generator=gen)
    io = torch.randint(0, vocab, (BATCH,), generator=gen)
    s = torch.randint(0, vocab, (BATCH,), generator=gen)
    return clean, corrupt, io, s


def logit_diff(logits, io, s):
    rows = torch.arange(logits.shape[0])
    return logits[rows, END, io] - logits[rows, END, s]


def cache_z(model, ids):
    """Forward that records every layer's z (the attn.c_proj input), no grad."""
    zs, handles = {}, []
    for i, b in enumerate(model.transformer.h):
        handles.append(b.attn.c_proj.register_forward_pre_hook(lambda m, a, i=i: zs.__setitem__(i, a[0].detach())))
    try:
        with torch.no_grad():
            logits = model(ids).logits
    finally:
        for h in handles:
            h.remove()
    return zs, logits


def per_head_sweep(model, clean, io, s, z_corrupt, d_head):
    """(a) One full forward (all positions unembedded) per head, patching that head's z at all positions."""
    results = []
    with torch.no_grad():
        for L, block in enumerate(model.transformer.h):
            for H in range(model.config.n_head):
                cols = slice(H * d_head, (H + 1) * d_head)

                def patch(m, a, L=L, cols=cols):
                    z = a[0].clone()
                    z[:, :, cols] = z_corrupt[L][:, :, cols]
                    return (z,)

                h = block.attn.c_proj.register_forward_pre_hook(patch)
                try:
                    results.append(logit_diff(model(clean).logits, io, s).mean().item())
                finally:
                    h.remove()
    return results


def attribution_patching(model, clean, corrupt, io, s, d_head):
    """(b) Corrupt forward caching z, clean forward with z as differentiable points, one backward."""
    z_corrupt, _ = cache_z(model, corrupt)
    z_clean, points, handles = {}, {}, []
    for i, b in enumerate(model.transformer.h):
        def hook(m, a, i=i):
            z_clean[i] = a[0].detach()
            points[i] = torch.zeros_like(a[0], requires_grad=True)  # gradient here == gradient wrt z
            return (a[0] + points[i],)
        handles.append(b.attn.c_proj.register_forward_pre_hook(hook))
    try:
        metric = logit_diff(model(clean).logits, io, s).mean()
    finally:
        for h in handles:
            h.remove()
    layers = sorted(points)
    grads = torch.autograd.grad(metric, [points[L] for L in layers])
    n_head = model.config.n_head
    scores = []
    for L, g in zip(layers, grads):
        delta = (z_corrupt[L] - z_clean[L]) * g  # [B, T, d_model]
        scores.append(delta.reshape(*delta.shape[:2], n_head, d_head).sum(dim=(0, 1, 3)))
    return torch.stack(scores)  # [n_layer, n_head]


def main() -> int:
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    cfg = GPT2Config()  # GPT-2 small: 12 layers, 768, 12 heads, vocab 50257
    model = GPT2LMHeadModel(cfg).float().eval()
    for p in model.parameters():
        p.requires_grad_(False)  # (b) needs gradients wrt activations only
    d_head = cfg.n_embd // cfg.n_head
    clean, corrupt, io, s = make_inputs(cfg.vocab_size)
    load_before = os.getloadavg()

    z_corrupt, _ = cache_z(model, corrupt)  # also the warm-up forward
    with torch.no_grad():
        model(clean)
    t0, c0 = time.perf_counter(), time.process_time()
    sweep = per_head_sweep(model, clean, io, s, z_corrupt, d_head)
    sweep_s, sweep_cpu = time.perf_counter() - t0, time.process_time() - c0
    n_forwards = len(sweep)

    attribution_patching(model, clean, corrupt, io, s, d_head)  # warm-up
    times, cpu_times = [], []
    for _ in range(REPEATS_B):
        t0, c0 = time.perf_counter(), time.process_time()
        scores = attribution_patching(model, clean, corrupt, io, s, d_head)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)

    print(json.dumps({
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "python": platform.python_version(), "threads": torch.get_num_threads(),
        "attn_implementation": model.config._attn_implementation,
        "model": {"n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "n_head": cfg.n_head, "vocab": cfg.vocab_size},
        "batch": BATCH, "seq_len": SEQ_LEN, "diff_positions": DIFF_POSITIONS,
        "per_head_sweep": {"forwards": n_forwards, "total_s": round(sweep_s, 3),
                           "ms_per_forward": round(1000 * sweep_s / n_forwards, 1),
                           "process_cpu_s": round(sweep_cpu, 3)},
        "attribution_patching": {"median_s": round(statistics.median(times), 3),
                                 "runs_s": [round(t, 3) for t in times],
                                 "median_process_cpu_s": round(statistics.median(cpu_times), 3),
                                 "scores_shape": list(scores.shape)},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
