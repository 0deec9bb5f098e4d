/**
 * `apigw-requestid` values: 16 characters like AWS's (e.g. "Jq3CkhGcPHcEMKw="), unique per
 * process: a random per-process prefix plus a counter, so no CSPRNG call per request.
 * Identifiers, not secrets: the prefix comes from Math.random (seeded by V8 from the OS),
 * which keeps node:crypto out of start-up.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomDigits(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += ALPHABET[Math.floor(Math.random() * 64)]!;
  return out;
}

const PREFIX = randomDigits(8);
let counter = Math.floor(Math.random() * 0x40000000);

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
