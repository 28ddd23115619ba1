// The preallocated KV cache: attention over a cache's buffers (keyLength < capacity) equals attention over
// the concatenated keys, on every backend, through geometric growth and row selection.

import assert from "node:assert/strict";
import { test } from "node:test";
import { availableBackends } from "../../src/backend/registry.js";
import * as T from "../../src/tensor/index.js";

function random(
  rng: T.Rng,
  shape: number[],
  backend: ReturnType<typeof availableBackends>[number],
): T.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return T.tensor(
    Array.from({ length: size }, () => rng.next() * 2 - 1),
    shape,
    "float32",
    backend,
  );
}

function assertClose(actual: T.Tensor, expected: T.Tensor, tolerance = 1e-5): void {
  assert.deepEqual(actual.shape, expected.shape);
  const a = actual.data;
  const e = expected.data;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs((a[i] as number) - (e[i] as number)) <= tolerance, `element ${i}: ${a[i]} vs ${e[i]}`);
  }
}

for (const backend of availableBackends()) {
  test(`${backend.name}: decoding through a growing KV cache equals attention over concatenated keys`, () => {
    T.noGrad(() => {
      const rng = new T.Rng(11);
      const [batch, heads, kvHeads, headDim] = [2, 4, 2, 8];
      // No capacity hint: the cache starts at the prompt's 5 positions and doubles as tokens arrive.
      const cache = new T.KVCache(1);
      let allK: T.Tensor | null = null;
      let allV: T.Tensor | null = null;
      const capacities: number[] = [];
      for (const t of [5, 1, 1, 3, 1, 1, 1, 1, 1, 1]) {
        const q = random(rng, [batch, heads, t, headDim], backend);
        const k = random(rng, [batch, kvHeads, t, headDim], backend);
        const v = random(rng, [batch, kvHeads, t, headDim], backend);
        const cached = cache.append(0, k, v);
        allK = allK ? T.concat([allK, k], 2) : k;
        allV = allV ? T.concat([allV, v], 2) : v;
        capacities.push(cached.key.shape[2]);
        assert.equal(cached.length, allK.shape[2]);
        const fromCache = T.attention(q, cached.key, cached.value, {
          causal: true,
          keyLength: cached.length,
        });
        const fromConcat = T.attention(q, allK, allV, { causal: true });
        assertClose(fromCache, fromConcat);
      }
      assert.deepEqual(capacities, [5, 10, 10, 10, 20, 20, 20, 20, 20, 20]);
      cache.dispose();
    });
  });

  test(`${backend.name}: a capacity hint allocates once; selectRows keeps, repeats and drops rows`, () => {
    T.noGrad(() => {
      const rng = new T.Rng(12);
      const cache = new T.KVCache(2, 9);
      const k = random(rng, [2, 1, 4, 4], backend);
      const v = random(rng, [2, 1, 4, 4], backend);
      const first = cache.append(1, k, v);
      assert.equal(first.key.shape[2], 9);
      cache.append(0, k, v);
      cache.selectRows([1, 1, 0]);
      assert.equal(cache.rows, 3);
      const k2 = random(rng, [3, 1, 1, 4], backend);
      const v2 = random(rng, [3, 1, 1, 4], backend);
      const cached = cache.append(1, k2, v2);
      assert.equal(cached.length, 5);
      assert.equal(cached.key.shape[2], 9);
      // Row 0 of the cache is old row 1 followed by the new key.
      const q = random(rng, [3, 2, 1, 4], backend);
      const rows = [1, 1, 0];
      const expectedK = T.concat(
        [
          T.concat(
            rows.map((r) => T.slice(k, 0, r, r + 1)),
            0,
          ),
          k2,
        ],
        2,
      );
      const expectedV = T.concat(
        [
          T.concat(
            rows.map((r) => T.slice(v, 0, r, r + 1)),
            0,
          ),
          v2,
        ],
        2,
      );
      assertClose(
        T.attention(q, cached.key, cached.value, { keyLength: cached.length }),
        T.attention(q, expectedK, expectedV),
      );
      // Dropping row 1 moves row 2 down in place; growing past the capacity then copies the kept rows.
      cache.selectRows([0, 2]);
      assert.equal(cache.rows, 2);
      const k3 = random(rng, [2, 1, 5, 4], backend);
      const v3 = random(rng, [2, 1, 5, 4], backend);
      const grown = cache.append(1, k3, v3);
      assert.equal(grown.length, 10);
      assert.equal(grown.key.shape[0], 2);
      const keptK = T.concat([T.slice(expectedK, 0, 0, 1), T.slice(expectedK, 0, 2, 3)], 0);
      const keptV = T.concat([T.slice(expectedV, 0, 0, 1), T.slice(expectedV, 0, 2, 3)], 0);
      const q2 = random(rng, [2, 2, 1, 4], backend);
      assertClose(
        T.attention(q2, grown.key, grown.value, { keyLength: grown.length }),
        T.attention(q2, T.concat([keptK, k3], 2), T.concat([keptV, v3], 2)),
      );
      cache.dispose();
    });
  });
}

test("keyLength is checked and is inference-only", () => {
  const q = T.zeros([1, 1, 1, 2]);
  const k = T.zeros([1, 1, 4, 2]);
  assert.throws(() => T.attention(q, k, k, { keyLength: 5 }), T.ShapeError);
  q.setRequiresGrad();
  assert.throws(() => T.attention(q, k, k, { keyLength: 2 }), /inference only/);
});

/** Shared keys [1, kvHeads, s, headDim] spelled out in front of every row's first `length` own keys. */
function spelled(shared: T.Tensor, own: T.Tensor, length: number): T.Tensor {
  const batch = own.shape[0];
  return T.concat([T.expand(shared, [batch, ...shared.shape.slice(1)]), T.slice(own, 2, 0, length)], 2);
}

for (const backend of availableBackends()) {
  test(`${backend.name}: attention with shared keys equals attention over the keys spelled out`, () => {
    T.noGrad(() => {
      const rng = new T.Rng(21);
      const cases = [
        { batch: 3, heads: 4, kvHeads: 2, tq: 1, own: 6, capacity: 9, s: 7, headDim: 32, causal: true },
        { batch: 2, heads: 2, kvHeads: 2, tq: 3, own: 3, capacity: 3, s: 5, headDim: 12, causal: true },
        { batch: 2, heads: 3, kvHeads: 1, tq: 2, own: 4, capacity: 6, s: 1, headDim: 8, causal: false },
        { batch: 1, heads: 2, kvHeads: 1, tq: 4, own: 9, capacity: 9, s: 70, headDim: 16, causal: true },
      ];
      for (const c of cases) {
        const label = JSON.stringify(c);
        const q = random(rng, [c.batch, c.heads, c.tq, c.headDim], backend);
        const k = random(rng, [c.batch, c.kvHeads, c.capacity, c.headDim], backend);
        const v = random(rng, [c.batch, c.kvHeads, c.capacity, c.headDim], backend);
        const shared = {
          key: random(rng, [1, c.kvHeads, c.s, c.headDim], backend),
          value: random(rng, [1, c.kvHeads, c.s, c.headDim], backend),
        };
        const fast = T.attention(q, k, v, { causal: c.causal, keyLength: c.own, shared });
        const full = T.attention(q, spelled(shared.key, k, c.own), spelled(shared.value, v, c.own), {
          causal: c.causal,
        });
        assertClose(fast, full);
        // a key bias over the own keys and a sliding window (counting shared positions) spell the keys out
        const biasValues = Array.from({ length: c.batch * c.own }, (_, i) => (i % c.own === 1 ? -1e9 : 0));
        const bias = T.tensor(biasValues, [c.batch, c.own], "float32", backend);
        const fullBias = T.concat([T.zeros([c.batch, c.s], "float32", backend), bias], 1);
        assertClose(
          T.attention(q, k, v, { causal: c.causal, keyLength: c.own, shared, keyBias: bias }),
          T.attention(q, spelled(shared.key, k, c.own), spelled(shared.value, v, c.own), {
            causal: c.causal,
            keyBias: fullBias,
          }),
        );
        if (c.causal) {
          const window = c.own + 2;
          assertClose(
            T.attention(q, k, v, { causal: true, keyLength: c.own, shared, window }),
            T.attention(q, spelled(shared.key, k, c.own), spelled(shared.value, v, c.own), {
              causal: true,
              window,
            }),
          );
        }
        assert.ok(fast.size > 0, label);
      }
    });
  });

  test(`${backend.name}: samples sharing a one-row prefill decode like samples with repeated rows`, () => {
    T.noGrad(() => {
      const rng = new T.Rng(22);
      const [heads, kvHeads, headDim, rows] = [4, 2, 8, 3];
      const sharedCache = new T.KVCache(1, 10);
      const repeatedCache = new T.KVCache(1, 10);
      const k0 = random(rng, [1, kvHeads, 5, headDim], backend);
      const v0 = random(rng, [1, kvHeads, 5, headDim], backend);
      sharedCache.append(0, k0, v0);
      repeatedCache.append(0, k0, v0);
      sharedCache.shareRows(rows);
      repeatedCache.selectRows([0, 0, 0]);
      assert.equal(sharedCache.rows, rows);
      assert.equal(sharedCache.length, 5);
      // 6 steps: past the capacity hint of 10 (5 shared + 5 own) at the last one, a row dropped after step 3
      let active = rows;
      for (let step = 0; step < 6; step++) {
        if (step === 3) {
          sharedCache.selectRows([0, 2]);
          repeatedCache.selectRows([0, 2]);
          active = 2;
        }
        const q = random(rng, [active, heads, 1, headDim], backend);
        const k = random(rng, [active, kvHeads, 1, headDim], backend);
        const v = random(rng, [active, kvHeads, 1, headDim], backend);
        const a = sharedCache.append(0, k, v);
        const b = repeatedCache.append(0, k, v);
        assert.equal(sharedCache.length, repeatedCache.length);
        assert.ok(a.shared, "the shared cache hands attention its shared keys");
        assertClose(
          T.attention(q, a.key, a.value, { causal: true, keyLength: a.length, shared: a.shared }),
          T.attention(q, b.key, b.value, { causal: true, keyLength: b.length }),
        );
      }
      sharedCache.dispose();
      repeatedCache.dispose();
    });
  });
}

test("shared keys and shareRows are checked", () => {
  T.noGrad(() => {
    const q = T.zeros([2, 2, 1, 4]);
    const k = T.zeros([2, 1, 3, 4]);
    const badShape = { key: T.zeros([2, 1, 3, 4]), value: T.zeros([2, 1, 3, 4]) };
    assert.throws(() => T.attention(q, k, k, { shared: badShape }), /\[1, kvHeads, s, headDim\]/);
    const cache = new T.KVCache(1);
    cache.append(0, k, k);
    assert.throws(() => cache.shareRows(4), /one row/);
    const single = new T.KVCache(1);
    single.append(0, T.zeros([1, 1, 3, 4]), T.zeros([1, 1, 3, 4]));
    single.shareRows(2);
    assert.throws(() => single.append(0, T.zeros([3, 1, 1, 4]), T.zeros([3, 1, 1, 4])), /2 rows/);
  });
  const q = T.zeros([1, 1, 1, 4]).setRequiresGrad();
  const k = T.zeros([1, 1, 2, 4]);
  const shared = { key: T.zeros([1, 1, 3, 4]), value: T.zeros([1, 1, 3, 4]) };
  assert.throws(() => T.attention(q, k, k, { shared }), /inference only/);
});
