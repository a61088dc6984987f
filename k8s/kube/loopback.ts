import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Which TCP peers a set of processes talks to, read from Linux's /proc: each process' socket
 * inodes (/proc/<pid>/fd links `socket:[inode]`) looked up in the network namespace's socket
 * tables (/proc/net/tcp and tcp6, proc(5)). What `make cluster-up` runs may only talk to
 * 127.0.0.0/8: a pod IP or Service IP (10.x) held by its API server must never be dialled.
 */

export interface TcpSocket {
  pid: number;
  local: string;
  remote: string;
  /** Kernel TCP state name (ESTABLISHED, SYN_SENT, LISTEN, …). */
  state: string;
}

const states: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/** `0100007F:1F90` → `127.0.0.1:8080`; IPv6 as four little-endian 32-bit words, IPv4-mapped shown as IPv4. */
export function decodeAddress(hex: string): string {
  const [address, port] = hex.split(':') as [string, string];
  const portNumber = Number.parseInt(port, 16);
  const words = address.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)));
  if (bytes.length === 4) return `${bytes.join('.')}:${portNumber}`;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `${bytes.slice(12).join('.')}:${portNumber}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return `[${groups.join(':')}]:${portNumber}`;
}

/** Loopback (127.0.0.0/8, ::1) or unspecified (a listener's or an unconnected socket's peer). */
export function isLoopbackOrUnspecified(endpoint: string): boolean {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':'));
  return host.startsWith('127.') || host === '0.0.0.0' || host === '[0:0:0:0:0:0:0:1]' || host === '[0:0:0:0:0:0:0:0]';
}

function socketTable(): Map<string, { local: string; remote: string; state: string }> {
  const table = new Map<string, { local: string; remote: string; state: string }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      table.set(fields[9]!, {
        local: decodeAddress(fields[1]!),
        remote: decodeAddress(fields[2]!),
        state: states[fields[3]!] ?? fields[3]!,
      });
    }
  }
  return table;
}

/** The process and every descendant, from /proc/<pid>/stat's parent pids. */
export function withDescendants(pids: number[]): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found = new Set(pids.filter((p) => parents.has(p)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents)
      if (found.has(parent) && !found.has(pid)) {
        found.add(pid);
        grew = true;
      }
  }
  return [...found];
}

/** Every TCP socket the processes hold now. */
export function tcpSocketsOf(pids: number[]): TcpSocket[] {
  const table = socketTable();
  const sockets: TcpSocket[] = [];
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const socket = inode ? table.get(inode) : undefined;
      if (socket) sockets.push({ pid, ...socket });
    }
  }
  return sockets;
}

/** The sockets among `pids` (and their descendants) whose peer is outside loopback. */
export function nonLoopbackPeers(pids: number[]): TcpSocket[] {
  return tcpSocketsOf(withDescendants(pids)).filter(
    (s) => !isLoopbackOrUnspecified(s.remote) || !isLoopbackOrUnspecified(s.local),
  );
}
