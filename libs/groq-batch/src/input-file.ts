import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

export interface BatchInputLine {
  customId: string;
  body: Record<string, unknown>;
}

export interface BatchInputFile {
  path: string;
  lines: number;
  bytes: number;
  customIds: string[];
}

export function serializeLine(line: BatchInputLine): string {
  return `${JSON.stringify({ custom_id: line.customId, method: 'POST', url: '/v1/chat/completions', body: line.body })}\n`;
}

/**
 * Streams request lines into JSONL files under `dir`, starting a new file whenever the next line
 * would pass the provider's line or byte limit (split, never fail). Duplicate custom_ids are refused
 * up front: the provider would fail the whole batch at validation.
 */
export async function writeBatchInputFiles(
  lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine>,
  dir: string,
  limits: { maxLines: number; maxBytes: number },
  baseName = 'batch-input',
): Promise<BatchInputFile[]> {
  const files: BatchInputFile[] = [];
  const seen = new Set<string>();
  let stream: ReturnType<typeof createWriteStream> | null = null;
  let current: BatchInputFile | null = null;
  const close = async () => {
    if (!stream) return;
    stream.end();
    await once(stream, 'finish');
    stream = null;
  };
  try {
    for await (const line of lines) {
      if (seen.has(line.customId)) throw new Error(`duplicate custom_id ${line.customId} in one batch input`);
      seen.add(line.customId);
      const text = serializeLine(line);
      const bytes = Buffer.byteLength(text);
      if (bytes > limits.maxBytes) throw new Error(`request ${line.customId} alone is ${bytes} bytes, above the ${limits.maxBytes}-byte file limit`);
      if (!current || current.lines >= limits.maxLines || current.bytes + bytes > limits.maxBytes) {
        await close();
        current = { path: join(dir, `${baseName}-${files.length + 1}.jsonl`), lines: 0, bytes: 0, customIds: [] };
        files.push(current);
        stream = createWriteStream(current.path);
      }
      if (!stream!.write(text)) await once(stream!, 'drain');
      current.lines++;
      current.bytes += bytes;
      current.customIds.push(line.customId);
    }
  } catch (error) {
    // Never leave a half-written file open behind a refused batch.
    const open = stream as ReturnType<typeof createWriteStream> | null;
    if (open) {
      open.on('error', () => undefined);
      open.destroy();
      await once(open, 'close').catch(() => undefined);
    }
    throw error;
  }
  await close();
  return files;
}
