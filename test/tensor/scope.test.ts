// Memory scopes free a step's intermediates deterministically: 1,000 training steps leave the number of live
// buffers unchanged and do not grow the resident set.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Linear } from "../../src/nn/index.js";
import { AdamW } from "../../src/optim/index.js";
import * as T from "../../src/tensor/index.js";

test("scope disposes what it does not return, and keeps what it returns", () => {
  const before = T.liveStorageCount();
  let inner: T.Tensor | null = null;
  const kept = T.scope(() => {
    inner = T.ones([3]);
    return T.mulScalar(inner, 2);
  });
  assert.equal(inner!.disposed, true);
  assert.deepEqual(kept.toArray(), [2, 2, 2]);
  assert.throws(() => inner!.data, /already disposed/);
  kept.dispose();
  assert.equal(T.liveStorageCount(), before);
});

test("1,000 training steps in scopes: no live-buffer growth, no RSS growth", () => {
  const rng = new T.Rng(5);
  const layer1 = new Linear(32, 64, { rng });
  const layer2 = new Linear(64, 4, { rng });
  const params = [...layer1.parameters(), ...layer2.parameters()];
  const optimizer = new AdamW(params, { lr: 1e-3 });
  const inputs = T.keep(
    T.tensor(
      Array.from({ length: 16 * 32 }, () => rng.normal()),
      [16, 32],
    ),
  );
  const targets = T.keep(
    T.tensor(
      Array.from({ length: 16 }, (_, i) => i % 4),
      [16],
      "int32",
    ),
  );
  const step = () =>
    T.scope(() => {
      const logits = layer2.forward(T.gelu(layer1.forward(inputs)));
      const loss = T.crossEntropy(logits, targets);
      optimizer.zeroGrad();
      T.backward(loss);
      optimizer.step();
      return loss.item();
    });
  for (let i = 0; i < 100; i++) step();
  const liveAfterWarmup = T.liveStorageCount();
  global.gc?.();
  const rssAfterWarmup = process.memoryUsage().rss;
  let lastLoss = 0;
  for (let i = 0; i < 1000; i++) lastLoss = step();
  global.gc?.();
  const rssGrowth = process.memoryUsage().rss - rssAfterWarmup;
  assert.equal(T.liveStorageCount(), liveAfterWarmup, "a training step leaked buffers");
  assert.ok(
    rssGrowth < 32 * 1024 * 1024,
    `RSS grew by ${(rssGrowth / 1048576).toFixed(1)} MiB over 1,000 steps`,
  );
  assert.ok(lastLoss < 0.5, `the toy problem should be fitted, loss ${lastLoss}`);
});
