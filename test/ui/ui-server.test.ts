// The UI server over HTTP (no browser): JSON endpoints over a real results folder, paging, comparison
// numbers, 404/405/415, loopback binding and the Host check, secrets never sent, page assets self-contained
// and script-free of innerHTML, and the playground through the real strategy code on a scripted model.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runUiCommand } from "../../src/cli/commands/ui.js";
import type { LanguageModel } from "../../src/lm/language-model.js";
import { Playground } from "../../src/ui/playground.js";
import { RunCatalog } from "../../src/ui/run-catalog.js";
import { UI_PAGE_HTML, UI_SCRIPT, UI_STYLE } from "../../src/ui/ui-page.js";
import { type RunningUiServer, startUiServer } from "../../src/ui/ui-server.js";
import { writeResultsFolder } from "../eval/report/report-fixtures.js";
import { completionBody, startFakeServer } from "../lm/fake-openai-server.js";
import { ScriptedLanguageModel } from "../lm/scripted-language-model.js";
import {
  buildResultsFolder,
  COT_RUN,
  DIFFERING_IDS,
  MALICIOUS,
  SC_RUN,
  SECRET,
  scriptedArithmeticModel,
} from "./ui-fixtures.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are checked field by field
type Json = any;

async function getJson(server: RunningUiServer, path: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(new URL(path, server.url));
  return { status: res.status, body: await res.json() };
}

async function postJson(
  server: RunningUiServer,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(new URL(path, server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe("adaptlm ui server", () => {
  let root: string;
  let server: RunningUiServer;
  let catalog: RunCatalog;

  before(async () => {
    root = buildResultsFolder();
    catalog = new RunCatalog(root, { secrets: [SECRET], bootstrapSamples: 200 });
    const playground = new Playground(scriptedArithmeticModel(), {
      examplesOf: (id) => catalog.allExamples(id),
    });
    server = await startUiServer({ catalog, playground, port: 0 });
  });

  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  test("binds 127.0.0.1 on a free port and prints a loopback URL", () => {
    assert.equal(server.host, "127.0.0.1");
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
  });

  test("runs list: both runs with accuracy, bootstrap interval, strategy and example count", async () => {
    const { status, body } = await getJson(server, "/api/runs");
    assert.equal(status, 200);
    const byId = new Map<string, Json>(body.runs.map((run: Json) => [run.id, run]));
    assert.deepEqual([...byId.keys()].sort(), [COT_RUN, SC_RUN]);
    const cot = byId.get(COT_RUN);
    assert.equal(cot.kind, "prompt");
    assert.equal(cot.approach, "cot");
    assert.equal(cot.model, "tiny-llama");
    assert.equal(cot.examples, 6);
    assert.equal(cot.metric.correct, 4);
    assert.equal(cot.metric.total, 6);
    assert.ok(Math.abs(cot.metric.value - 4 / 6) < 1e-12);
    assert.ok(cot.metric.interval.low <= 4 / 6 && cot.metric.interval.high >= 4 / 6);
    assert.ok(cot.metric.interval.high - cot.metric.interval.low > 0);
    assert.equal(byId.get(SC_RUN).approach, "self-consistency");
    assert.equal(byId.get(SC_RUN).metric.correct, 3);
    assert.deepEqual(body.tables, []);
    // the folder's charts across runs, served without a run id
    const accuracy = body.charts.find((c: Json) => c.title.startsWith("Accuracy per run"));
    assert.ok(accuracy, body.charts.map((c: Json) => c.title).join("; "));
    assert.ok(
      !body.charts.some((c: Json) => c.title.endsWith(`: ${SC_RUN}`)),
      "run charts stay with their run",
    );
    const res = await fetch(new URL(`/api/chart?${q({ n: String(accuracy.index) })}`, server.url));
    assert.equal(res.status, 200);
    const svg = await res.text();
    assert.match(svg, /mark-rect role-mark bar/);
    assert.ok(svg.includes(COT_RUN) && svg.includes(SC_RUN), "both runs are drawn");
  });

  test("run detail: setup with the option key redacted, charts as SVG", async () => {
    const { status, body } = await getJson(server, `/api/run?${q({ id: SC_RUN })}`);
    assert.equal(status, 200);
    assert.equal(body.run.approach, "self-consistency");
    assert.equal(body.examples, 6);
    const titles: string[] = body.charts.map((c: Json) => c.title);
    assert.ok(
      titles.some((t) => t.startsWith("accuracy")),
      titles.join("; "),
    );
    assert.ok(
      titles.some((t) => t.startsWith("Votes for the chosen answer")),
      titles.join("; "),
    );
    const cot = await getJson(server, `/api/run?${q({ id: COT_RUN })}`);
    assert.notEqual(cot.body.run.options.apiKey, SECRET);
    const res = await fetch(new URL(`/api/chart?${q({ id: SC_RUN, n: "1" })}`, server.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^image\/svg\+xml/);
    const svg = await res.text();
    assert.match(svg, /^<svg/);
    assert.match(svg, /mark-rect role-mark bar/);
    const missing = await getJson(server, `/api/chart?${q({ id: SC_RUN, n: "9" })}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "UI_CHART_NOT_FOUND");
  });

  test("examples: every recorded field, paging, wrong-only filter, secrets redacted", async () => {
    const page = await getJson(server, `/api/examples?${q({ id: SC_RUN, offset: "2", limit: "2" })}`);
    assert.equal(page.status, 200);
    assert.equal(page.body.total, 6);
    assert.deepEqual(
      page.body.examples.map((e: Json) => e.id),
      ["q2", "q3"],
    );
    const q3 = page.body.examples[1];
    assert.ok(q3.input.includes(MALICIOUS), "the API returns the raw text; the page escapes it");
    assert.equal(q3.outputs.length, 5);
    assert.deepEqual(q3.answers, ["6", "6", "6", "5", "5"]);
    assert.deepEqual(q3.votes, [
      { answer: "6", count: 3 },
      { answer: "5", count: 2 },
    ]);
    assert.equal(q3.gold, "5");
    assert.equal(q3.correct, false);
    assert.equal(q3.prompts.length, 1);
    const wrong = await getJson(server, `/api/examples?${q({ id: COT_RUN, filter: "wrong" })}`);
    assert.deepEqual(
      wrong.body.examples.map((e: Json) => e.id),
      ["q4", "q5"],
    );
    const first = await getJson(server, `/api/examples?${q({ id: COT_RUN, limit: "1" })}`);
    const output: string = first.body.examples[0].outputs[0];
    assert.ok(!output.includes(SECRET), output);
    assert.match(output, /\[REDACTED\]/);
    const bad = await getJson(server, `/api/examples?${q({ id: COT_RUN, filter: "maybe" })}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "UI_BAD_QUERY");
  });

  test("compare: metrics of both runs and exactly the examples where they differ", async () => {
    const { status, body } = await getJson(server, `/api/compare?${q({ id: COT_RUN })}&${q({ id: SC_RUN })}`);
    assert.equal(status, 200);
    assert.deepEqual(
      body.runs.map((r: Json) => r.id),
      [COT_RUN, SC_RUN],
    );
    assert.equal(body.shared, 6);
    assert.equal(body.differingTotal, 3);
    assert.equal(body.agreeing, 3);
    assert.equal(body.allCorrect, 2);
    assert.equal(body.allWrong, 1);
    assert.deepEqual(
      body.runs.map((r: Json) => r.onlyCorrect),
      [2, 1],
    );
    assert.deepEqual(
      body.differing.map((d: Json) => d.id),
      DIFFERING_IDS,
    );
    assert.deepEqual(body.differing[2].verdicts, [
      { answer: "2", correct: false },
      { answer: "4", correct: true },
    ]);
    const one = await getJson(server, `/api/compare?${q({ id: COT_RUN })}`);
    assert.equal(one.status, 400);
    assert.equal(one.body.error.code, "UI_COMPARE_RUNS");
  });

  test("404 for unknown runs and paths, 405 for wrong methods, 415 for non-JSON posts", async () => {
    const run = await getJson(server, `/api/run?${q({ id: "no-such-run" })}`);
    assert.equal(run.status, 404);
    assert.equal(run.body.error.code, "UI_RUN_NOT_FOUND");
    const path = await getJson(server, "/api/nothing");
    assert.equal(path.status, 404);
    assert.equal(path.body.error.code, "UI_NOT_FOUND");
    const method = await fetch(new URL("/api/runs", server.url), { method: "DELETE" });
    assert.equal(method.status, 405);
    const form = await fetch(new URL("/api/playground", server.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "input=1",
    });
    assert.equal(form.status, 415);
  });

  test("requests addressed to another host name are refused (DNS rebinding)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: server.port, path: "/api/runs", headers: { host: "evil.example" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 403);
    const local = await fetch(`http://localhost:${server.port}/api/runs`).catch(() => undefined);
    if (local) assert.equal(local.status, 200);
  });

  test("the page, script and style are served here, load nothing from elsewhere, and never use innerHTML", async () => {
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.ok(!csp.includes("unsafe-inline"), csp);
    const html = await res.text();
    assert.equal(html, UI_PAGE_HTML);
    for (const asset of [UI_PAGE_HTML, UI_SCRIPT, UI_STYLE]) {
      assert.ok(!/https?:\/\//.test(asset), "no absolute URL in the page assets");
      assert.ok(!/<script>/.test(asset), "no inline script");
    }
    assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(UI_SCRIPT));
    const script = await fetch(new URL("/ui.js", server.url));
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    assert.equal(await script.text(), UI_SCRIPT);
    // the script parses
    assert.doesNotThrow(() => new Function(UI_SCRIPT));
  });

  test("playground: the strategy code answers a typed input with prompts, outputs and votes", async () => {
    const info = await getJson(server, "/api/playground");
    assert.equal(info.body.available, true);
    assert.equal(info.body.model, "scripted-arith");
    assert.ok(info.body.strategies.includes("self-consistency"));
    const { status, body } = await postJson(server, "/api/playground", {
      strategy: "self-consistency",
      demonstrationsRun: COT_RUN,
      k: "2",
      samples: "3",
      input: "What is 2 + 2?",
      expected: "4",
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.answer, "4");
    assert.equal(body.correct, true);
    assert.equal(body.answerType, "number");
    assert.equal(body.outputs.length, 3);
    assert.deepEqual(body.votes, [{ answer: "4", count: 3 }]);
    assert.equal(body.prompts.length, 1);
    assert.ok(body.prompts[0].includes("What is 2 + 2?"));
    // two demonstrations drawn from the run's examples
    const demos = body.prompts[0].split("Q: ").length - 2;
    assert.equal(demos, 2, body.prompts[0]);
    const bad = await postJson(server, "/api/playground", { strategy: "telepathy", input: "x" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "UI_PLAYGROUND_REQUEST");
    const noLabels = await postJson(server, "/api/playground", { strategy: "zero-shot", input: "x" });
    assert.equal(noLabels.status, 400);
    assert.equal(noLabels.body.error.code, "UI_PLAYGROUND_NO_LABELS");
  });
});

describe("adaptlm ui server without a model, over an empty folder", () => {
  test("the runs list explains the empty folder and the playground asks for a model", async () => {
    const server = await startUiServer({ catalog: new RunCatalog("/nonexistent/adaptlm-ui-runs") });
    try {
      const runs = await getJson(server, "/api/runs");
      assert.equal(runs.status, 200);
      assert.deepEqual(runs.body.runs, []);
      assert.match(runs.body.problem, /does not exist/);
      const info = await getJson(server, "/api/playground");
      assert.equal(info.body.available, false);
      assert.match(info.body.reason, /--model/);
      const post = await postJson(server, "/api/playground", { strategy: "cot", input: "x" });
      assert.equal(post.status, 503);
      assert.equal(post.body.error.code, "UI_NO_MODEL");
    } finally {
      await server.close();
    }
  });
});

describe("playground failures", () => {
  test("a failing model is a clear error without the key; a silent one times out", async () => {
    const failing = new ScriptedLanguageModel({
      generate: () => {
        throw new Error(`upstream said 401 for key ${SECRET}`);
      },
    });
    const playground = new Playground(failing, { secrets: [SECRET] });
    const server = await startUiServer({
      catalog: new RunCatalog("/nonexistent/adaptlm-ui-runs"),
      playground,
      secrets: [SECRET],
    });
    try {
      const { status, body } = await postJson(server, "/api/playground", {
        strategy: "zero-shot-cot",
        input: "What is 2 + 2?",
      });
      assert.equal(status, 502);
      assert.equal(body.error.code, "UI_PLAYGROUND_FAILED");
      assert.match(body.error.message, /upstream said 401/);
      assert.ok(!body.error.message.includes(SECRET));
    } finally {
      await server.close();
    }
    const silent: LanguageModel = {
      model: "silent",
      capabilities: failing.capabilities,
      generate: (_request, options) =>
        new Promise((_, reject) =>
          options?.signal?.addEventListener("abort", () => reject(new Error("aborted"))),
        ),
      score: () => Promise.reject(new Error("unused")),
    };
    const slow = new Playground(silent, { timeoutMs: 50 });
    await assert.rejects(slow.run({ strategy: "zero-shot-cot", input: "What is 2 + 2?" }), (error: Json) => {
      assert.equal(error.code, "UI_PLAYGROUND_TIMEOUT");
      assert.equal(error.status, 504);
      return true;
    });
  });
});

describe("adaptlm ui command", () => {
  test("usage errors name the fix", async () => {
    await assert.rejects(runUiCommand(["--endpoint", "http://127.0.0.1:9/v1"]), /--endpoint needs --model/);
    await assert.rejects(runUiCommand(["--port", "70000"]), /--port must be/);
    await assert.rejects(runUiCommand(["somewhere"]), /--results DIR/);
    await assert.rejects(
      runUiCommand([
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--api-key-env",
        "ADAPTLM_UI_UNSET_KEY",
      ]),
      /ADAPTLM_UI_UNSET_KEY: that environment variable is empty or unset/,
    );
  });
});

describe("adaptlm ui over a mixed results folder", () => {
  test("train runs, adapters, compare.json tables and broken folders are listed; a train run's curves render", async () => {
    const folder = writeResultsFolder();
    const server = await startUiServer({ catalog: new RunCatalog(folder.root, { bootstrapSamples: 100 }) });
    try {
      const { body } = await getJson(server, "/api/runs");
      const kinds = body.runs.map((run: Json) => `${run.kind}:${run.approach}`).sort();
      assert.ok(kinds.includes("train:lora"), kinds.join(", "));
      assert.ok(kinds.includes("train:bitfit"), kinds.join(", "));
      assert.ok(kinds.includes("prompt:self-consistency"), kinds.join(", "));
      assert.ok(body.tables.length >= 1);
      assert.ok(body.tables[0].rows.some((row: Json[]) => row.includes("lora")));
      assert.ok(body.skipped.some((s: Json) => s.path.startsWith("broken")));
      const lora = body.runs.find((run: Json) => run.approach === "lora");
      const detail = await getJson(server, `/api/run?${q({ id: lora.id })}`);
      const loss = detail.body.charts.find((c: Json) => c.title === "Training loss per step");
      assert.ok(loss, detail.body.charts.map((c: Json) => c.title).join("; "));
      const svg = await (
        await fetch(new URL(`/api/chart?${q({ id: lora.id, n: String(loss.index) })}`, server.url))
      ).text();
      assert.match(svg, /role-mark line/);
    } finally {
      await server.close();
    }
  });
});

interface UiProcess {
  url: string;
  output(): { stdout: string; stderr: string };
  /** Sends SIGINT; resolves with the exit code. */
  interrupt(): Promise<number | null>;
  kill(): void;
}

/** Starts `adaptlm ui` (the compiled CLI) and waits for it to print its URL and playground line. */
async function startUiProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<UiProcess> {
  const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
  const child = spawn(process.execPath, [main, "ui", "--port", "0", "--quiet", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /adaptlm ui at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
      // the second line says whether the playground has a model
      if (match && stdout.includes("playground")) resolve(match[1] as string);
    });
    child.once("exit", (code) =>
      reject(new Error(`ui exited with ${code} before printing its URL: ${stderr}`)),
    );
  });
  return {
    url,
    output: () => ({ stdout, stderr }),
    interrupt: () => {
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGINT");
      return exited;
    },
    kill: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

describe("adaptlm ui as a process", () => {
  test("prints its loopback URL, serves the runs, and stops cleanly on SIGINT", async () => {
    const root = buildResultsFolder();
    let ui: UiProcess | undefined;
    try {
      ui = await startUiProcess(["--results", root]);
      assert.match(ui.output().stdout, /playground: no model/);
      const runs = (await (await fetch(new URL("/api/runs", ui.url))).json()) as Json;
      assert.equal(runs.runs.length, 2);
      assert.equal(await ui.interrupt(), 0);
      assert.match(ui.output().stderr, /adaptlm ui stopped/);
    } finally {
      ui?.kill();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("--endpoint: the key goes to the server only; a server error quoting it reaches the page redacted", async () => {
    const key = "ui-bearer-7c1e9a04d2b85f36";
    const fake = await startFakeServer((request) => {
      if (request.headers.authorization !== `Bearer ${key}`)
        return { status: 401, body: { error: { message: "missing or wrong key" } } };
      if (String(request.body.prompt ?? "").includes("explode"))
        return { status: 400, body: { error: { message: `request refused for key ${key}` } } };
      return { body: completionBody([" 4."]) };
    });
    const root = buildResultsFolder();
    let ui: UiProcess | undefined;
    try {
      // a variable name that does not look like a credential: the key is still never shown
      const env = { ...process.env, ADAPTLM_UI_PLAYGROUND_BEARER: key };
      ui = await startUiProcess(
        [
          "--results",
          root,
          "--endpoint",
          fake.baseUrl,
          "--model",
          "fake-model",
          "--api-key-env",
          "ADAPTLM_UI_PLAYGROUND_BEARER",
        ],
        env,
      );
      assert.match(ui.output().stdout, /playground model: fake-model/);
      const post = async (input: string) => {
        const res = await fetch(new URL("/api/playground", ui?.url), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ strategy: "zero-shot-cot", input, answerType: "number" }),
        });
        return { status: res.status, text: await res.text() };
      };
      const ok = await post("What is 2 + 2?");
      assert.equal(ok.status, 200, ok.text);
      assert.equal((JSON.parse(ok.text) as Json).answer, "4");
      assert.ok(fake.requests.length >= 2, "zero-shot-cot asks twice");
      assert.ok(fake.requests.every((r) => r.headers.authorization === `Bearer ${key}`));
      const failed = await post("please explode");
      assert.equal(failed.status, 502);
      assert.match(failed.text, /request refused for key/);
      assert.ok(!failed.text.includes(key), failed.text);
      for (const path of ["/", "/ui.js", "/api/playground", "/api/runs"]) {
        const body = await (await fetch(new URL(path, ui.url))).text();
        assert.ok(!body.includes(key), path);
      }
      assert.equal(await ui.interrupt(), 0);
      const { stdout, stderr } = ui.output();
      assert.ok(!stdout.includes(key) && !stderr.includes(key));
    } finally {
      ui?.kill();
      await fake.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
