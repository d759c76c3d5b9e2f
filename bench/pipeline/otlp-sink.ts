import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OTLP/HTTP receiver for the traced bench phase: it reads every export the services send (protobuf,
 * the SDK's default) and answers 200 with an empty response, so that the services do the whole work of tracing
 * (spans made, batched, encoded and sent) without a collector on the machine. It counts the spans it received.
 */
export interface OtlpSink {
  url: string;
  stats(): { requests: number; bytes: number; spans: number };
  stop(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  let spans = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      requests++;
      bytes += body.length;
      if (request.url === '/v1/traces') spans += countSpans(body);
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ requests, bytes, spans }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Spans in an ExportTraceServiceRequest: resource_spans (field 1) → scope_spans (field 2) → spans (field 2).
 * Only the length-delimited fields on that path are opened; everything else is skipped by its wire type.
 */
export function countSpans(message: Buffer): number {
  let total = 0;
  for (const resourceSpans of fields(message, 1)) for (const scopeSpans of fields(resourceSpans, 2)) total += fields(scopeSpans, 2).length;
  return total;
}

/** The length-delimited values of field `wanted` in one protobuf message. */
function fields(message: Buffer, wanted: number): Buffer[] {
  const found: Buffer[] = [];
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message[offset++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (offset < message.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key & 7];
    if (wire === 0) varint();
    else if (wire === 1) offset += 8;
    else if (wire === 5) offset += 4;
    else if (wire === 2) {
      const length = varint();
      if (field === wanted) found.push(message.subarray(offset, offset + length));
      offset += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return found;
}
