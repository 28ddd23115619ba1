// llama2.c checkpoints (karpathy/llama2.c, export.py and run.c), presented with Hugging Face Llama names and
// conventions so that the one Llama implementation runs them.
//
// Legacy format (export.py legacy_export, "version 0"):
//   7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative = separate classifier),
//   seq_len; then float32 arrays, each stacked over layers where per-layer:
//   token_embedding [vocab, dim], rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim],
//   wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim],
//   rms_final [dim], freq_cis_real [seq_len, head_size/2], freq_cis_imag [seq_len, head_size/2] (skipped),
//   wcls [vocab, dim] only when vocab_size < 0.
// Version 1 ("ak42", export.py version1_export): 256-byte header = uint32 magic 0x616b3432, int32 version 1,
//   the same 7 int32 (vocab_size always positive), uint8 shared_classifier, zero padding; then float32
//   rms_att, rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3, [wcls if not shared]. No freq_cis.
//
// RoPE convention: llama2.c rotates interleaved pairs (2i, 2i+1) of each head; HF Llama rotates
// (i, i + headDim/2) ("rotate_half"). transformers' convert_llama_weights_to_hf.py reconciles them by
// permuting the rows of wq and wk inside each head: view(heads, headDim/2, 2, in).transpose(1, 2). We apply
// the same permutation on read (q with n_heads, k with n_kv_heads), so the returned weights are exactly what an
// HF Llama checkpoint of the same model holds and the model layer only implements rotate_half. The scores
// q.k are unchanged because q and k rows are permuted alike. Frequencies agree: both use
// theta^(-2i/headDim), theta = 10000. run.c's RMSNorm epsilon is 1e-5.

import { closeSync, fstatSync, openSync } from "node:fs";
import { basename } from "node:path";
import { AdaptlmError } from "../errors.js";
import type { ModelConfig } from "./hf-config.js";
import { hostIsLittleEndian, readAt, swapBytesInPlace } from "./positional-read.js";
import { type LoadedTensor, type StoredTensorInfo, shapeSize, type TensorSource } from "./tensor-source.js";

/**
 * Typed error for llama2.c files. Codes: LLAMA2C_IO, LLAMA2C_TRUNCATED (file shorter than its header says),
 * LLAMA2C_SIZE_MISMATCH (longer than expected: not this format or wrong flags), LLAMA2C_BAD_HEADER (impossible
 * dimensions), LLAMA2C_UNSUPPORTED_VERSION (e.g. the int8 "version 2" export), LLAMA2C_NOT_FOUND,
 * LLAMA2C_WRONG_KIND, LLAMA2C_CLOSED, LLAMA2C_BAD_TOKENIZER.
 */
export class Llama2cError extends AdaptlmError {}

/** The v1 magic number: "ak42" as a little-endian uint32. */
export const LLAMA2C_MAGIC = 0x616b3432;
const V1_HEADER_BYTES = 256;
const LEGACY_HEADER_BYTES = 28;

/** The numbers in a llama2.c header, with the classifier flag made explicit. */
export interface Llama2cHeader {
  format: "legacy" | "v1";
  dim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Always positive here (the legacy sign is turned into `sharedClassifier`). */
  vocabSize: number;
  seqLen: number;
  /** true: the output classifier is the token embedding (HF tie_word_embeddings). */
  sharedClassifier: boolean;
}

interface TensorLocation {
  offset: number;
  shape: number[];
  /** Heads to permute rows over (q: n_heads, k: n_kv_heads), or 0 for no permutation. */
  ropeHeads: number;
}

export interface OpenLlama2cOptions {
  /** Convert wq/wk from interleaved to rotate-half RoPE (default true; see the file comment). */
  permuteRope?: boolean;
}

/**
 * An open llama2.c checkpoint: the weights as a TensorSource under HF Llama names (`model.embed_tokens.weight`
 * [vocab, dim], `model.layers.<i>.self_attn.q_proj.weight` [dim, dim], `...k_proj.weight` [kvDim, dim],
 * `...v_proj.weight` [kvDim, dim], `...o_proj.weight` [dim, dim], `...mlp.gate_proj.weight` [hidden, dim],
 * `...mlp.down_proj.weight` [dim, hidden], `...mlp.up_proj.weight` [hidden, dim],
 * `...input_layernorm.weight` [dim], `...post_attention_layernorm.weight` [dim], `model.norm.weight` [dim],
 * `lm_head.weight` [vocab, dim] only when the classifier is not shared), read on demand, all float32.
 */
export class Llama2cCheckpoint implements TensorSource {
  readonly path: string;
  readonly header: Llama2cHeader;
  /** Normalised config (family "llama"), same shape as readHfConfig's. */
  readonly config: ModelConfig;
  private fd: number;
  private readonly locations: Map<string, TensorLocation>;
  private readonly sortedNames: string[];
  private readonly permuteRope: boolean;

  /** Use `openLlama2c`. */
  constructor(
    path: string,
    fd: number,
    header: Llama2cHeader,
    locations: Map<string, TensorLocation>,
    permuteRope: boolean,
  ) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.locations = locations;
    this.sortedNames = [...locations.keys()].sort();
    this.permuteRope = permuteRope;
    this.config = llama2cConfig(header, path);
  }

  names(): string[] {
    return [...this.sortedNames];
  }

  has(name: string): boolean {
    return this.locations.has(name);
  }

  info(name: string): StoredTensorInfo {
    const location = this.locate(name);
    return { dtype: "F32", shape: [...location.shape], byteLength: shapeSize(location.shape) * 4 };
  }

  read(name: string): LoadedTensor {
    const location = this.locate(name);
    return { dtype: "F32", shape: [...location.shape], data: this.readFloat32(name) };
  }

  /** Through a temporary array: llama2.c checkpoints are small, and RoPE rows may be permuted on the way. */
  readFloat32Into(name: string, out: Float32Array): void {
    const values = this.readFloat32(name);
    if (out.length !== values.length) {
      throw new Llama2cError(
        "LLAMA2C_WRONG_KIND",
        `cannot read "${name}" (${values.length} elements) into an array of ${out.length}`,
      );
    }
    out.set(values);
  }

  readFloat32(name: string): Float32Array {
    const location = this.locate(name);
    const out = new Float32Array(shapeSize(location.shape));
    const bytes = new Uint8Array(out.buffer);
    let got: number;
    try {
      got = readAt(this.fd, bytes, location.offset);
    } catch (error) {
      throw new Llama2cError("LLAMA2C_IO", `cannot read "${name}" from ${this.path}: ${errorText(error)}`, {
        cause: error,
      });
    }
    if (got !== bytes.byteLength) {
      throw new Llama2cError(
        "LLAMA2C_TRUNCATED",
        `${this.path} ended while reading "${name}": the file was truncated or replaced after it was opened`,
      );
    }
    if (!hostIsLittleEndian) swapBytesInPlace(bytes, 4);
    if (this.permuteRope && location.ropeHeads > 0) {
      return permuteRopeRows(
        out,
        location.ropeHeads,
        location.shape[0] / location.ropeHeads,
        location.shape[1],
      );
    }
    return out;
  }

  readInt32(name: string): Int32Array {
    this.locate(name);
    throw new Llama2cError("LLAMA2C_WRONG_KIND", `"${name}" in ${this.path} is float32; use readFloat32`);
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
    }
  }

  private locate(name: string): TensorLocation {
    if (this.fd < 0) throw new Llama2cError("LLAMA2C_CLOSED", `${this.path} was closed; open it again`);
    const location = this.locations.get(name);
    if (location === undefined) {
      throw new Llama2cError(
        "LLAMA2C_NOT_FOUND",
        `no tensor "${name}" in llama2.c checkpoint ${this.path}; it has: ${this.sortedNames.slice(0, 4).join(", ")}, ...` +
          (name === "lm_head.weight" ? " (its classifier is shared with model.embed_tokens.weight)" : ""),
      );
    }
    return location;
  }
}

/**
 * Converts the rows of a q or k projection from llama2.c's interleaved RoPE layout to HF's rotate-half
 * layout (transformers convert_llama_weights_to_hf.py `permute`): within each head, output row
 * j * headDim/2 + i = input row 2i + j (i < headDim/2, j in {0, 1}).
 * `weight`: [heads * headDim, columns] row-major. Returns a new array of the same shape.
 */
export function permuteRopeRows(
  weight: Float32Array,
  heads: number,
  headDim: number,
  columns: number,
): Float32Array {
  const out = new Float32Array(weight.length);
  const half = headDim / 2;
  for (let head = 0; head < heads; head++) {
    const base = head * headDim;
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (base + 2 * i + j) * columns;
        const to = (base + j * half + i) * columns;
        out.set(weight.subarray(from, from + columns), to);
      }
    }
  }
  return out;
}

/**
 * Opens a llama2.c checkpoint (legacy or v1, detected by the magic number), validates the header against
 * the file size, and maps the weights to HF Llama names. Throws Llama2cError (LLAMA2C_IO, LLAMA2C_TRUNCATED,
 * LLAMA2C_SIZE_MISMATCH, LLAMA2C_BAD_HEADER, LLAMA2C_UNSUPPORTED_VERSION). The caller must `close()`.
 */
export function openLlama2c(path: string, options: OpenLlama2cOptions = {}): Llama2cCheckpoint {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new Llama2cError("LLAMA2C_IO", `cannot open llama2.c checkpoint ${path}: ${errorText(error)}`, {
      cause: error,
    });
  }
  try {
    const fileSize = fstatSync(fd).size;
    const label = basename(path);
    const head = new Uint8Array(Math.min(V1_HEADER_BYTES, fileSize));
    readAt(fd, head, 0);
    if (head.length < LEGACY_HEADER_BYTES) {
      throw new Llama2cError(
        "LLAMA2C_TRUNCATED",
        `${label} is ${fileSize} bytes, shorter than a llama2.c header (${LEGACY_HEADER_BYTES} bytes): file is truncated or not a llama2.c checkpoint`,
      );
    }
    const view = new DataView(head.buffer);
    let header: Llama2cHeader;
    let dataStart: number;
    if (view.getUint32(0, true) === LLAMA2C_MAGIC) {
      if (head.length < 37) {
        throw new Llama2cError(
          "LLAMA2C_TRUNCATED",
          `${label} ends inside its 256-byte llama2.c v1 header: file is truncated`,
        );
      }
      const version = view.getInt32(4, true);
      if (version !== 1) {
        throw new Llama2cError(
          "LLAMA2C_UNSUPPORTED_VERSION",
          `${label} is a llama2.c "ak42" export of version ${version}; adaptlm reads version 1 (float32) and the legacy format. ` +
            "Re-export with export.py --version 1 (version 2 is int8-quantized).",
        );
      }
      const ints = readInts(view, 8);
      header = { format: "v1", ...ints, sharedClassifier: view.getUint8(36) !== 0 };
      if (ints.vocabSize <= 0) {
        throw new Llama2cError(
          "LLAMA2C_BAD_HEADER",
          `${label}: v1 header has vocab_size ${ints.vocabSize}; it must be positive`,
        );
      }
      dataStart = V1_HEADER_BYTES;
    } else {
      const ints = readInts(view, 0);
      header = {
        format: "legacy",
        ...ints,
        vocabSize: Math.abs(ints.vocabSize),
        sharedClassifier: ints.vocabSize > 0,
      };
      dataStart = LEGACY_HEADER_BYTES;
    }
    validateHeader(header, label);
    // Checked arithmetically before any per-layer work, so absurd headers (2^31 layers) fail fast.
    const end = expectedFileSize(header, dataStart);
    if (end !== fileSize) {
      const describe =
        `${header.format} header (dim ${header.dim}, hidden_dim ${header.hiddenDim}, ${header.numLayers} layers, ` +
        `${header.numHeads} heads, ${header.numKvHeads} kv heads, vocab ${header.vocabSize}, seq_len ${header.seqLen}, ` +
        `${header.sharedClassifier ? "shared" : "separate"} classifier) needs ${end} bytes`;
      throw new Llama2cError(
        end > fileSize ? "LLAMA2C_TRUNCATED" : "LLAMA2C_SIZE_MISMATCH",
        `${label}: the ${describe} but the file is ${fileSize} bytes: ` +
          (end > fileSize
            ? "file is truncated"
            : "file is not a llama2.c float32 checkpoint or its header is wrong"),
      );
    }
    const { locations } = layout(header, dataStart);
    return new Llama2cCheckpoint(path, fd, header, locations, options.permuteRope ?? true);
  } catch (error) {
    closeSync(fd);
    if (error instanceof Llama2cError) throw error;
    throw new Llama2cError("LLAMA2C_IO", `cannot read ${path}: ${errorText(error)}`, { cause: error });
  }
}

function readInts(view: DataView, at: number): Omit<Llama2cHeader, "format" | "sharedClassifier"> {
  const int = (index: number): number => view.getInt32(at + 4 * index, true);
  return {
    dim: int(0),
    hiddenDim: int(1),
    numLayers: int(2),
    numHeads: int(3),
    numKvHeads: int(4),
    vocabSize: int(5),
    seqLen: int(6),
  };
}

function validateHeader(h: Llama2cHeader, label: string): void {
  const fields: [string, number][] = [
    ["dim", h.dim],
    ["hidden_dim", h.hiddenDim],
    ["n_layers", h.numLayers],
    ["n_heads", h.numHeads],
    ["n_kv_heads", h.numKvHeads],
    ["vocab_size", h.vocabSize],
    ["seq_len", h.seqLen],
  ];
  for (const [key, value] of fields) {
    if (value <= 0) {
      throw new Llama2cError(
        "LLAMA2C_BAD_HEADER",
        `${label}: header field ${key} is ${value}; it must be positive (file is corrupt or not a llama2.c checkpoint)`,
      );
    }
  }
  const problem =
    h.dim % h.numHeads !== 0
      ? `dim ${h.dim} is not a multiple of n_heads ${h.numHeads}`
      : h.numHeads % h.numKvHeads !== 0
        ? `n_heads ${h.numHeads} is not a multiple of n_kv_heads ${h.numKvHeads}`
        : (h.dim / h.numHeads) % 2 !== 0
          ? `head size ${h.dim / h.numHeads} is odd, RoPE needs pairs`
          : null;
  if (problem !== null) {
    throw new Llama2cError(
      "LLAMA2C_BAD_HEADER",
      `${label}: ${problem} (file is corrupt or not a llama2.c checkpoint)`,
    );
  }
}

/** Total file size a header implies (float arithmetic; exact below 2^53, larger values never match a file). */
function expectedFileSize(h: Llama2cHeader, dataStart: number): number {
  const headDim = h.dim / h.numHeads;
  const kvDim = h.numKvHeads * headDim;
  const perLayer = 2 * h.dim + 2 * h.dim * h.dim + 2 * kvDim * h.dim + 3 * h.hiddenDim * h.dim;
  const floats =
    h.vocabSize * h.dim +
    h.numLayers * perLayer +
    h.dim +
    (h.format === "legacy" ? h.seqLen * headDim : 0) +
    (h.sharedClassifier ? 0 : h.vocabSize * h.dim);
  return dataStart + 4 * floats;
}

/** Byte offsets of every tensor, in file order, and the expected file size. */
function layout(
  h: Llama2cHeader,
  dataStart: number,
): { locations: Map<string, TensorLocation>; end: number } {
  const headDim = h.dim / h.numHeads;
  const kvDim = h.numKvHeads * headDim;
  const locations = new Map<string, TensorLocation>();
  let offset = dataStart;
  /** One array stacked over layers: per-layer `shape`, named by `name(i)`. */
  const perLayer = (name: (layer: number) => string, shape: number[], ropeHeads = 0): void => {
    for (let layer = 0; layer < h.numLayers; layer++) {
      locations.set(name(layer), { offset, shape, ropeHeads });
      offset += shapeSize(shape) * 4;
    }
  };
  const single = (name: string, shape: number[]): void => {
    locations.set(name, { offset, shape, ropeHeads: 0 });
    offset += shapeSize(shape) * 4;
  };
  const p = (layer: number, rest: string): string => `model.layers.${layer}.${rest}`;
  const embedding = (): void => single("model.embed_tokens.weight", [h.vocabSize, h.dim]);
  const attentionNorms = (): void => perLayer((i) => p(i, "input_layernorm.weight"), [h.dim]);
  const ffnNorms = (): void => perLayer((i) => p(i, "post_attention_layernorm.weight"), [h.dim]);
  const finalNorm = (): void => single("model.norm.weight", [h.dim]);
  const attention = (): void => {
    perLayer((i) => p(i, "self_attn.q_proj.weight"), [h.dim, h.dim], h.numHeads);
    perLayer((i) => p(i, "self_attn.k_proj.weight"), [kvDim, h.dim], h.numKvHeads);
    perLayer((i) => p(i, "self_attn.v_proj.weight"), [kvDim, h.dim]);
    perLayer((i) => p(i, "self_attn.o_proj.weight"), [h.dim, h.dim]);
  };
  const feedForward = (): void => {
    perLayer((i) => p(i, "mlp.gate_proj.weight"), [h.hiddenDim, h.dim]); // w1
    perLayer((i) => p(i, "mlp.down_proj.weight"), [h.dim, h.hiddenDim]); // w2
    perLayer((i) => p(i, "mlp.up_proj.weight"), [h.hiddenDim, h.dim]); // w3
  };
  if (h.format === "legacy") {
    embedding();
    attentionNorms();
    attention();
    ffnNorms();
    feedForward();
    finalNorm();
    offset += 2 * h.seqLen * (headDim / 2) * 4; // freq_cis_real, freq_cis_imag: unused (RoPE is recomputed)
  } else {
    attentionNorms();
    ffnNorms();
    finalNorm();
    embedding();
    attention();
    feedForward();
  }
  if (!h.sharedClassifier) single("lm_head.weight", [h.vocabSize, h.dim]);
  return { locations, end: offset };
}

/** The normalised config of a llama2.c model (run.c's constants: RMSNorm eps 1e-5, RoPE theta 10000, SiLU). */
export function llama2cConfig(h: Llama2cHeader, source: string): ModelConfig {
  return {
    family: "llama",
    modelType: "llama",
    architectures: ["LlamaForCausalLM"],
    baseModelPrefix: "model",
    hiddenSize: h.dim,
    numLayers: h.numLayers,
    numHeads: h.numHeads,
    numKvHeads: h.numKvHeads,
    headDim: h.dim / h.numHeads,
    intermediateSize: h.hiddenDim,
    vocabSize: h.vocabSize,
    maxPositions: h.seqLen,
    norm: "rmsnorm",
    layerNormEps: 1e-5,
    act: "silu",
    positionEmbedding: "rope",
    positionIdOffset: 0,
    positionIdsFromPadding: false,
    typeVocabSize: 0,
    ropeTheta: 10000,
    ropeScaling: null,
    attentionBias: false,
    attentionOutputBias: false,
    mlpBias: false,
    tieWordEmbeddings: h.sharedClassifier,
    slidingWindow: null,
    slidingWindowFromLayer: 0,
    scaleAttnByInverseLayerIdx: false,
    // llama2.c's SentencePiece vocabularies: 0 <unk>, 1 <s>, 2 </s>; no padding token.
    padTokenId: null,
    bosTokenId: 1,
    eosTokenId: 2,
    labels: null,
    torchDtype: "float32",
    source,
    raw: Object.freeze({ llama2c: { ...h } }),
  };
}

/**
 * A llama2.c tokenizer.bin. `pieces[i]` are the raw bytes of token i as stored; `vocab[i]` is the same
 * decoded as UTF-8 (llama2.c's tokenizer export writes SentencePiece pieces with "▁" replaced by a space,
 * UTF-8 encoded, so every real file decodes cleanly; invalid sequences would become U+FFFD, which is why
 * the bytes are kept). Byte-fallback tokens appear literally as "<0x0A>" etc.; BOS/EOS as "\n<s>\n" and
 * "\n</s>\n". `scores` [vocab] are the merge priorities.
 */
export interface Llama2cTokenizer {
  vocab: string[];
  pieces: Uint8Array[];
  scores: Float32Array;
  maxTokenLength: number;
}

/**
 * Parses a llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length,
 * `length` bytes. The file does not store the vocabulary size (run.c takes it from the checkpoint): pass
 * `vocabSize` to read exactly that many tokens (trailing bytes are an error), or omit it to read to the end.
 * Throws Llama2cError LLAMA2C_IO / LLAMA2C_BAD_TOKENIZER (truncated, negative lengths, extra bytes).
 */
export function readLlama2cTokenizer(path: string, vocabSize?: number): Llama2cTokenizer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new Llama2cError("LLAMA2C_IO", `cannot open tokenizer ${path}: ${errorText(error)}`, {
      cause: error,
    });
  }
  let bytes: Uint8Array;
  try {
    // Tokenizer files are small (a 32k vocabulary is ~0.5 MB), so one read is fine here.
    const size = fstatSync(fd).size;
    bytes = new Uint8Array(size);
    if (readAt(fd, bytes, 0) !== size) throw new Error("file changed while reading");
  } catch (error) {
    throw new Llama2cError("LLAMA2C_IO", `cannot read tokenizer ${path}: ${errorText(error)}`, {
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
  const label = basename(path);
  const bad = (what: string): Llama2cError =>
    new Llama2cError(
      "LLAMA2C_BAD_TOKENIZER",
      `${label}: ${what}: file is truncated or not a llama2.c tokenizer.bin`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw bad(`only ${bytes.length} bytes, no max_token_length`);
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) throw bad(`max_token_length is ${maxTokenLength}`);
  if (vocabSize !== undefined && !(Number.isSafeInteger(vocabSize) && vocabSize > 0)) {
    throw new Llama2cError("LLAMA2C_BAD_TOKENIZER", `vocabSize must be a positive integer, got ${vocabSize}`);
  }
  const decoder = new TextDecoder("utf-8");
  const vocab: string[] = [];
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let position = 4;
  while (vocabSize === undefined ? position < bytes.length : pieces.length < vocabSize) {
    const index = pieces.length;
    if (position + 8 > bytes.length)
      throw bad(`token ${index} starts at byte ${position} but the file ends at ${bytes.length}`);
    const score = view.getFloat32(position, true);
    const length = view.getInt32(position + 4, true);
    position += 8;
    if (length < 0 || position + length > bytes.length) {
      throw bad(`token ${index} claims ${length} bytes at byte ${position} of ${bytes.length}`);
    }
    const piece = bytes.slice(position, position + length);
    position += length;
    pieces.push(piece);
    vocab.push(decoder.decode(piece));
    scores.push(score);
  }
  if (position !== bytes.length) {
    throw new Llama2cError(
      "LLAMA2C_BAD_TOKENIZER",
      `${label}: ${bytes.length - position} bytes left after ${vocabSize} tokens: the tokenizer does not match the model's vocabulary size`,
    );
  }
  return { vocab, pieces, scores: Float32Array.from(scores), maxTokenLength };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
