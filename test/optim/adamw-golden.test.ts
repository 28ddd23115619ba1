// One AdamW step on the golden fixtures: starting from every training case's init.* parameters with its
// grad.* gradients, our AdamW must land on its step1.* tensors (tolerances from ../shared/golden/README.md).

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { readSafetensors } from "../../src/io/safetensors.js";
import { AdamW } from "../../src/optim/index.js";
import * as T from "../../src/tensor/index.js";
import { sharedPath } from "../io/shared-paths.js";

interface CaseJson {
  trainable: { name: string; shape: number[]; weight_decay: number }[];
  optimizer: { lr: number; betas: [number, number]; eps: number };
}

const casesDir = sharedPath("golden/cases");
const caseNames = readdirSync(casesDir).filter(
  (name) => !name.endsWith("_forward") && !name.endsWith("_generate"),
);

test("the golden set has training cases", () => {
  assert.ok(caseNames.length >= 18, `found only ${caseNames.length} cases in ${casesDir}`);
});

for (const caseName of caseNames) {
  test(`AdamW one step matches PyTorch: ${caseName}`, () => {
    const spec = JSON.parse(readFileSync(`${casesDir}/${caseName}/case.json`, "utf8")) as CaseJson;
    const { tensors } = readSafetensors(`${casesDir}/${caseName}/expected.safetensors`);
    const get = (name: string) => {
      const t = tensors.get(name);
      assert.ok(t, `expected.safetensors lacks ${name}`);
      return t;
    };
    T.scope(() => {
      const groups = spec.trainable.map((entry) => {
        const init = get(`init.${entry.name}`);
        const param = T.keep(T.tensor(init.data, init.shape)).setRequiresGrad();
        param.grad = T.keep(T.tensor(get(`grad.${entry.name}`).data, init.shape));
        return { params: [param], weightDecay: entry.weight_decay };
      });
      const optimizer = new AdamW(groups, {
        lr: spec.optimizer.lr,
        beta1: spec.optimizer.betas[0],
        beta2: spec.optimizer.betas[1],
        eps: spec.optimizer.eps,
      });
      optimizer.step();
      spec.trainable.forEach((entry, i) => {
        const param = groups[i].params[0];
        const expected = get(`step1.${entry.name}`).data;
        const grad = get(`grad.${entry.name}`).data;
        for (let j = 0; j < param.size; j++) {
          const fragile = Math.abs(grad[j]) < 1e-5;
          const error = Math.abs(param.data[j] - expected[j]);
          assert.ok(
            error <= (fragile ? 1.05e-2 : 1e-5),
            `${entry.name}[${j}]: ${param.data[j]} vs ${expected[j]} (grad ${grad[j]})`,
          );
        }
        param.grad?.dispose();
        param.dispose();
      });
    });
  });
}
