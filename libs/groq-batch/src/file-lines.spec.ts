import { splitLines } from './file-lines.js';

async function lines(...chunks: Array<string | Uint8Array>): Promise<string[]> {
  async function* source() {
    for (const chunk of chunks) yield typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
  }
  const out: string[] = [];
  for await (const line of splitLines(source())) out.push(line);
  return out;
}

describe('splitLines', () => {
  it('splits across chunk boundaries, with or without a final newline, and strips CR', async () => {
    expect(await lines('{"a":1}\n{"b"', ':2}\r\n', '{"c":3}')).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(await lines('x\n', '\n', 'y\n')).toEqual(['x', '', 'y']);
    expect(await lines()).toEqual([]);
  });

  it('keeps a UTF-8 character cut between two chunks whole', async () => {
    const bytes = new TextEncoder().encode('{"summary":"naïve 🚀"}\n');
    const cut = bytes.indexOf(0xf0) + 2;
    expect(await lines(bytes.slice(0, cut), bytes.slice(cut))).toEqual(['{"summary":"naïve 🚀"}']);
  });

  it('joins a long line spread over many chunks', async () => {
    const long = 'z'.repeat(10_000);
    const chunks = long.match(/.{1,333}/g)!;
    expect(await lines(...chunks, '\nend')).toEqual([long, 'end']);
  });
});
