// Child process of the generation bench: builds one model, runs prefill + decode with a KV cache, and
// prints its peak resident set next to what the model must hold (float32 weights + KV cache), as JSON.
//   node dist/bench/peak-memory.js <gpt2-124M|llama-100M> <prompt tokens> <decode tokens> [repetitions, 1]

import { readFileSync } from "node:fs";
import { parseHfConfig } from "../src/io/hf-config.js";
import { GPT2LMHeadModel } from "../src/models/gpt2.js";
import { LlamaForCausalLM } from "../src/models/llama.js";
import { generationConfigs, timeOurs } from "./suites/generation.js";

const [name, promptArg, decodeArg, repetitionsArg] = process.argv.slice(2);
const raw = generationConfigs[name];
if (!raw) {
  console.error(`unknown model ${name}; one of ${Object.keys(generationConfigs).join(", ")}`);
  process.exit(2);
}
// Peak RSS of this process's own address space (VmHWM). Not resourceUsage().maxRSS: Linux carries that over
// from the parent at fork/exec, so a child of a bench that already holds big models would report the parent's.
function peakRssMb(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const baselineRssMb = peakRssMb();
const config = parseHfConfig(raw, name);
const model =
  config.family === "gpt2"
    ? new GPT2LMHeadModel(config, { seed: 1 })
    : new LlamaForCausalLM(config, { seed: 1 });
const decode = Number(decodeArg);
// One generation, as the KV cache in the denominator is one: timeOurs' three timing repetitions would each
// allocate a fresh cache, and a disposed cache is left to the garbage collector (KVBuffer.dispose does not
// pool sizes that will not recur), so the peak counted up to two dead caches (19 MB for GPT-2-124M at 136
// positions) that a single generation never holds. A fourth argument of 3 measures the old way.
const repetitions = Number(repetitionsArg ?? 1);
timeOurs(model, config.numLayers, config.vocabSize, decode, repetitions);
const positions = Number(promptArg) + decode;
const kvCacheMb = (config.numLayers * 2 * positions * config.numKvHeads * config.headDim * 4) / 1048576;
console.log(
  JSON.stringify({
    maxRssMb: peakRssMb(),
    baselineRssMb,
    weightsMb: (model.parameterCount() * 4) / 1048576,
    kvCacheMb,
  }),
);
