"""PyTorch timings of generation for adaptlm's benchmark (bench/suites/generation.ts runs this).

Usage: python3 generation_ref.py THREADS WEIGHTS.safetensors CONFIG.json PROMPT_LEN DECODE_TOKENS
Loads the same random weights adaptlm used (safetensors parsed here with json + numpy), runs a plain torch
GPT-2 or Llama (no transformers) with a KV cache, eager mode, batch 1, and prints one JSON line:
{"prefill_ms", "decode_ms_per_token", "threads"} or {"missing": reason}.
"""

import json
import math
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as error:  # pragma: no cover
    print(json.dumps({"missing": f"torch/numpy do not import: {error}"}))
    sys.exit(0)


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype=np.float32).reshape(info["shape"]).copy())
    return out


def gpt2_step(w, cfg, ids, cache, past):
    d, h = cfg["n_embd"], cfg["n_head"]
    hd = d // h
    t = ids.shape[1]
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][past : past + t]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        a = F.layer_norm(x, (d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = [y.view(1, t, h, hd).transpose(1, 2) for y in qkv.split(d, dim=2)]
        if i in cache:
            k = torch.cat([cache[i][0], k], 2)
            v = torch.cat([cache[i][1], v], 2)
        cache[i] = (k, v)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if t > 1:
            s = s + torch.full((t, k.shape[2]), float("-inf")).triu(k.shape[2] - t + 1)
        ctx = (s.softmax(-1) @ v).transpose(1, 2).reshape(1, t, d)
        x = x + ctx @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = F.layer_norm(x, (d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
        x = x + F.gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh") @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (d,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
    return x[:, -1] @ w["transformer.wte.weight"].T


def rope(x, pos, hd, theta):
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    f = torch.outer(pos.float(), inv)
    cos, sin = torch.cat([f, f], -1).cos(), torch.cat([f, f], -1).sin()
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def llama_step(w, cfg, ids, cache, past):
    d, h, kvh = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // h
    t = ids.shape[1]
    pos = torch.arange(past, past + t)
    rms = lambda y, g: g * y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-6)
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms(x, w[p + "input_layernorm.weight"])
        q = rope((a @ w[p + "self_attn.q_proj.weight"].T).view(1, t, h, hd).transpose(1, 2), pos, hd, 10000.0)
        k = rope((a @ w[p + "self_attn.k_proj.weight"].T).view(1, t, kvh, hd).transpose(1, 2), pos, hd, 10000.0)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).view(1, t, kvh, hd).transpose(1, 2)
        if i in cache:
            k = torch.cat([cache[i][0], k], 2)
            v = torch.cat([cache[i][1], v], 2)
        cache[i] = (k, v)
        k2, v2 = k.repeat_interleave(h // kvh, 1), v.repeat_interleave(h // kvh, 1)
        s = q @ k2.transpose(-1, -2) / math.sqrt(hd)
        if t > 1:
            s = s + torch.full((t, k.shape[2]), float("-inf")).triu(k.shape[2] - t + 1)
        ctx = (s.softmax(-1) @ v2).transpose(1, 2).reshape(1, t, d)
        x = x + ctx @ w[p + "self_attn.o_proj.weight"].T
        m = rms(x, w[p + "post_attention_layernorm.weight"])
        x = x + (F.silu(m @ w[p + "mlp.gate_proj.weight"].T) * (m @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"])
    return x[:, -1] @ w["lm_head.weight"].T


def main():
    threads, weights, config, prompt_len, decode = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    w = read_safetensors(weights)
    cfg = json.load(open(config))
    step = gpt2_step if cfg["model_type"] == "gpt2" else llama_step
    vocab = cfg["vocab_size"]
    ids = torch.arange(prompt_len).remainder(vocab).unsqueeze(0)
    best_prefill, best_decode = float("inf"), float("inf")
    with torch.no_grad():
        for _ in range(3):
            cache = {}
            t0 = time.perf_counter()
            logits = step(w, cfg, ids, cache, 0)
            best_prefill = min(best_prefill, time.perf_counter() - t0)
            token = logits.argmax(-1).view(1, 1)
            t0 = time.perf_counter()
            for j in range(decode):
                token = step(w, cfg, token, cache, prompt_len + j).argmax(-1).view(1, 1)
            best_decode = min(best_decode, (time.perf_counter() - t0) / decode)
    print(json.dumps({"prefill_ms": best_prefill * 1e3, "decode_ms_per_token": best_decode * 1e3, "threads": threads}))


main()
