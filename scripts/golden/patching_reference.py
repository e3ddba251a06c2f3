"""Activation-patching and direct-logit-attribution reference numbers for test/fixtures/tiny-gpt2,
computed with plain HF transformers hooks (float32, eval mode, eager attention). Run by hand;
writes test/fixtures/tiny-gpt2/patching.json. Meaning of every field: scripts/golden/README.md."""
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import GPT2LMHeadModel

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "test" / "fixtures" / "tiny-gpt2"
OUT = MODEL_DIR / "patching.json"
SEED = 2024
BATCH, SEQ_LEN = 8, 12
END = SEQ_LEN - 1
IO_POS, S1_POS, S2_POS = 2, 4, 8  # IOI-like: "... IO ... S ... S ... END"
DIFF_POSITIONS = [IO_POS, S1_POS, S2_POS]
ATOL = 1e-4

DLA_FORMULA = (
    "dla[L][H] = mean_b( ((r - mean(r)) / sigma) . (ln_f.weight * (W_U[:, io_b] - W_U[:, s_b])) ), "
    "r = z_{L,H}[b, END] @ W_O^{L,H} (no bias), z_{L,H} = c_proj input of block L columns [H*d_head,(H+1)*d_head), "
    "W_O^{L,H} = transformer.h.L.attn.c_proj.weight rows [H*d_head,(H+1)*d_head) (Conv1D layout [in,out]), "
    "mean(r) over the d_model entries, sigma = sqrt(biased_var(resid_final[b, END]) + layer_norm_epsilon), "
    "resid_final = input of transformer.ln_f, W_U = transformer.wte.weight transposed ([d_model, vocab]), "
    "all on the CLEAN run"
)


def make_batches() -> dict:
    gen = torch.Generator().manual_seed(SEED)
    clean, corrupt, io, s = [], [], [], []
    for _ in range(BATCH):
        while True:
            toks = torch.randint(0, 1000, (SEQ_LEN + 5,), generator=gen).tolist()
            if len(set(toks)) == len(toks):
                break
        io_t, s_t, fresh = toks[0], toks[1], toks[2:5]
        seq = toks[5:]
        seq[IO_POS], seq[S1_POS], seq[S2_POS] = io_t, s_t, s_t
        bad = list(seq)
        for p, t in zip(DIFF_POSITIONS, fresh):
            bad[p] = t
        clean.append(seq), corrupt.append(bad), io.append(io_t), s.append(s_t)
    return {"clean": clean, "corrupt": corrupt, "io": io, "s": s}


def logit_diff(logits: torch.Tensor, io: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(logits.shape[0])
    return logits[rows, END, io] - logits[rows, END, s]


@contextmanager
def hooks(*handles):
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def first_arg_pre_hook(replace):
    """forward_pre_hook (with_kwargs) that rewrites the module's first input tensor."""
    def hook(_mod, args, kwargs):
        if args:
            return (replace(args[0]),) + tuple(args[1:]), kwargs
        key = "hidden_states" if "hidden_states" in kwargs else "input"
        kwargs = dict(kwargs)
        kwargs[key] = replace(kwargs[key])
        return args, kwargs
    return hook


def first_input(args, kwargs):
    return args[0] if args else kwargs.get("hidden_states", kwargs.get("input"))


class Runner:
    def __init__(self, model: GPT2LMHeadModel, io, s):
        self.model, self.io, self.s = model, io, s
        self.blocks = model.transformer.h
        self.d_head = model.config.n_embd // model.config.n_head

    def cache(self, ids: torch.Tensor) -> dict:
        """One run recording z (c_proj input), resid_pre, attn_out, mlp_out per layer, resid_final."""
        store = {"z": {}, "resid_pre": {}, "attn_out": {}, "mlp_out": {}}
        handles = []
        for i, b in enumerate(self.blocks):
            handles.append(b.register_forward_pre_hook(
                lambda m, a, k, i=i: store["resid_pre"].__setitem__(i, first_input(a, k).clone()), with_kwargs=True))
            handles.append(b.attn.c_proj.register_forward_pre_hook(
                lambda m, a, i=i: store["z"].__setitem__(i, a[0].clone())))
            handles.append(b.attn.c_proj.register_forward_hook(
                lambda m, a, o, i=i: store["attn_out"].__setitem__(i, o.clone())))
            handles.append(b.mlp.register_forward_hook(
                lambda m, a, o, i=i: store["mlp_out"].__setitem__(i, o.clone())))
        handles.append(self.model.transformer.ln_f.register_forward_pre_hook(
            lambda m, a: store.__setitem__("resid_final", a[0].clone())))
        with hooks(*handles):
            store["logits"] = self.model(ids).logits
        return store

    def ld_with(self, ids, module, kind, replace) -> torch.Tensor:
        if kind == "pre":
            h = module.register_forward_pre_hook(first_arg_pre_hook(replace), with_kwargs=True)
        else:
            h = module.register_forward_hook(lambda m, a, o: replace(o))
        with hooks(h):
            return logit_diff(self.model(ids).logits, self.io, self.s)

    @staticmethod
    def patched(clean_value, corrupt_value, positions, cols=slice(None)):
        out = clean_value.clone()
        out[:, positions, cols] = corrupt_value[:, positions, cols]
        return out

    def head_cols(self, h: int) -> slice:
        return slice(h * self.d_head, (h + 1) * self.d_head)


def dla(model, runner, clean_cache, clean_ids, io, s) -> tuple[list, dict, float]:
    """Per-head DLA plus every other residual component, and the closure error against clean LD."""
    eps = model.config.layer_norm_epsilon
    wte = model.transformer.wte.weight
    ln_f = model.transformer.ln_f
    resid = clean_cache["resid_final"][:, END]
    sigma = torch.sqrt(resid.var(-1, unbiased=False, keepdim=True) + eps)
    direction = ln_f.weight * (wte[io] - wte[s])  # [B, d]

    def attribute(r):  # r: [B, d] -> per-sequence contribution
        return (((r - r.mean(-1, keepdim=True)) / sigma) * direction).sum(-1)

    per_head, parts = [], {}
    total = torch.zeros(len(io))
    rebuilt = torch.zeros_like(resid)
    for L, block in enumerate(model.transformer.h):
        w_o = block.attn.c_proj.weight
        row = []
        for H in range(model.config.n_head):
            c = runner.head_cols(H)
            r = clean_cache["z"][L][:, END, c] @ w_o[c, :]
            contrib = attribute(r)
            row.append(contrib.mean().item())
            total, rebuilt = total + contrib, rebuilt + r
        per_head.append(row)
        for name, r in ((f"attn_bias_{L}", block.attn.c_proj.bias.expand_as(resid)),
                        (f"mlp_out_{L}", clean_cache["mlp_out"][L][:, END])):
            contrib = attribute(r)
            parts[name] = contrib.mean().item()
            total, rebuilt = total + contrib, rebuilt + r
    for name, r in (("embed", wte[clean_ids[:, END]]), ("pos_embed", model.transformer.wpe.weight[END].expand_as(resid))):
        contrib = attribute(r)
        parts[name] = contrib.mean().item()
        total, rebuilt = total + contrib, rebuilt + r
    bias_term = (ln_f.bias * (wte[io] - wte[s])).sum(-1)
    parts["ln_f_bias"] = bias_term.mean().item()
    total = total + bias_term
    assert torch.allclose(rebuilt, resid, atol=ATOL), "DLA components do not sum to resid_final"
    clean_ld = logit_diff(clean_cache["logits"], io, s)
    return per_head, parts, (total - clean_ld).abs().max().item()


def main() -> int:
    torch.manual_seed(0)
    model = GPT2LMHeadModel.from_pretrained(MODEL_DIR, attn_implementation="eager", dtype=torch.float32).eval()
    cfg = model.config
    data = make_batches()
    clean, corrupt = torch.tensor(data["clean"]), torch.tensor(data["corrupt"])
    io, s = torch.tensor(data["io"]), torch.tensor(data["s"])
    runner = Runner(model, io, s)
    n_layer, n_head, all_pos = cfg.n_layer, cfg.n_head, list(range(SEQ_LEN))

    with torch.no_grad():
        cc, kc = runner.cache(clean), runner.cache(corrupt)
        clean_ld, corrupt_ld = logit_diff(cc["logits"], io, s), logit_diff(kc["logits"], io, s)

        def z_patch(L, H, positions):
            cols = runner.head_cols(H)
            return runner.ld_with(clean, runner.blocks[L].attn.c_proj, "pre",
                                  lambda z: runner.patched(z, kc["z"][L], positions, cols)).mean().item()

        def site_patch(L, site, kind, module, P):
            return runner.ld_with(clean, module, kind,
                                  lambda x: runner.patched(x, kc[site][L], [P])).mean().item()

        head_all_pos = [[z_patch(L, H, all_pos) for H in range(n_head)] for L in range(n_layer)]
        head_per_pos = [[[z_patch(L, H, [P]) for P in all_pos] for H in range(n_head)] for L in range(n_layer)]
        resid_pre = [[site_patch(L, "resid_pre", "pre", runner.blocks[L], P) for P in all_pos] for L in range(n_layer)]
        attn_out = [[site_patch(L, "attn_out", "post", runner.blocks[L].attn.c_proj, P) for P in all_pos]
                    for L in range(n_layer)]
        mlp_out = [[site_patch(L, "mlp_out", "post", runner.blocks[L].mlp, P) for P in all_pos]
                   for L in range(n_layer)]
        dla_heads, dla_parts, closure = dla(model, runner, cc, clean, io, s)

        # Self-consistency of the hooks (each must hold whatever the weights are).
        noop = runner.ld_with(clean, runner.blocks[0], "pre", lambda x: x).mean().item()
        assert abs(noop - clean_ld.mean().item()) < ATOL, "a no-op hook changed the result"
        whole_embed = runner.ld_with(clean, runner.blocks[0], "pre",
                                     lambda x: runner.patched(x, kc["resid_pre"][0], all_pos))
        assert torch.allclose(whole_embed, corrupt_ld, atol=ATOL), "patching all of resid_pre[0] != corrupt run"
        for L in range(n_layer):
            all_heads = runner.ld_with(clean, runner.blocks[L].attn.c_proj, "pre",
                                       lambda z: runner.patched(z, kc["z"][L], all_pos)).mean().item()
            whole_attn = runner.ld_with(clean, runner.blocks[L].attn.c_proj, "post",
                                        lambda x: runner.patched(x, kc["attn_out"][L], all_pos)).mean().item()
            assert abs(all_heads - whole_attn) < ATOL, f"layer {L}: all-head z patch != attn_out patch"
            for P in range(min(DIFF_POSITIONS)):
                for H in range(n_head):
                    assert abs(head_per_pos[L][H][P] - clean_ld.mean().item()) < ATOL, "identical prefix moved LD"
        assert closure < ATOL, f"DLA does not add up to clean LD (err {closure})"

    out = {
        "model": "test/fixtures/tiny-gpt2",
        "n_layer": n_layer, "n_head": n_head, "d_head": runner.d_head, "seq_len": SEQ_LEN, "end": END,
        "clean": data["clean"], "corrupt": data["corrupt"], "io": data["io"], "s": data["s"],
        "diff_positions": DIFF_POSITIONS,
        "clean_ld": clean_ld.tolist(), "corrupt_ld": corrupt_ld.tolist(),
        "clean_ld_mean": clean_ld.mean().item(), "corrupt_ld_mean": corrupt_ld.mean().item(),
        "head_all_pos": head_all_pos, "head_per_pos": head_per_pos,
        "resid_pre": resid_pre, "attn_out": attn_out, "mlp_out": mlp_out,
        "dla": dla_heads, "dla_formula": DLA_FORMULA,
        "dla_other_components": dla_parts,
        "dla_closure_max_abs_err": closure,
        "generator": {"script": "scripts/golden/patching_reference.py", "seed": SEED,
                      "torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in out.items()]
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {OUT.relative_to(REPO)}: clean LD {out['clean_ld_mean']:.4f}, corrupt LD "
          f"{out['corrupt_ld_mean']:.4f}, DLA closure err {closure:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
