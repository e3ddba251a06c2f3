"""Independent check of the golden logits: a plain NumPy GPT-2 forward (float64) read straight
from model.safetensors + config.json, compared with golden-logits.bin. Uses no torch/transformers,
so it also confirms the tensor names and layouts documented in README.md."""
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[2]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # biased variance
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def forward(w, cfg, ids):
    t, n_head, d = len(ids), cfg["n_head"], cfg["n_embd"]
    dh, eps = d // n_head, cfg["layer_norm_epsilon"]
    g = lambda k: w[k].astype(np.float64)
    x = g("transformer.wte.weight")[ids] + g("transformer.wpe.weight")[:t]
    mask = np.triu(np.ones((t, t), dtype=bool), 1)
    for layer in range(cfg["n_layer"]):
        p = f"transformer.h.{layer}."
        h = layer_norm(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        qkv = h @ g(p + "attn.c_attn.weight") + g(p + "attn.c_attn.bias")  # Conv1D: [in, out]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(t, n_head, dh).transpose(1, 0, 2) for i in range(3))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
        scores[:, mask] = -np.inf
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        z = (probs @ v).transpose(1, 0, 2).reshape(t, d)  # head h = columns [h*dh, (h+1)*dh)
        x = x + z @ g(p + "attn.c_proj.weight") + g(p + "attn.c_proj.bias")
        h = layer_norm(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        m = gelu_new(h @ g(p + "mlp.c_fc.weight") + g(p + "mlp.c_fc.bias"))
        x = x + m @ g(p + "mlp.c_proj.weight") + g(p + "mlp.c_proj.bias")
    x = layer_norm(x, g("transformer.ln_f.weight"), g("transformer.ln_f.bias"), eps)
    w_u = g("lm_head.weight") if "lm_head.weight" in w else g("transformer.wte.weight")  # [vocab, d]
    return x @ w_u.T


def check(folder: Path) -> float:
    cfg = json.loads((folder / "config.json").read_text())
    golden = json.loads((folder / "golden.json").read_text())
    weights = load_file(str(folder / "model.safetensors"))
    assert ("lm_head.weight" in weights) == (not cfg["tie_word_embeddings"]), folder
    flat = np.fromfile(folder / golden["logits_file"], dtype="<f4")
    assert flat.size == golden["logits_total_elements"], "golden-logits.bin size"
    worst = 0.0
    for seq, idx in zip(golden["sequences"], golden["logits_index"]):
        ref = flat[idx["offset"]:idx["offset"] + np.prod(idx["shape"])].reshape(idx["shape"])
        worst = max(worst, float(np.abs(forward(weights, cfg, np.array(seq)) - ref).max()))
    return worst


def main() -> int:
    ok = True
    for name in ["tiny-gpt2", "tiny-gpt2-untied"]:
        err = check(REPO / "test" / "fixtures" / name)
        print(f"{name}: max |numpy - golden| = {err:.3e}")
        ok = ok and err < 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
