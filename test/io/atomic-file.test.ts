import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { AtomicWriteError, writeFileAtomic, writeFileAtomicStreaming } from "../../src/io/atomic-file.js";
import { makeTempDir } from "./temp-dir.js";

const temp = makeTempDir("atomic");

describe("atomic file writes", () => {
  test("writes strings and bytes, replaces an existing file, leaves no temporary files", () => {
    const path = join(temp, "a.json");
    writeFileAtomic(path, '{"v": 1}');
    assert.equal(readFileSync(path, "utf8"), '{"v": 1}');
    writeFileAtomic(path, new Uint8Array([104, 105]));
    assert.equal(readFileSync(path, "utf8"), "hi");
    assert.deepEqual(readdirSync(temp), ["a.json"]);
  });

  test("streaming writer appends pieces in order", () => {
    const path = join(temp, "b.bin");
    writeFileAtomicStreaming(path, (append) => {
      append(new Uint8Array([1, 2]));
      append(new Uint8Array(0));
      append(new Uint8Array([3]));
    });
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  });

  test("a failure while writing keeps the old file and removes the temporary one", () => {
    const path = join(temp, "c.txt");
    writeFileAtomic(path, "old");
    assert.throws(
      () =>
        writeFileAtomicStreaming(path, (append) => {
          append(new Uint8Array([110, 101, 119]));
          throw new RangeError("producer failed");
        }),
      RangeError,
    );
    assert.equal(readFileSync(path, "utf8"), "old");
    assert.deepEqual(
      readdirSync(temp).filter((name) => name.includes("c.txt")),
      ["c.txt"],
    );
  });

  test("a missing directory gives a typed error naming it", () => {
    const target = join(temp, "no-such-dir", "x.txt");
    assert.throws(
      () => writeFileAtomic(target, "x"),
      (error: unknown) =>
        error instanceof AtomicWriteError &&
        error.code === "ATOMIC_WRITE_FAILED" &&
        error.message.includes("no-such-dir"),
    );
  });
});
