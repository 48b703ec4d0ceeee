/**
 * A small authoritative DNS server on 127.0.0.1 (UDP, port 0) for discovery tests: it answers
 * A, AAAA and SRV questions from a record table the test changes at will, can be switched to
 * answer SERVFAIL or to stop answering, and counts the questions it receives. Pass
 * `dns.address` as `discover.servers[0]`, so no test ever asks a real resolver.
 *
 * Written on node:dgram (about 100 lines of RFC 1035 wire format) rather than with a DNS
 * package: the tests need only these three record types and the failure modes, and seeing
 * the bytes keeps what the resolver receives obvious.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** The host the record points at (resolved through this server too). */
  readonly target: string;
}

/** The records of one name. A name absent from the table gets NXDOMAIN; a type absent, an empty answer. */
export interface NameRecords {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvRecord[];
}

/**
 * How the server answers: from the table, SERVFAIL to everything, not at all, or later (`hold`
 * keeps the questions until `release()` answers them from the table as it is then).
 */
export type DnsMode = 'answer' | 'servfail' | 'silent' | 'hold';

export interface DnsQuestion {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'SRV' | number;
}

export interface DnsServer {
  /** `127.0.0.1:PORT`, the form `discover.servers` takes. */
  readonly address: string;
  /** Records by lower-case name without the trailing dot; change it between refreshes. */
  readonly records: Map<string, NameRecords>;
  mode: DnsMode;
  /** Every question received, answered or not, in arrival order. */
  readonly questions: DnsQuestion[];
  /** Answers the held questions and goes back to mode `answer`. */
  release(): void;
  close(): Promise<void>;
}

const TYPES: Record<number, DnsQuestion['type']> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const CODES = { A: 1, AAAA: 28, SRV: 33 } as const;
const NOERROR = 0;
const SERVFAIL = 2;
const NXDOMAIN = 3;

/** The question's name and where the question ends. */
function readName(msg: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = start;
  while (msg[at] !== 0) {
    const len = msg[at]!;
    labels.push(msg.toString('ascii', at + 1, at + 1 + len));
    at += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: at + 1 };
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function rdataOf(type: 'A' | 'AAAA' | 'SRV', value: string | SrvRecord): Buffer {
  if (type === 'A') return Buffer.from((value as string).split('.').map(Number));
  if (type === 'AAAA') return ipv6Bytes(value as string);
  const srv = value as SrvRecord;
  const head = Buffer.alloc(6);
  head.writeUInt16BE(srv.priority, 0);
  head.writeUInt16BE(srv.weight, 2);
  head.writeUInt16BE(srv.port, 4);
  return Buffer.concat([head, encodeName(srv.target)]);
}

function answer(msg: Buffer, records: Map<string, NameRecords>, mode: DnsMode, question: DnsQuestion, questionEnd: number): Buffer {
  const known = records.get(question.name);
  const type = question.type;
  const values: Array<string | SrvRecord> = known === undefined || typeof type === 'number' ? [] : [...(known[type] ?? [])];
  const rcode = mode === 'servfail' ? SERVFAIL : known === undefined ? NXDOMAIN : NOERROR;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2); // id
  // QR, opcode 0, AA, RD as asked; RA; the rcode.
  header.writeUInt16BE(0x8400 | (msg[2]! & 0x01) << 8 | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rcode === NOERROR ? values.length : 0, 6);
  const rrs = rcode !== NOERROR || typeof type === 'number' ? [] : values.map((v) => {
    const rdata = rdataOf(type, v);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    fixed.writeUInt16BE(CODES[type], 2);
    fixed.writeUInt16BE(1, 4); // IN
    fixed.writeUInt32BE(1, 6); // TTL 1 s: nothing should cache these
    fixed.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([fixed, rdata]);
  });
  return Buffer.concat([header, msg.subarray(12, questionEnd), ...rrs]);
}

/** Starts the server with `records` (a copy is not made: the map is the server's table). */
export async function startDnsServer(records: Record<string, NameRecords> = {}): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const table = new Map(Object.entries(records).map(([name, r]) => [name.toLowerCase(), r]));
  const questions: DnsQuestion[] = [];
  const held: Array<() => void> = [];
  const server: DnsServer = {
    address: '',
    records: table,
    mode: 'answer',
    questions,
    release() {
      server.mode = 'answer';
      for (const reply of held.splice(0)) reply();
    },
    async close() {
      socket.close();
      await once(socket, 'close');
    },
  };
  socket.on('message', (msg, peer) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const code = msg.readUInt16BE(end);
    const question: DnsQuestion = { name, type: TYPES[code] ?? code };
    questions.push(question);
    if (server.mode === 'silent') return;
    const reply = (): void => socket.send(answer(msg, table, server.mode, question, end + 4), peer.port, peer.address);
    if (server.mode === 'hold') held.push(reply);
    else reply();
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  (server as { address: string }).address = `127.0.0.1:${socket.address().port}`;
  return server;
}

/** The questions `dns` received for `name` (any type). */
export function questionsFor(dns: DnsServer, name: string): number {
  return dns.questions.filter((q) => q.name === name.toLowerCase()).length;
}

