// The shared check of a golden training case: outputs and loss at the initial values, extra checks (e.g.
// merged LoRA weights), then every trainable parameter's gradient, then one AdamW step.

import { AdamW } from "../../optim/adamw.js";
import type { Tensor } from "../../tensor/index.js";
import * as T from "../../tensor/index.js";
import { type Check, compareAbs, compareGrad, compareStep } from "./checks.js";
import { expectedTensor, type GoldenCase } from "./golden-case.js";

export interface PreparedTrainingCase {
  /** Outputs by their name in expected.safetensors (logits, start_logits, ...). */
  outputs: Record<string, Tensor>;
  loss: Tensor;
  /** Trainable parameters by canonical name (the names in case.json -> trainable). */
  trainable: Map<string, Tensor>;
  /** Checks that need the initial values (run before the optimizer step). */
  extraChecks?: () => Check[];
}

export function checkTrainingCase(c: GoldenCase, prepared: PreparedTrainingCase): Check[] {
  const tol = c.spec.tolerances;
  const checks: Check[] = [];
  for (const [name, tensor] of Object.entries(prepared.outputs)) {
    checks.push(compareAbs(name, tensor.data, expectedTensor(c, name).data, tol.outputs_atol));
  }
  checks.push(compareAbs("loss", [prepared.loss.item()], expectedTensor(c, "loss").data, tol.loss_atol));
  checks.push(...(prepared.extraChecks?.() ?? []));
  const specTrainable = c.spec.trainable ?? [];
  const expectedNames = new Set(specTrainable.map((t) => t.name));
  const actualNames = [...prepared.trainable.keys()];
  const unexpected = actualNames.filter((n) => !expectedNames.has(n));
  const missing = [...expectedNames].filter((n) => !prepared.trainable.has(n));
  checks.push({
    quantity: "trainable parameter set",
    maxError: unexpected.length + missing.length,
    tolerance: 0,
    pass: unexpected.length + missing.length === 0,
    detail:
      unexpected.length + missing.length > 0
        ? `missing ${missing.join(", ")}; unexpected ${unexpected.join(", ")}`
        : undefined,
  });
  T.backward(prepared.loss);
  for (const entry of specTrainable) {
    const param = prepared.trainable.get(entry.name);
    if (!param) continue;
    const grad = param.grad ? param.grad.data : new Float32Array(param.size);
    checks.push(
      compareGrad(
        `grad.${entry.name}`,
        grad,
        expectedTensor(c, `grad.${entry.name}`).data,
        tol.grad_rtol,
        tol.grad_atol,
      ),
    );
  }
  const optimizerSpec = c.spec.optimizer ?? { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8 };
  const groups = specTrainable
    .filter((entry) => prepared.trainable.has(entry.name))
    .map((entry) => ({
      params: [prepared.trainable.get(entry.name) as Tensor],
      weightDecay: entry.weight_decay,
    }));
  const optimizer = new AdamW(groups, {
    lr: optimizerSpec.lr,
    beta1: optimizerSpec.betas[0],
    beta2: optimizerSpec.betas[1],
    eps: optimizerSpec.eps,
  });
  const before = new Map<string, { initial: Float32Array; grad: Float32Array }>();
  for (const [name, param] of prepared.trainable) {
    before.set(name, {
      initial: Float32Array.from(param.data),
      grad: param.grad ? Float32Array.from(param.grad.data) : new Float32Array(param.size),
    });
  }
  optimizer.step();
  for (const entry of specTrainable) {
    const param = prepared.trainable.get(entry.name);
    if (!param) continue;
    checks.push(
      compareStep(
        `step1.${entry.name}`,
        param.data,
        expectedTensor(c, `step1.${entry.name}`).data,
        {
          referenceGrad: expectedTensor(c, `grad.${entry.name}`).data,
          ownGrad: before.get(entry.name)?.grad ?? new Float32Array(param.size),
          initial: before.get(entry.name)?.initial ?? new Float32Array(param.size),
          lr: optimizerSpec.lr,
          eps: optimizerSpec.eps,
          weightDecay: entry.weight_decay,
        },
        tol,
      ),
    );
  }
  return checks;
}
