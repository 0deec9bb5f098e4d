/**
 * `apigw-requestid` values: 16 characters like AWS's (e.g. "Jq3CkhGcPHcEMKw="), unique per
 * process. A random per-process prefix plus a counter avoids calling the CSPRNG per request.
 */
import { randomBytes } from 'node:crypto';

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
