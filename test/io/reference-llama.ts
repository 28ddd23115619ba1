// A deliberately plain float64 Llama forward pass over a TensorSource with Hugging Face names and the HF
// rotate_half RoPE convention, plus llama2.c's greedy generation loop and piece decoding (run.c). Test-only:
// it checks that the io layer's weights (names, layout, RoPE row permutation) reproduce upstream llama2.c.

import type { ModelConfig } from "../../src/io/hf-config.js";
import type { TensorSource } from "../../src/io/tensor-source.js";

interface Weights {
  get(name: string): Float32Array;
}

/** y[rows] = W[rows, cols] x[cols] */
function matVec(w: Float32Array, x: Float64Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) sum += w[base + c] * x[c];
    y[r] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let meanSquare = 0;
  for (const v of x) meanSquare += v * v;
  meanSquare /= x.length;
  const scale = 1 / Math.sqrt(meanSquare + eps);
  return x.map((v, i) => v * scale * weight[i]);
}

/** HF rotate_half RoPE on each head of `vector` ([heads * headDim]) at position `pos`, in place. */
function rotateHalf(vector: Float64Array, heads: number, headDim: number, pos: number, theta: number): void {
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * theta ** (-(2 * i) / headDim);
      const a = vector[h * headDim + i];
      const b = vector[h * headDim + i + half];
      vector[h * headDim + i] = a * Math.cos(angle) - b * Math.sin(angle);
      vector[h * headDim + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
}

/** Incremental decoder with a KV cache; `step(token, pos)` returns the logits [vocab]. */
export class ReferenceLlama {
  private readonly keys: Float64Array[][];
  private readonly values: Float64Array[][];
  private readonly weights: Weights;

  constructor(
    readonly config: ModelConfig,
    source: TensorSource,
  ) {
    const cache = new Map<string, Float32Array>();
    this.weights = {
      get: (name) => {
        let w = cache.get(name);
        if (w === undefined) {
          w = source.readFloat32(name);
          cache.set(name, w);
        }
        return w;
      },
    };
    this.keys = Array.from({ length: config.numLayers }, () => []);
    this.values = Array.from({ length: config.numLayers }, () => []);
  }

  step(token: number, pos: number): Float64Array {
    const c = this.config;
    const d = c.hiddenSize;
    const hd = c.headDim;
    const kvDim = c.numKvHeads * hd;
    const w = this.weights;
    let x = Float64Array.from(w.get("model.embed_tokens.weight").subarray(token * d, (token + 1) * d));
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}.`;
      const xb = rmsNorm(x, w.get(`${p}input_layernorm.weight`), c.layerNormEps);
      const q = matVec(w.get(`${p}self_attn.q_proj.weight`), xb, c.numHeads * hd, d);
      const k = matVec(w.get(`${p}self_attn.k_proj.weight`), xb, kvDim, d);
      const v = matVec(w.get(`${p}self_attn.v_proj.weight`), xb, kvDim, d);
      rotateHalf(q, c.numHeads, hd, pos, c.ropeTheta!);
      rotateHalf(k, c.numKvHeads, hd, pos, c.ropeTheta!);
      this.keys[l][pos] = k;
      this.values[l][pos] = v;
      const attended = new Float64Array(c.numHeads * hd);
      const group = c.numHeads / c.numKvHeads;
      for (let h = 0; h < c.numHeads; h++) {
        const kvHead = Math.floor(h / group);
        const scores = new Float64Array(pos + 1);
        let max = Number.NEGATIVE_INFINITY;
        for (let t = 0; t <= pos; t++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[h * hd + i] * this.keys[l][t][kvHead * hd + i];
          scores[t] = dot / Math.sqrt(hd);
          max = Math.max(max, scores[t]);
        }
        let total = 0;
        for (let t = 0; t <= pos; t++) {
          scores[t] = Math.exp(scores[t] - max);
          total += scores[t];
        }
        for (let t = 0; t <= pos; t++) {
          for (let i = 0; i < hd; i++)
            attended[h * hd + i] += (scores[t] / total) * this.values[l][t][kvHead * hd + i];
        }
      }
      const out = matVec(w.get(`${p}self_attn.o_proj.weight`), attended, d, c.numHeads * hd);
      x = x.map((value, i) => value + out[i]);
      const xf = rmsNorm(x, w.get(`${p}post_attention_layernorm.weight`), c.layerNormEps);
      const gate = matVec(w.get(`${p}mlp.gate_proj.weight`), xf, c.intermediateSize, d);
      const up = matVec(w.get(`${p}mlp.up_proj.weight`), xf, c.intermediateSize, d);
      const hidden = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matVec(w.get(`${p}mlp.down_proj.weight`), hidden, d, c.intermediateSize);
      x = x.map((value, i) => value + down[i]);
    }
    const final = rmsNorm(x, w.get("model.norm.weight"), c.layerNormEps);
    const head = c.tieWordEmbeddings ? w.get("model.embed_tokens.weight") : w.get("lm_head.weight");
    return matVec(head, final, c.vocabSize, d);
  }
}

/**
 * run.c's generate with temperature 0 and an empty prompt: start from BOS (1), `steps` positions in all,
 * stop early when BOS is produced; pieces decoded as run.c's decode + safe_printf. Returns the printed bytes.
 */
export function greedyLlama2c(model: ReferenceLlama, pieces: Uint8Array[], steps: number): Uint8Array {
  const output: number[] = [];
  let token = 1;
  for (let pos = 0; pos < steps; pos++) {
    const logits = model.step(token, pos);
    let next = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
    if (next === 1) break;
    let piece = pieces[next];
    if (token === 1 && piece[0] === 0x20) piece = piece.subarray(1);
    const text = new TextDecoder().decode(piece);
    const byteMatch = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
    if (byteMatch !== null) piece = new Uint8Array([Number.parseInt(byteMatch[1], 16)]);
    const printable = (b: number): boolean => (b >= 0x20 && b < 0x7f) || (b >= 0x09 && b <= 0x0d);
    if (!(piece.length === 1 && !printable(piece[0]))) output.push(...piece);
    token = next;
  }
  return Uint8Array.from(output);
}
