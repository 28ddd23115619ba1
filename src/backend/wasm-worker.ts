// A worker thread of the wasm backend: instantiates the shared kernel module over the shared memory, then
// waits for jobs published in the control block (see wasm-protocol.ts) and helps run their chunks.

import { workerData } from "node:worker_threads";
import {
  BASE,
  END,
  GEN,
  KERNEL,
  KERNELS,
  type KernelFunction,
  PARAMS,
  PER_CHUNK,
  READY,
  runChunks,
  SCRATCH_BASE,
  SCRATCH_STRIDE,
  TOTAL,
  type WorkerInit,
  wasmApi,
} from "./wasm-protocol.js";

const init = workerData as WorkerInit;
const instance = new wasmApi.Instance(init.module, { env: { memory: init.memory } });
const kernels = KERNELS.map((name) => instance.exports[name] as KernelFunction);
const control = new Int32Array(init.control);
Atomics.add(control, READY, 1);

/** Polls before sleeping, so that back-to-back kernels do not pay a futex wake-up each. */
const SPIN_POLLS = 4000;

let seen = Atomics.load(control, GEN);
for (;;) {
  let gen = Atomics.load(control, GEN);
  let polls = 0;
  while (gen === seen || (gen & 1) === 1) {
    if (polls++ < SPIN_POLLS) {
      gen = Atomics.load(control, GEN);
      continue;
    }
    Atomics.wait(control, GEN, gen);
    gen = Atomics.load(control, GEN);
  }
  const kernel = Atomics.load(control, KERNEL);
  const params = Atomics.load(control, PARAMS) >>> 0;
  const total = Atomics.load(control, TOTAL);
  const perChunk = Atomics.load(control, PER_CHUNK);
  const base = Atomics.load(control, BASE);
  const end = Atomics.load(control, END);
  const scratch =
    (Atomics.load(control, SCRATCH_BASE) >>> 0) + init.slot * (Atomics.load(control, SCRATCH_STRIDE) >>> 0);
  if (Atomics.load(control, GEN) !== gen) continue; // the job changed while it was read: read it again
  seen = gen;
  runChunks(control, kernels, kernel, params, total, perChunk, base, end, scratch);
}
