import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  backoffDelay,
  ConcurrencyLimiter,
  parseRetryAfter,
  RateLimiter,
} from "../../src/lm/request-limits.js";

describe("request limits", () => {
  test("RateLimiter allows `limit` starts per sliding window, in call order (fake clock)", async () => {
    let now = 0;
    const limiter = new RateLimiter(
      2,
      1000,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    const starts: number[] = [];
    const waits = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        limiter.acquire().then((waited) => {
          starts[i] = now;
          return waited;
        }),
      ),
    );
    assert.deepEqual(waits, [0, 0, 1000, 0, 1000]);
    assert.deepEqual(starts, [0, 0, 1000, 1000, 2000]);
  });

  test("RateLimiter forgets starts older than the window", async () => {
    let now = 0;
    const limiter = new RateLimiter(
      1,
      100,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    assert.equal(await limiter.acquire(), 0);
    now = 150;
    assert.equal(await limiter.acquire(), 0);
    assert.equal(await limiter.acquire(), 100);
    assert.equal(now, 250);
  });

  test("ConcurrencyLimiter never exceeds its limit and serves waiters in order", async () => {
    const limiter = new ConcurrencyLimiter(2);
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const gates: Array<() => void> = [];
    const tasks = Array.from({ length: 5 }, (_, i) =>
      limiter.run(async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        order.push(i);
        await new Promise<void>((resolve) => gates.push(resolve));
        active--;
      }),
    );
    while (order.length < 5) {
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(limiter.inFlight <= 2);
      gates.shift()?.();
    }
    for (const release of gates) release();
    await Promise.all(tasks);
    assert.equal(maxActive, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(limiter.inFlight, 0);
  });

  test("backoffDelay grows exponentially, caps, and jitter only shortens", () => {
    const options = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 500, jitter: 0.5 };
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options, () => 0)),
      [100, 200, 400, 500, 500],
    );
    assert.equal(
      backoffDelay(1, options, () => 0.999999),
      200 * (1 - 0.5 * 0.999999),
    );
  });

  test("parseRetryAfter reads retry-after-ms, seconds and HTTP dates", () => {
    assert.equal(parseRetryAfter(new Headers({ "retry-after-ms": "250" })), 250);
    assert.equal(parseRetryAfter(new Headers({ "retry-after": "2" })), 2000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }), now), 3000);
    assert.equal(parseRetryAfter(new Headers({ "retry-after": "soon" })), undefined);
    assert.equal(parseRetryAfter(new Headers()), undefined);
  });
});
