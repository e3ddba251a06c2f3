"""Write a random GPT-2-small-shaped Hugging Face folder (config.json + model.safetensors, tied embeddings).

    python3 make_gpt2_small_random.py OUT_DIR [--seed 0] [--size small|medium]

Real GPT-2 weights cannot be downloaded here; this folder has the same names, shapes and dtype.
"""
import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from transformers import GPT2Config, GPT2LMHeadModel

SIZES = {"small": dict(n_layer=12, n_head=12, n_embd=768), "medium": dict(n_layer=24, n_head=16, n_embd=1024)}

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--size", choices=SIZES, default="small")
args = ap.parse_args()
torch.manual_seed(args.seed)
cfg = GPT2Config(vocab_size=50257, n_positions=1024, activation_function="gelu_new", **SIZES[args.size])
model = GPT2LMHeadModel(cfg).eval()
model.save_pretrained(args.out, safe_serialization=True)
print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
