// The SpamAssassin task: mail parsing (headers out, MIME decoded, HTML stripped), the corpus counts, the
// seeded stratified split and its balanced subsample, and the JSONL folder `adaptlm train` reads.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  ensureSpamAssassinTask,
  loadSpamAssassin,
  mailText,
  SpamAssassinError,
  splitSpamAssassin,
  writeSpamAssassinTask,
} from "../../src/tasks/spam-assassin.js";
import { readRecords } from "../../src/train/dataset.js";
import { makeTempDir } from "../io/temp-dir.js";

const multipart = [
  "From someone@example.com  Mon Aug  5 10:00:00 2002",
  "Return-Path: <someone@example.com>",
  "Received: from mail.example.com (mail [10.0.0.1])",
  "\tby relay.example.com with SMTP id 123",
  "Subject: Cheap =?iso-8859-1?Q?caf=E9?=",
  "  offers inside",
  'Content-Type: multipart/alternative; boundary="XYZ"',
  "",
  "This is a multi-part message in MIME format.",
  "--XYZ",
  "Content-Type: text/plain; charset=us-ascii",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Buy now and sa=",
  "ve 50%",
  "--XYZ",
  "Content-Type: text/html",
  "",
  "<html><body><b>Buy now</b> and save</body></html>",
  "--XYZ--",
  "epilogue",
].join("\r\n");

const mixed = [
  "Subject: report",
  'Content-Type: multipart/mixed; boundary="B1"',
  "",
  "--B1",
  "Content-Type: text/html",
  "Content-Transfer-Encoding: base64",
  "",
  Buffer.from("<p>Quarterly&nbsp;numbers &amp; notes</p><script>evil()</script>").toString("base64"),
  "--B1",
  "Content-Type: image/gif",
  "Content-Transfer-Encoding: base64",
  "",
  "R0lGODlhAQABAAAAACw=",
  "--B1--",
].join("\n");

describe("SpamAssassin mail text", () => {
  test("subject and plain body only: headers, envelope and the HTML alternative are dropped", () => {
    assert.equal(mailText(multipart), "Cheap café offers inside Buy now and save 50%");
  });

  test("base64 HTML part decoded and stripped; image part and scripts dropped", () => {
    assert.equal(mailText(mixed), "report Quarterly numbers & notes");
  });

  test("length is capped at a word boundary", () => {
    const raw = `Subject: s\n\n${"word ".repeat(100)}`;
    const text = mailText(raw, 42);
    assert.ok(text.length <= 42, text);
    assert.ok(text.endsWith("word"), text);
  });
});

describe("SpamAssassin corpus", () => {
  const mails = loadSpamAssassin();

  test("every mail of the package, with the label of its folder", () => {
    // The package holds 2500 + 1400 + 250 ham and 500 + 1396 spam mails; none parses to empty text.
    const count = (label: string) => mails.filter((m) => m.label === label).length;
    assert.equal(count("ham"), 4150);
    assert.equal(count("spam"), 1896);
    assert.ok(mails.every((m) => (m.label === "spam") === m.group.startsWith("spam")));
  });

  test("no header lines leak into the text", () => {
    const headerLike =
      /(^|\s)(Return-Path|Received|Delivered-To|Message-Id|X-Mailman-Version|Content-Transfer-Encoding):\s/i;
    const leaks = mails.filter((m) => headerLike.test(m.text)).map((m) => m.id);
    // A few mails quote headers in their body (forwarded mails); the routing headers of the mail itself never show.
    assert.ok(
      leaks.length < mails.length * 0.01,
      `${leaks.length} texts look like headers: ${leaks.slice(0, 5)}`,
    );
    assert.ok(mails.every((m) => !/^(Return-Path|Received|Delivered-To):/.test(m.text)));
    // The mbox envelope line ("From exmh-workers-admin@redhat.com  Thu Aug 22 12:36:23 2002") is gone too:
    // the first mail's text starts with its Subject.
    const first = mails.find((m) => m.id.startsWith("easy-ham-1/00001."));
    assert.ok(first?.text.startsWith("Re: New Sequences Window Date: Wed, 21 Aug 2002"), first?.text);
    assert.ok(mails.every((m) => m.text.length <= 2000 && !/\s\s/.test(m.text)));
  });

  test("stratified split: each class split 70/10/20, disjoint, deterministic per seed", () => {
    const splits = splitSpamAssassin(mails, { seed: 3 });
    const perClass = (split: typeof splits.train, label: string) =>
      split.filter((m) => m.label === label).length;
    assert.deepEqual(
      [perClass(splits.test, "ham"), perClass(splits.validation, "ham"), perClass(splits.train, "ham")],
      [830, 415, 2905],
    );
    assert.deepEqual(
      [perClass(splits.test, "spam"), perClass(splits.validation, "spam"), perClass(splits.train, "spam")],
      [379, 190, 1327],
    );
    const ids = [...splits.train, ...splits.validation, ...splits.test].map((m) => m.id);
    assert.equal(new Set(ids).size, mails.length);
    const again = splitSpamAssassin(mails, { seed: 3 });
    assert.deepEqual(
      again.test.map((m) => m.id),
      splits.test.map((m) => m.id),
    );
    const other = splitSpamAssassin(mails, { seed: 4 });
    assert.notDeepEqual(
      other.test.map((m) => m.id),
      splits.test.map((m) => m.id),
    );
  });

  test("balanced subsample", () => {
    const splits = splitSpamAssassin(mails, { seed: 1, perClass: 50 });
    for (const label of ["ham", "spam"]) {
      assert.equal(splits.train.filter((m) => m.label === label).length, 35);
      assert.equal(splits.validation.filter((m) => m.label === label).length, 5);
      assert.equal(splits.test.filter((m) => m.label === label).length, 10);
    }
  });

  test("bad options are typed errors", () => {
    assert.throws(
      () => splitSpamAssassin(mails, { testFraction: 0.6, validationFraction: 0.5 }),
      SpamAssassinError,
    );
    assert.throws(() => splitSpamAssassin(mails, { perClass: 0 }), /perClass must be a positive integer/);
  });
});

describe("SpamAssassin task folder", () => {
  test("train/validation/test JSONL with text and label, read back by readRecords; cached by options", () => {
    const dir = join(makeTempDir("spam"), "task");
    const info = writeSpamAssassinTask(dir, { seed: 2, perClass: 20, maxChars: 300 });
    assert.deepEqual(info.counts, {
      train: { ham: 14, spam: 14 },
      validation: { ham: 2, spam: 2 },
      test: { ham: 4, spam: 4 },
    });
    const train = readRecords(join(dir, "train.jsonl"));
    assert.equal(train.length, 28);
    assert.deepEqual(Object.keys(train[0]).sort(), ["label", "text"]);
    assert.ok(train.every((r) => typeof r.text === "string" && (r.text as string).length <= 300));
    const first = readFileSync(join(dir, "test.jsonl"), "utf8");
    writeSpamAssassinTask(dir, { seed: 2, perClass: 20, maxChars: 300 });
    assert.equal(readFileSync(join(dir, "test.jsonl"), "utf8"), first);

    const cache = makeTempDir("spam-cache");
    const cached = ensureSpamAssassinTask({ cacheDir: cache, seed: 2, perClass: 20, maxChars: 300 });
    assert.ok(existsSync(join(cached.dir, "task.json")));
    assert.equal(readFileSync(join(cached.dir, "test.jsonl"), "utf8"), first);
    assert.deepEqual(
      ensureSpamAssassinTask({ cacheDir: cache, seed: 2, perClass: 20, maxChars: 300 }),
      cached,
    );
  });
});
