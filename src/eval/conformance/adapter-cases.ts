// Golden cases of the parameter-efficient methods (every case with an adapter/ folder): the adapter is
// loaded from that PEFT folder through adaptlm's loader and attached to the task model; checks that the
// file's tensors carry the names case.json lists and equal the init.* tensors, then outputs, loss, every
// gradient and one AdamW step; LoRA cases also compare the merged weights.

import { join } from "node:path";
import { loadAdapter, readAdapterTensors } from "../../peft/adapter-store.js";
import { LoraAdapter } from "../../peft/lora.js";
import { forwardWithAdapter } from "../../peft/method.js";
import { type Check, compareAbs } from "./checks.js";
import { expectedTensor } from "./golden-case.js";
import type { CaseHandler } from "./handler.js";
import { goldenInputs, goldenTargets, goldenTaskModel, outputNames } from "./head-cases.js";
import { checkTrainingCase } from "./training-case.js";

const METHODS = new Set(["lora", "bitfit", "houlsby", "adapterbias", "prefix", "prompt"]);

export const adapterHandler: CaseHandler = {
  name: "parameter-efficient method from its PEFT adapter folder",
  handles: (spec) => spec.method !== null && METHODS.has(spec.method) && spec.adapter_dir !== null,
  run(c) {
    const dir = join(c.root, c.spec.adapter_dir as string);
    const model = goldenTaskModel(c);
    const adapter = loadAdapter(dir).attach(model);
    const checks: Check[] = [];
    // Saved names: what our adapter would write equals what the PEFT folder holds (case.json's mapping).
    const expectedNames = c.spec.peft_tensor_names ?? {};
    const fileNames = new Set(readAdapterTensors(dir).keys());
    const wrongNames = Object.entries(expectedNames).filter(
      ([canonical, saved]) => adapter.savedTensorName(canonical) !== saved || !fileNames.has(saved),
    );
    checks.push({
      quantity: "adapter tensor names",
      maxError: wrongNames.length,
      tolerance: 0,
      pass: wrongNames.length === 0,
      detail: wrongNames.length ? wrongNames.map(([n]) => n).join(", ") : undefined,
    });
    const trainable = adapter.trainableParameters();
    for (const [name, tensor] of trainable) {
      const init = c.expected.get(`init.${name}`);
      if (init)
        checks.push(
          compareAbs(`adapter file = init.${name}`, tensor.data.subarray(0, tensor.size), init.data, 0),
        );
    }
    const { outputs, loss } = forwardWithAdapter(model, adapter, goldenInputs(c), goldenTargets(c));
    const shown = Object.fromEntries(outputNames(c).map((n) => [n, outputs[n]]));
    const extraChecks = () => {
      if (!(adapter instanceof LoraAdapter)) return [];
      const merged = adapter.mergedWeights();
      const names = [...c.expected.keys()]
        .filter((n) => n.startsWith("merged."))
        .map((n) => n.slice("merged.".length));
      const out: Check[] = names.map((name) => {
        const mine = merged.get(name);
        if (!mine)
          return {
            quantity: `merged.${name}`,
            maxError: Number.POSITIVE_INFINITY,
            tolerance: 0,
            pass: false,
            detail: "not a LoRA layer",
          };
        return compareAbs(
          `merged.${name}`,
          mine.data,
          expectedTensor(c, `merged.${name}`).data,
          c.spec.tolerances.merged_atol,
        );
      });
      if (names.length === 0)
        out.push({ quantity: "merged weights stored", maxError: 1, tolerance: 0, pass: false });
      return out;
    };
    return [
      ...checks,
      ...checkTrainingCase(c, {
        outputs: shown,
        loss: loss as NonNullable<typeof loss>,
        trainable,
        extraChecks,
      }),
    ];
  },
};
