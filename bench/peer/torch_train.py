"""PyTorch eager peer of the GPT-2-small training step in `npm run bench`: GPT2LMHeadModel from an HF folder, AdamW,
cross-entropy on the answer token only (the last position of each row), batch B of length-T rows, CPU threads fixed.
Prints one JSON line: median s/step after warm-up and tokens/s.

    python3 torch_train.py HF_DIR [--batch 8] [--seq 16] [--steps 5] [--warmup 1] [--threads 2]
"""
import argparse
import json
import os
import resource
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import GPT2LMHeadModel

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=16)
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
model = GPT2LMHeadModel.from_pretrained(args.model).train()
model.config.use_cache = False
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
V = model.config.vocab_size
gen = torch.Generator().manual_seed(1)
times = []
for i in range(args.warmup + args.steps):
    x = torch.randint(0, V, (args.batch, args.seq), generator=gen)
    y = torch.randint(0, V, (args.batch,), generator=gen)
    t0 = time.perf_counter()
    logits = model(input_ids=x, use_cache=False).logits  # [B, T, V]: eager HF computes every position
    loss = torch.nn.functional.cross_entropy(logits[:, -1, :], y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if i >= args.warmup:
        times.append(time.perf_counter() - t0)
s = statistics.median(times)
tokens = args.batch * args.seq
print(json.dumps({"peer": "torch eager GPT2LMHeadModel", "torch": torch.__version__, "threads": args.threads, "batch": args.batch,
                  "seq": args.seq, "steps": args.steps, "s_per_step": round(s, 3), "tokens_per_s": round(tokens / s, 1),
                  "steps_s": " ".join(f"{t:.2f}" for t in times),
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)}))
