import { tcpSocketPorts } from './proc.js';

describe('/proc readers', () => {
  it('maps each socket inode of a /proc/<pid>/net/tcp or tcp6 table to its local port', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 27345 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:D2F0 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 998877 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000001000000:9A44 00000000000000000000000001000000:1538 01 00000000:00000000 00:00000000 00000000     0        0 445566 1 0000000000000000 20 4 0 10 -1',
      '',
    ].join('\n');
    expect(tcpSocketPorts(tcp)).toEqual(
      new Map([
        ['27345', 5432],
        ['998877', 54000],
      ]),
    );
    expect(tcpSocketPorts(tcp6)).toEqual(new Map([['445566', 39492]]));
  });
});
