/**
 * Request ids, made without a CSPRNG call per request. `apigw-requestid` values: 16
 * characters like AWS's (e.g. "Jq3CkhGcPHcEMKw="), unique per process: a random
 * per-process prefix plus a counter. Lambda `awsRequestId`s: random version-4 UUIDs.
 */
import { randomBytes, randomFillSync } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PREFIX = randomBytes(6).toString('base64').slice(0, 8);
let counter = randomBytes(4).readUInt32BE(0) & 0x3fffffff;

export function nextRequestId(): string {
  counter = (counter + 1) & 0x3fffffff; // 30 bits: five base64 digits
  let n = counter;
  let tail = '';
  for (let i = 0; i < 5; i++) {
    tail = ALPHABET[n & 63]! + tail;
    n >>>= 6;
  }
  return `${PREFIX}${tail}EM=`;
}

// Node's randomUUID refills 2 KiB of entropy every 128 ids; a 64 KiB pool refills every
// 4096 and cost about a third as much per id, measured in the function route.
const POOL = Buffer.allocUnsafe(64 * 1024);
let poolOffset = POOL.length;
const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));

/** A random (version 4, RFC 9562) UUID, lower-case, as AWS's `awsRequestId`. */
export function randomUuid(): string {
  if (poolOffset === POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const b = POOL;
  const o = poolOffset;
  poolOffset += 16;
  return (
    HEX[b[o]!]! +
    HEX[b[o + 1]!]! +
    HEX[b[o + 2]!]! +
    HEX[b[o + 3]!]! +
    '-' +
    HEX[b[o + 4]!]! +
    HEX[b[o + 5]!]! +
    '-' +
    HEX[(b[o + 6]! & 0x0f) | 0x40]! +
    HEX[b[o + 7]!]! +
    '-' +
    HEX[(b[o + 8]! & 0x3f) | 0x80]! +
    HEX[b[o + 9]!]! +
    '-' +
    HEX[b[o + 10]!]! +
    HEX[b[o + 11]!]! +
    HEX[b[o + 12]!]! +
    HEX[b[o + 13]!]! +
    HEX[b[o + 14]!]! +
    HEX[b[o + 15]!]!
  );
}
