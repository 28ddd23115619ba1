// A one-line progress bar on stderr (redrawn in place on a terminal, printed every 10% otherwise).

export class ProgressBar {
  private lastPercent = -1;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, detail = ""): void {
    const percent = Math.floor((100 * done) / this.total);
    const interactive = this.stream.isTTY;
    if (!interactive && (percent === this.lastPercent || percent % 10 !== 0)) return;
    this.lastPercent = percent;
    const width = 30;
    const filled = Math.round((width * done) / this.total);
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = done > 0 ? (elapsed * (this.total - done)) / done : 0;
    const line = `${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${this.total} ${detail} ${elapsed.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left`;
    if (interactive) this.stream.write(`\r${line}\x1b[K`);
    else this.stream.write(`${line}\n`);
  }

  finish(): void {
    if (this.stream.isTTY) this.stream.write("\n");
  }
}
