"""PyTorch timings of the training workloads adaptlm benchmarks (bench/suites/training.ts runs this).

Usage: python3 training_ref.py THREADS [BERT_REPS TINY_REPS BUDGET_SECONDS [CASES]]
CASES: a comma-separated subset of bert-layer,tiny-step (default: both).
Prints one JSON object per line: {"name", "threads", "best_ms", "median_ms", "reps"}, or {"missing": reason}.
The models are written here in plain torch (no transformers) with the same shapes as the TypeScript side:
  bert-layer: one BERT-base encoder layer (hidden 768, 12 heads, FFN 3072, GELU erf, post-norm), seq 128,
              batch 8, forward + backward of sum(output * weights) w.r.t. every parameter and the input.
  tiny-step:  a 2-layer BERT-style encoder (hidden 64, 4 heads, FFN 256, vocab 1000) + pooler + 3-way
              classifier, seq 64, batch 16: forward, cross-entropy, backward, AdamW step.
"""

import json
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover
    print(json.dumps({"missing": f"torch does not import: {error}"}))
    sys.exit(0)


# Repetitions and time budget per case, set by the caller (the same as its own, so that both best times are
# minima over as many samples): argv [threads, bert_reps, tiny_reps, budget_seconds, cases].
LIMITS = {"max_reps": 50, "budget": 2.0}


def measure(fn, min_reps=3):
    budget, max_reps = LIMITS["budget"], LIMITS["max_reps"]
    fn()
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3, statistics.median(times) * 1e3, len(times)


class Layer(torch.nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads = heads
        self.q = torch.nn.Linear(d, d)
        self.k = torch.nn.Linear(d, d)
        self.v = torch.nn.Linear(d, d)
        self.o = torch.nn.Linear(d, d)
        self.ln1 = torch.nn.LayerNorm(d, eps=1e-12)
        self.up = torch.nn.Linear(d, ffn)
        self.down = torch.nn.Linear(ffn, d)
        self.ln2 = torch.nn.LayerNorm(d, eps=1e-12)

    def forward(self, x, bias):
        b, t, d = x.shape
        hd = d // self.heads
        split = lambda y: y.view(b, t, self.heads, hd).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        a = self.ln1(self.o(ctx) + x)
        return self.ln2(self.down(F.gelu(self.up(a))) + a)


def bert_layer(threads):
    torch.manual_seed(0)
    layer = Layer(768, 12, 3072)
    x = torch.randn(8, 128, 768, requires_grad=True)
    bias = torch.zeros(8, 1, 1, 128)
    weights = torch.rand(8, 128, 768)

    def step():
        for p in layer.parameters():
            p.grad = None
        x.grad = None
        (layer(x, bias) * weights).sum().backward()

    return measure(step)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.words = torch.nn.Embedding(1000, 64)
        self.positions = torch.nn.Embedding(64, 64)
        self.types = torch.nn.Embedding(2, 64)
        self.ln = torch.nn.LayerNorm(64, eps=1e-12)
        self.layers = torch.nn.ModuleList([Layer(64, 4, 256) for _ in range(2)])
        self.pooler = torch.nn.Linear(64, 64)
        self.classifier = torch.nn.Linear(64, 3)

    def forward(self, ids, types, bias):
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        h = self.ln(self.words(ids) + self.positions(positions) + self.types(types))
        for layer in self.layers:
            h = layer(h, bias)
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))


def tiny_step(threads):
    torch.manual_seed(0)
    model = Tiny()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    ids = torch.randint(0, 1000, (16, 64))
    types = torch.zeros(16, 64, dtype=torch.long)
    bias = torch.zeros(16, 1, 1, 64)
    labels = torch.randint(0, 3, (16,))

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(ids, types, bias), labels).backward()
        optimizer.step()

    return measure(step)


def main():
    threads = int(sys.argv[1])
    reps = {"bert-layer": 50, "tiny-step": 50}
    if len(sys.argv) >= 5:
        reps = {"bert-layer": int(sys.argv[2]), "tiny-step": int(sys.argv[3])}
        LIMITS["budget"] = float(sys.argv[4])
    cases = sys.argv[5].split(",") if len(sys.argv) >= 6 else ["bert-layer", "tiny-step"]
    torch.set_num_threads(threads)
    for name, fn in (("bert-layer", bert_layer), ("tiny-step", tiny_step)):
        if name not in cases:
            continue
        LIMITS["max_reps"] = reps[name]
        best, median, reps_done = fn(threads)
        print(json.dumps({"name": name, "threads": threads, "best_ms": best, "median_ms": median, "reps": reps_done}), flush=True)


main()
