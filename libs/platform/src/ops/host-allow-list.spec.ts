import { hostNameOf } from './host-allow-list.js';

describe('hostNameOf', () => {
  it.each([
    ['127.0.0.1:3102', '127.0.0.1'],
    ['LOCALHOST', 'localhost'],
    ['[::1]:3102', '[::1]'],
    ['[::1]', '[::1]'],
    ['attacker.example:80', 'attacker.example'],
  ])('%s → %s', (header, name) => {
    expect(hostNameOf(header)).toBe(name);
  });

  it.each([undefined, '', '::1', 'a:b:c', 'host:port', '127.0.0.1:3102/x'])('refuses %p', (header) => {
    expect(hostNameOf(header)).toBeNull();
  });
});
