/**
 * The process edge: stdout for data, stderr for diagnostics. A closed stdout (EPIPE,
 * e.g. `sendwatch scan ... | head`) ends the output quietly instead of crashing.
 * `write` buffers; `drain` hands the buffer to the stream and waits while the reader
 * is slower than us, so a long stream of findings never piles up in memory.
 */
export interface Io {
  /** Writes what is buffered and then `text`, and waits until it is flushed (or the reader has gone). */
  out(text: string): Promise<void>;
  /** Buffers `text` for stdout; call `drain` now and then. */
  write(text: string): void;
  /** Flushes the buffer; resolves once the stream can take more. */
  drain(): Promise<void>;
  /** One diagnostic line, prefixed with the program name. */
  err(line: string): void;
  readonly stdoutIsTty: boolean;
  readonly stdinIsTty: boolean;
}

const FLUSH_AT = 64 * 1024;

export function processIo(): Io {
  let closed = false;
  let buffer: string[] = [];
  let buffered = 0;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      closed = true;
      return;
    }
    throw e;
  });
  const flush = (): boolean => {
    if (buffered === 0) return true;
    const text = buffer.join('');
    buffer = [];
    buffered = 0;
    return closed || process.stdout.write(text);
  };
  const drain = (): Promise<void> => {
    if (flush() || closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        process.stdout.off('drain', done);
        process.stdout.off('error', done);
        resolve();
      };
      process.stdout.on('drain', done);
      process.stdout.on('error', done);
    });
  };
  const write = (text: string): void => {
    if (closed || text === '') return;
    buffer.push(text);
    buffered += text.length;
    if (buffered >= FLUSH_AT) flush();
  };
  return {
    write,
    drain,
    async out(text) {
      write(text);
      await drain();
      if (closed) return;
      await new Promise<void>((resolve) => {
        process.stdout.write('', () => resolve());
      });
    },
    err(line) {
      process.stderr.write(`sendwatch: ${line}\n`);
    },
    stdoutIsTty: Boolean(process.stdout.isTTY as boolean | undefined),
    stdinIsTty: Boolean(process.stdin.isTTY as boolean | undefined),
  };
}

/**
 * Colour level for stdout: none unless it is a terminal, `--no-color` is absent and
 * NO_COLOR is unset; `TERM=dumb` means none. On a terminal at least basic colour, even
 * where chalk's detection says no (it turns colour off whenever `CI` is set).
 */
export function colourLevel(wanted: boolean, isTty: boolean, detected: { level: 0 | 1 | 2 | 3 } | false): 0 | 1 | 2 | 3 {
  if (!wanted || !isTty || (process.env.NO_COLOR ?? '') !== '' || process.env.TERM === 'dumb') return 0;
  return detected ? (detected.level === 0 ? 1 : detected.level) : 1;
}
