"""Build the tiny random GPT-2 fixtures and their golden logits (run by hand, see README.md).

Writes, for each variant (tied / untied unembedding):
  test/fixtures/<name>/config.json, model.safetensors   (HF save_pretrained, safetensors)
  test/fixtures/<name>/golden.json                      (token sequences + index into the .bin)
  test/fixtures/<name>/golden-logits.bin                (float32 little-endian logits)
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from safetensors import safe_open
from transformers import GPT2Config, GPT2LMHeadModel

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "test" / "fixtures"
SEQUENCE_LENGTHS = [1, 7, 16, 64]
VOCAB = 1000
MAX_MODEL_BYTES = 1_000_000
MAX_FIXTURE_BYTES = 1_500_000


def tiny_config(tied: bool) -> GPT2Config:
    return GPT2Config(
        vocab_size=VOCAB,
        n_positions=64,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_inner=None,  # -> 4 * n_embd = 256
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        initializer_range=0.2,
        tie_word_embeddings=tied,
        bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )


def randomise_ln_and_biases(model: GPT2LMHeadModel, gen: torch.Generator) -> None:
    """HF init leaves LN weight=1, bias=0 and Conv1D biases=0; make them random so bias bugs show."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)
            is_ln = ".ln_" in name or name.startswith("transformer.ln_f")
            if is_ln and leaf[1] == "weight":
                p.copy_(torch.empty_like(p).uniform_(0.5, 1.5, generator=gen))
            elif leaf[1] == "bias":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def build(tied: bool, seed: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(tiny_config(tied))
    gen = torch.Generator().manual_seed(seed + 1)
    randomise_ln_and_biases(model, gen)
    if not tied:
        with torch.no_grad():
            model.lm_head.weight.copy_(torch.randn(model.lm_head.weight.shape, generator=gen) * 0.2)
        assert model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr()
    model.config._attn_implementation = "eager"
    return model.float().eval()


def sequences(seed: int) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (n,), generator=gen).tolist() for n in SEQUENCE_LENGTHS]


def tensor_listing(path: Path) -> list[dict]:
    with safe_open(str(path), framework="pt") as f:
        out = []
        for key in sorted(f.keys()):
            t = f.get_slice(key)
            out.append({"name": key, "dtype": str(t.get_dtype()), "shape": list(t.get_shape())})
        return out


def one_key_per_line(obj: dict) -> str:
    """Readable JSON: one top-level key per line, values compact."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_fixture(name: str, tied: bool, seed: int) -> None:
    out_dir = FIXTURES / name
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build(tied, seed)
    model.save_pretrained(out_dir, safe_serialization=True)

    # Golden logits come from the reloaded files, so they describe exactly what is on disk.
    reloaded = GPT2LMHeadModel.from_pretrained(out_dir, attn_implementation="eager", dtype=torch.float32).eval()
    seqs = sequences(seed + 2)
    chunks, index, offset = [], [], 0
    with torch.no_grad():
        for seq in seqs:
            ids = torch.tensor([seq])
            logits = reloaded(ids).logits[0].float()
            ref = model(ids).logits[0].float()
            # Same weights; only float rounding in different kernel paths may differ.
            assert torch.allclose(logits, ref, atol=1e-5, rtol=0), f"{name}: reloaded model differs from built model"
            arr = logits.numpy().astype("<f4")
            chunks.append(arr)
            index.append({"offset": offset, "shape": list(arr.shape)})
            offset += arr.size

    bin_path = out_dir / "golden-logits.bin"
    np.concatenate([c.reshape(-1) for c in chunks]).astype("<f4").tofile(bin_path)
    tensors = tensor_listing(out_dir / "model.safetensors")
    golden = {
        "description": "Logits of the model in this folder (eval mode, float32, HF transformers eager attention, "
        "no attention mask, positions 0..T-1) for each token sequence.",
        "vocab_size": VOCAB,
        "tie_word_embeddings": tied,
        "sequences": seqs,
        "logits_file": bin_path.name,
        "logits_dtype": "float32",
        "logits_byte_order": "little-endian",
        "logits_layout": "sequences concatenated in order; each is row-major [T][vocab_size]; "
        "offset counts float32 elements (not bytes) from the start of the file",
        "logits_index": index,
        "logits_total_elements": offset,
        "safetensors_tensors": tensors,
        "generator": {
            "script": "scripts/golden/make_tiny_gpt2.py",
            "seed": seed,
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
        },
    }
    (out_dir / "golden.json").write_text(one_key_per_line(golden))

    names = {t["name"] for t in tensors}
    assert ("lm_head.weight" in names) == (not tied), f"{name}: lm_head.weight presence wrong: {sorted(names)}"
    model_bytes = (out_dir / "model.safetensors").stat().st_size
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    assert model_bytes < MAX_MODEL_BYTES, f"{name}: model.safetensors is {model_bytes} bytes"
    assert total < MAX_FIXTURE_BYTES, f"{name}: fixture folder is {total} bytes"
    spread = float(np.concatenate([c.reshape(-1) for c in chunks]).std())
    print(f"{name}: {len(tensors)} tensors, model {model_bytes} B, folder {total} B, logit std {spread:.3f}")


def main() -> int:
    write_fixture("tiny-gpt2", tied=True, seed=1234)
    write_fixture("tiny-gpt2-untied", tied=False, seed=4321)
    return 0


if __name__ == "__main__":
    sys.exit(main())
