"""PyTorch reference of bench/suites/bert-training-step.ts: one training step of a BERT-base-shaped sequence
classifier, full fine-tuning or LoRA, with its peak resident set.

Usage: python3 bert_step_ref.py full|lora STEPS THREADS
Prints one JSON object: {"best_ms", "median_ms", "steps", "peak_rss_mb", "baseline_rss_mb", "parameters",
"trainable", "state_mb", "threads"}, or {"missing": reason}.

Plain torch modules (no transformers, no peft) with the same shapes and semantics as adaptlm's
BertForSequenceClassification: embeddings (word 30522 + position 512 + token type 2) + LayerNorm, 12
post-norm layers (hidden 768, 12 heads, FFN 3072, GELU erf), tanh pooler over the first token, dropout 0.1
and a 2-way classifier; no dropout inside the encoder (adaptlm has none there). LoRA: rank 8, alpha 16 on
query and value (A Kaiming-uniform, B zero, no LoRA dropout); the base frozen, LoRA and the classifier
trained, as PEFT with modules_to_save. Batch 8, seq 128, cross-entropy, backward, AdamW (lr 1e-4, weight
decay 0.01). One warm-up step, then STEPS timed steps.
"""

import json
import math
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover
    print(json.dumps({"missing": f"torch does not import: {error}"}))
    sys.exit(0)


def peak_rss_mb():
    # VmHWM of this process; ru_maxrss can carry the parent's peak over at exec.
    with open("/proc/self/status") as f:
        match = re.search(r"^VmHWM:\s+(\d+) kB$", f.read(), re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


class LoraLinear(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale


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


class BertClassifier(torch.nn.Module):
    def __init__(self, vocab=30522, d=768, layers=12, heads=12, ffn=3072, positions=512, labels=2):
        super().__init__()
        self.word = torch.nn.Embedding(vocab, d)
        self.position = torch.nn.Embedding(positions, d)
        self.token_type = torch.nn.Embedding(2, d)
        self.ln = torch.nn.LayerNorm(d, eps=1e-12)
        self.layers = torch.nn.ModuleList(Layer(d, heads, ffn) for _ in range(layers))
        self.pooler = torch.nn.Linear(d, d)
        self.dropout = torch.nn.Dropout(0.1)
        self.classifier = torch.nn.Linear(d, labels)

    def forward(self, ids, mask):
        b, t = ids.shape
        positions = torch.arange(t).unsqueeze(0)
        x = self.ln(self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids)))
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(self.dropout(pooled))


def main():
    method, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    baseline = peak_rss_mb()
    torch.manual_seed(0)
    model = BertClassifier()
    if method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.layers:
            layer.q = LoraLinear(layer.q, 8, 16)
            layer.v = LoraLinear(layer.v, 8, 16)
        for p in model.classifier.parameters():
            p.requires_grad_(True)
    elif method != "full":
        raise SystemExit(f"method must be full or lora, got {method}")
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 30522, (8, 128), generator=generator)
    mask = torch.ones(8, 128, dtype=torch.long)
    labels = torch.randint(0, 2, (8,), generator=generator)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(ids, mask), labels).backward()
        optimizer.step()

    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    parameters = sum(p.numel() for p in model.parameters())
    trainable_count = sum(p.numel() for p in trainable)
    print(
        json.dumps(
            {
                "best_ms": min(times),
                "median_ms": statistics.median(times),
                "steps": steps,
                "peak_rss_mb": peak_rss_mb(),
                "baseline_rss_mb": baseline,
                "parameters": parameters,
                "trainable": trainable_count,
                "state_mb": (parameters + 3 * trainable_count) * 4 / 1048576,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
