// Limits on how a backend sends requests: a concurrency limit (a counting semaphore), a requests-per-window
// limit (sliding window), and retry delays (exponential backoff with jitter, or the server's Retry-After).
// Clock and sleep are injectable so the limits can be tested by counts, never by wall-clock time.

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
export type Clock = () => number;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** A counting semaphore: at most `limit` holders at once; waiters are served first come, first served. */
export class ConcurrencyLimiter {
  readonly limit: number;
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency limit must be >= 1, got ${limit}`);
    this.limit = limit;
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    // the releasing holder handed its slot over; `active` is unchanged
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}

/**
 * At most `limit` request starts in any window of `windowMs` (sliding window over start times). `acquire`
 * waits until a start is allowed and returns how long it waited in total.
 */
export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private readonly starts: number[] = [];
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private queue: Promise<void> = Promise.resolve();

  constructor(limit: number, windowMs = 60_000, clock: Clock = Date.now, sleep: Sleep = realSleep) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`rate limit must be >= 1, got ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`rate limit window must be > 0 ms, got ${windowMs}`);
    this.limit = limit;
    this.windowMs = windowMs;
    this.clock = clock;
    this.sleep = sleep;
  }

  /** Waits for a free start in the window; callers are served in call order. Resolves to the ms waited. */
  acquire(signal?: AbortSignal): Promise<number> {
    const turn = this.queue.then(() => this.takeSlot(signal));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async takeSlot(signal?: AbortSignal): Promise<number> {
    let waited = 0;
    for (;;) {
      const now = this.clock();
      while (this.starts.length > 0 && this.starts[0] <= now - this.windowMs) this.starts.shift();
      if (this.starts.length < this.limit) {
        this.starts.push(now);
        return waited;
      }
      const wait = this.starts[0] + this.windowMs - now;
      waited += wait;
      await this.sleep(wait, signal);
    }
  }
}

export interface BackoffOptions {
  /** Delay before the first retry. Default 500 ms. */
  initialDelayMs?: number;
  /** Cap on any one delay, including a server's Retry-After. Default 30 s. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Fraction of the delay that is random: delay * (1 - jitter * u), u uniform in [0, 1). Default 0.5. */
  jitter?: number;
}

/** Delay before retry number `attempt` (0-based): exponential backoff with jitter, capped. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = options.jitter ?? 0.5;
  const base = Math.min(max, initial * multiplier ** attempt);
  return base * (1 - jitter * random());
}

/**
 * The wait a server asks for: `retry-after-ms` (milliseconds, as OpenAI sends), else `Retry-After` in
 * seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const milliseconds = headers.get("retry-after-ms");
  if (milliseconds !== null && milliseconds.trim() !== "") {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = headers.get("retry-after");
  if (retryAfter === null || retryAfter.trim() === "") return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(retryAfter);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}
