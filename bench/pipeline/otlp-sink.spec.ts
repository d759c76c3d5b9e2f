import { countSpans } from './otlp-sink.js';

function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 128)) bytes.push((value & 0x7f) | 0x80);
  return Buffer.from([...bytes, value]);
}

/** A length-delimited protobuf field (wire type 2). */
const field = (number: number, body: Buffer) => Buffer.concat([varint((number << 3) | 2), varint(body.length), body]);
const varintField = (number: number, value: number) => Buffer.from([number << 3, value]);

describe('countSpans', () => {
  it('counts the spans of every scope of every resource, skipping the other fields', () => {
    const span = field(1, Buffer.from('0123456789abcdef'));
    const scope = field(1, Buffer.from('scope'));
    const scopeSpans = (n: number) => field(2, Buffer.concat([scope, ...Array.from({ length: n }, () => field(2, span)), varintField(3, 7)]));
    const resourceSpans = (...scopes: Buffer[]) => field(1, Buffer.concat([field(1, Buffer.from('resource')), ...scopes]));
    const request = Buffer.concat([resourceSpans(scopeSpans(2), scopeSpans(3)), resourceSpans(scopeSpans(1)), resourceSpans(scopeSpans(200))]);
    expect(countSpans(request)).toBe(206);
    expect(countSpans(Buffer.alloc(0))).toBe(0);
  });
});
