/**
 * Splits a byte stream into text lines as it arrives: a 100 MB file is never held whole. Handles
 * `\n` and `\r\n`, UTF-8 characters cut between chunks, and a last line without a newline.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of chunks) {
    const piece = decoder.decode(chunk, { stream: true });
    // A long line spread over many chunks is only scanned once its end arrives.
    if (!piece.includes('\n')) {
      rest += piece;
      continue;
    }
    const text = rest + piece;
    let start = 0;
    let newline = text.indexOf('\n', start);
    while (newline >= 0) {
      yield stripCarriageReturn(text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    rest = text.slice(start);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield stripCarriageReturn(rest);
}

const stripCarriageReturn = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

/**
 * The lines of a downloaded body with an idle watchdog: a body silent for `idleMs` is aborted through
 * `controller` (the one its request was made with, so the connection is released too, as it is when the
 * reader stops early). Only the waits for the network are timed, not the reader's own work between
 * chunks. An error mid-body goes through `fail`, told whether the watchdog ended it.
 */
export async function* watchedLines(
  body: AsyncIterable<Uint8Array>,
  controller: AbortController,
  idleMs: number,
  fail: (error: unknown, timedOut: boolean) => Error,
): AsyncGenerator<string> {
  let idle: ReturnType<typeof setTimeout> | undefined;
  async function* watched(): AsyncGenerator<Uint8Array> {
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      idle = setTimeout(() => controller.abort(), idleMs);
      const next = await chunks.next();
      clearTimeout(idle);
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    yield* splitLines(watched());
  } catch (error) {
    throw fail(error, controller.signal.aborted);
  } finally {
    clearTimeout(idle);
    if (!controller.signal.aborted) controller.abort();
  }
}
