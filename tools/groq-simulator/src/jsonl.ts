import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface NumberedLine {
  /** 1-based, counting blank lines too, as validation errors report them. */
  lineNumber: number;
  text: string;
}

/** Streams a JSONL file line by line; only one read chunk and one partial line are ever held. */
export async function* readJsonlLines(path: string): AsyncGenerator<NumberedLine> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let lineNumber = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 32 * 1024 })) {
    const text = partial + decoder.write(chunk as Buffer);
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      lineNumber++;
      yield { lineNumber, text: text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end) };
      start = end + 1;
    }
    partial = text.slice(start);
  }
  partial += decoder.end();
  if (partial !== '') yield { lineNumber: lineNumber + 1, text: partial.endsWith('\r') ? partial.slice(0, -1) : partial };
}

/**
 * Appends lines to a file in blocks of about 16 KB, waiting on backpressure so a slow disk never fills
 * memory. `write` returns a promise only when it flushed a block: callers await just those.
 */
export class JsonlWriter {
  private readonly stream: WriteStream;
  private block: string[] = [];
  private blockChars = 0;
  private failure: Error | null = null;
  lines = 0;

  constructor(
    readonly path: string,
    private readonly blockSize = 16 * 1024,
  ) {
    this.stream = createWriteStream(path);
    // Kept, and rethrown on the next write or close: an unheard 'error' event would take the process down.
    this.stream.on('error', (error) => {
      this.failure ??= error;
    });
  }

  write(line: string): Promise<void> | undefined {
    if (this.failure) throw new Error(`writing ${this.path} failed: ${this.failure.message}`, { cause: this.failure });
    this.lines++;
    this.block.push(line);
    this.blockChars += line.length + 1;
    return this.blockChars >= this.blockSize ? this.flush() : undefined;
  }

  async close(): Promise<void> {
    if (!this.failure) await this.flush();
    if (this.failure) {
      this.stream.destroy();
      throw new Error(`writing ${this.path} failed: ${this.failure.message}`, { cause: this.failure });
    }
    this.stream.end();
    await once(this.stream, 'finish');
  }

  private async flush(): Promise<void> {
    if (this.block.length === 0) return;
    const text = `${this.block.join('\n')}\n`;
    this.block = [];
    this.blockChars = 0;
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
}
