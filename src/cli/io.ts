/**
 * The process edge: stdout for data, stderr for diagnostics. A closed stdout (EPIPE,
 * e.g. `sendwatch scan ... | head`) ends the output quietly instead of crashing.
 */
export interface Io {
  /** Writes data; resolves when flushed, or at once if the reader has gone away. */
  out(text: string): Promise<void>;
  /** One diagnostic line, prefixed with the program name. */
  err(line: string): void;
  readonly stdoutIsTty: boolean;
  readonly stdinIsTty: boolean;
}

export function processIo(): Io {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      closed = true;
      return;
    }
    throw e;
  });
  return {
    out(text) {
      if (closed || text === '') return Promise.resolve();
      return new Promise((resolve) => {
        process.stdout.write(text, () => resolve());
      });
    },
    err(line) {
      process.stderr.write(`sendwatch: ${line}\n`);
    },
    stdoutIsTty: process.stdout.isTTY === true,
    stdinIsTty: process.stdin.isTTY === true,
  };
}
