// `adaptlm ui` end to end in a real headless browser: playwright-core drives the system's Chromium (Debian's
// /usr/bin/chromium; nothing is downloaded) against a UI server on a free loopback port over a results
// folder written by the real ResultsStore. Without Chromium the test is reported as skipped, never passed.

import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Playground } from "../../src/ui/playground.js";
import { RunCatalog } from "../../src/ui/run-catalog.js";
import { type RunningUiServer, startUiServer } from "../../src/ui/ui-server.js";
import { decodePng, pixelStats } from "./png-pixels.js";
import {
  buildResultsFolder,
  COT_RUN,
  DIFFERING_IDS,
  MALICIOUS,
  SC_RUN,
  scriptedArithmeticModel,
} from "./ui-fixtures.js";

// ADAPTLM_CHROMIUM names another browser binary (and, set to a missing path, shows the skip).
const CHROMIUM_CANDIDATES = process.env.ADAPTLM_CHROMIUM
  ? [process.env.ADAPTLM_CHROMIUM]
  : ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const chromiumPath = CHROMIUM_CANDIDATES.find((path) => existsSync(path));

type Playwright = typeof import("playwright-core");
type Browser = Awaited<ReturnType<Playwright["chromium"]["launch"]>>;
type Page = Awaited<ReturnType<Browser["newPage"]>>;

/**
 * The browser's globals inside page.waitForFunction callbacks (serialised and run in the page, so they may
 * use nothing from this module but types). These tests compile
 * without the DOM types, and the page's CSP forbids the string form (it would need eval).
 */
interface BrowserGlobals {
  document: {
    querySelectorAll(selector: string): ArrayLike<{ complete?: boolean; naturalWidth?: number }>;
  };
}

async function loadPlaywright(): Promise<Playwright | string> {
  try {
    return await import("playwright-core");
  } catch (error) {
    return `playwright-core is not installed (${(error as Error).message}): npm ci`;
  }
}

describe("adaptlm ui in headless Chromium", { timeout: 90_000 }, () => {
  let root: string;
  let server: RunningUiServer;
  let browser: Browser | undefined;
  let page: Page;
  let skipReason: string | undefined;

  before(async () => {
    if (!chromiumPath) {
      skipReason = "chromium not installed: apt-get install chromium";
      return;
    }
    const playwright = await loadPlaywright();
    if (typeof playwright === "string") {
      skipReason = playwright;
      return;
    }
    root = buildResultsFolder();
    const catalog = new RunCatalog(root, { bootstrapSamples: 200 });
    const playground = new Playground(scriptedArithmeticModel(), {
      examplesOf: (id) => catalog.allExamples(id),
    });
    server = await startUiServer({ catalog, playground, port: 0 });
    browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // the page must never reach anything but this server
    await page.route("**/*", (route) =>
      route.request().url().startsWith(server.url) ? route.continue() : route.abort(),
    );
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("runs list shows both runs with their metrics, and the filter narrows it", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.goto(server.url);
    await page.waitForSelector('[data-testid="run-row"]');
    const rows = page.locator('[data-testid="run-row"]');
    assert.equal(await rows.count(), 2);
    const cotMetric = await page
      .locator(`[data-run-id="${COT_RUN}"] [data-testid="run-metric"]`)
      .textContent();
    const scMetric = await page.locator(`[data-run-id="${SC_RUN}"] [data-testid="run-metric"]`).textContent();
    assert.match(cotMetric ?? "", /^accuracy 66\.7% \[\d+\.\d%, \d+\.\d%\] \(4\/6\)$/);
    assert.match(scMetric ?? "", /^accuracy 50\.0% \[\d+\.\d%, \d+\.\d%\] \(3\/6\)$/);
    await page.fill('[data-testid="filter"]', "self-consistency");
    assert.equal(await page.locator('[data-testid="run-row"]:visible').count(), 1);
    await page.fill('[data-testid="filter"]', "");
  });

  test("a run shows its examples (prompt, outputs, votes), markup as text, and a drawn chart", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.goto(server.url);
    await page.click(`[data-run-id="${SC_RUN}"] [data-testid="run-link"]`);
    await page.waitForSelector('[data-testid="example"]');
    assert.equal(await page.locator('[data-testid="example"]').count(), 6);
    const q3 = page.locator('[data-testid="example"][data-example-id="q3"]');
    assert.equal(await q3.locator('[data-testid="example-prompt"]').count(), 1);
    assert.equal(await q3.locator('[data-testid="example-output"]').count(), 5);
    const votes = await q3.locator('[data-testid="votes"] tbody tr').allTextContents();
    assert.deepEqual(votes, ["63", "52"]);
    // the markup in the input and outputs is text on the page, not an element
    assert.ok(((await q3.locator('[data-testid="example-input"]').textContent()) ?? "").includes(MALICIOUS));
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(await page.evaluate("typeof window.__uiXss"), "undefined");
    // wrong-only filter and paging
    await page.selectOption('[data-testid="example-filter"]', "wrong");
    await page.waitForFunction(
      () =>
        (globalThis as unknown as BrowserGlobals).document.querySelectorAll('[data-testid="example"]')
          .length === 3,
    );
    assert.match((await page.locator('[data-testid="page-position"]').textContent()) ?? "", /1–3 of 3/);

    // the chart: an SVG image that decoded, with many pixels that are not background
    await page.waitForFunction(() => {
      const images = Array.from(
        (globalThis as unknown as BrowserGlobals).document.querySelectorAll('[data-testid="chart"]'),
      );
      return images.length > 0 && images.every((img) => img.complete === true && (img.naturalWidth ?? 0) > 0);
    });
    const charts = page.locator('[data-testid="chart"]');
    assert.ok((await charts.count()) >= 2, "accuracy and votes charts");
    const png = await charts.nth(1).screenshot();
    const stats = pixelStats(decodePng(png));
    assert.ok(
      stats.nonBackground / stats.total > 0.03,
      `non-background ${stats.nonBackground}/${stats.total}`,
    );
    assert.ok(stats.colours >= 8, `colours: ${stats.colours}`);
  });

  test("comparing the two runs lists exactly the examples where they differ", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.goto(server.url);
    await page.waitForSelector('[data-testid="run-row"]');
    assert.equal(await page.locator('[data-testid="compare-button"]').isDisabled(), true);
    await page.check(`[data-run-id="${COT_RUN}"] [data-testid="run-select"]`);
    await page.check(`[data-run-id="${SC_RUN}"] [data-testid="run-select"]`);
    await page.click('[data-testid="compare-button"]');
    await page.waitForSelector('[data-testid="differ-row"]');
    const ids = await page
      .locator('[data-testid="differ-row"]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-example-id")));
    assert.deepEqual(ids, DIFFERING_IDS);
    assert.match(
      (await page.locator('[data-testid="compare-summary"]').textContent()) ?? "",
      /6 shared example\(s\): 3 agree, 3 differ/,
    );
    assert.equal(await page.locator('[data-testid="compare-metrics"] tbody tr').count(), 2);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
  });

  test("the playground answers a typed input with the prompt sent, outputs and votes", async (t) => {
    if (skipReason) return t.skip(skipReason);
    await page.goto(`${server.url}#/playground`);
    await page.waitForSelector('[data-testid="pg-strategy"]');
    await page.selectOption('[data-testid="pg-strategy"]', "self-consistency");
    await page.selectOption('[data-testid="pg-pool"]', COT_RUN);
    await page.fill('[data-testid="pg-k"]', "2");
    await page.fill('[data-testid="pg-samples"]', "3");
    await page.fill('[data-testid="pg-input"]', "What is 2 + 2?");
    await page.click('[data-testid="pg-run"]');
    await page.waitForSelector('[data-testid="pg-answer"]');
    assert.equal(await page.locator('[data-testid="pg-answer"]').textContent(), "4");
    assert.equal(await page.locator('[data-testid="pg-output"]').count(), 3);
    assert.ok(
      ((await page.locator('[data-testid="pg-prompt"]').textContent()) ?? "").includes("What is 2 + 2?"),
    );
    assert.deepEqual(await page.locator('[data-testid="votes"] tbody tr').allTextContents(), ["43"]);
    // a request the strategy cannot run shows its error in the page
    await page.selectOption('[data-testid="pg-strategy"]', "zero-shot");
    await page.selectOption('[data-testid="pg-pool"]', "");
    await page.click('[data-testid="pg-run"]');
    await page.waitForSelector('[data-testid="pg-result"] [data-testid="error"]');
    assert.match(
      (await page.locator('[data-testid="error"]').textContent()) ?? "",
      /UI_PLAYGROUND_NO_LABELS/,
    );
  });
});
