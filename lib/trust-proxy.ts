/**
 * `trustProxy`: which peers may tell the gateway who the client is (X-Forwarded-For).
 * CIDRs are parsed once at deploy time into numbers; a request only compares numbers, and
 * reads the X-Forwarded-For chain only when its peer is trusted. Hand-written parsers, no
 * regex: this runs per request for every hop of the chain.
 */

/** A parsed CIDR: IPv4 as one 32-bit word, IPv6 as eight 16-bit groups. */
export interface Cidr {
  readonly v6: boolean;
  readonly bits: number;
  /** IPv4: [address]; IPv6: the eight groups. */
  readonly words: readonly number[];
}

// Scratch space for parsing one address at a time: parsing is synchronous, so one buffer
// serves every request without allocating.
const GROUPS = new Uint16Array(8);

/** An IPv4 dotted quad (no leading zeros, which some parsers read as octal) → 32-bit, or -1. */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 /* . */ : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++parts > 4) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

/**
 * An IPv6 address (with `::`, an embedded IPv4 tail, an ignored `%zone`) into GROUPS;
 * false when it is not one.
 */
function parseIPv6(s: string, start = 0, end = s.length): boolean {
  const zone = s.indexOf('%', start);
  if (zone >= 0 && zone < end) end = zone;
  let n = 0; // groups written
  let gap = -1; // where '::' was
  let i = start;
  if (end - start < 2) return false;
  if (s.charCodeAt(i) === 58 /* : */) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      GROUPS.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (n === 8) return false;
    let group = 0;
    let digits = 0;
    const groupStart = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      const h =
        c >= 48 && c <= 57
          ? c - 48
          : c >= 97 && c <= 102
            ? c - 87
            : c >= 65 && c <= 70
              ? c - 55
              : -1;
      if (h < 0) break;
      group = group * 16 + h;
      if (++digits > 4) return false;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 46 /* . */) {
      // The last 32 bits written as IPv4.
      if (n > 6) return false;
      const v4 = parseIPv4(s, groupStart, end);
      if (v4 < 0) return false;
      GROUPS[n++] = v4 >>> 16;
      GROUPS[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0) return false;
    GROUPS[n++] = group;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false; // a trailing single ':'
    }
  }
  if (gap < 0) return n === 8;
  if (n === 8) return false;
  // Shift the groups after '::' to the end and zero the gap.
  const tail = n - gap;
  for (let k = 0; k < tail; k++) GROUPS[7 - k] = GROUPS[n - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) GROUPS[k] = 0;
  return true;
}

/** `::ffff:a.b.c.d` (an IPv4 client of a dual-stack listener) → `a.b.c.d`; others unchanged. */
export function normalizeIp(ip: string): string {
  return ip.length > 7 &&
    ip.charCodeAt(0) === 58 &&
    ip.startsWith('::ffff:') &&
    parseIPv4(ip, 7) >= 0
    ? ip.slice(7)
    : ip;
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a full-length prefix); null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  let bits = -1;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (digits.length === 0 || digits.length > 3) return null;
    bits = 0;
    for (let i = 0; i < digits.length; i++) {
      const c = digits.charCodeAt(i);
      if (c < 48 || c > 57) return null;
      bits = bits * 10 + (c - 48);
    }
  }
  const v4 = parseIPv4(text, 0, end);
  if (v4 >= 0) {
    if (bits > 32) return null;
    return { v6: false, bits: bits < 0 ? 32 : bits, words: [v4] };
  }
  if (text.indexOf('%') >= 0 || !parseIPv6(text, 0, end)) return null;
  if (bits > 128) return null;
  return { v6: true, bits: bits < 0 ? 128 : bits, words: Array.from(GROUPS) };
}

/** The compiled `trustProxy` setting of a deployment. */
export class TrustProxy {
  readonly #all: boolean;
  // Flat [network, mask, ...] for IPv4; [groups×8, bits, ...] for IPv6.
  readonly #v4: Uint32Array;
  readonly #v6: readonly Cidr[];

  constructor(all: boolean, cidrs: readonly Cidr[]) {
    this.#all = all;
    const v4 = cidrs.filter((c) => !c.v6);
    this.#v4 = new Uint32Array(v4.length * 2);
    v4.forEach((c, i) => {
      const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
      this.#v4[i * 2] = (c.words[0]! & mask) >>> 0;
      this.#v4[i * 2 + 1] = mask;
    });
    this.#v6 = cidrs.filter((c) => c.v6);
  }

  /** Whether a peer address (already normalised) may speak for the client. */
  trusts(ip: string): boolean {
    if (this.#all) return true;
    const v4 = parseIPv4(ip);
    if (v4 >= 0) {
      const list = this.#v4;
      for (let i = 0; i < list.length; i += 2) {
        if ((v4 & list[i + 1]!) >>> 0 === list[i]) return true;
      }
      return false;
    }
    if (this.#v6.length === 0 || !parseIPv6(ip)) return false;
    for (const cidr of this.#v6) if (inPrefix(cidr)) return true;
    return false;
  }
}

/** Whether GROUPS lies in an IPv6 prefix. */
function inPrefix(cidr: Cidr): boolean {
  let bits = cidr.bits;
  for (let g = 0; g < 8 && bits > 0; g++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((GROUPS[g]! & mask) !== (cidr.words[g]! & mask)) return false;
  }
  return true;
}

/** Compiles `trustProxy` (validated by the schema); null when nothing is trusted. */
export function compileTrustProxy(setting: boolean | readonly string[]): TrustProxy | null {
  if (setting === false) return null;
  if (setting === true) return new TrustProxy(true, []);
  return new TrustProxy(
    false,
    setting.map((s) => parseCidr(s)!),
  );
}

/**
 * The client address: the peer, unless the peer is trusted, in which case X-Forwarded-For is
 * read from the right and the first untrusted hop is the client (a client can put anything
 * at the left of the chain, but not at the right). An entry that is not an address ends the
 * walk at the last trusted hop.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trust: TrustProxy | null,
): string {
  let ip = normalizeIp(peer);
  if (trust === null || forwardedFor === undefined || !trust.trusts(ip)) return ip;
  let end = forwardedFor.length;
  while (end > 0) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    const entry = hopAddress(forwardedFor, comma + 1, end);
    if (entry === null) return ip;
    ip = entry;
    if (!trust.trusts(ip)) return ip;
    end = comma < 0 ? 0 : comma;
  }
  return ip;
}

/** One X-Forwarded-For entry as an address (spaces, `[v6]` and `:port` dropped), or null. */
function hopAddress(s: string, start: number, end: number): string | null {
  while (start < end && (s.charCodeAt(start) === 32 || s.charCodeAt(start) === 9)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  if (start === end) return null;
  if (s.charCodeAt(start) === 91 /* [ */) {
    const close = s.indexOf(']', start);
    if (close < 0 || close >= end) return null;
    start++;
    end = close;
  } else {
    const colon = s.indexOf(':', start);
    // IPv4 with a port (`1.2.3.4:5678`): one colon only.
    if (colon >= 0 && colon < end && s.lastIndexOf(':', end - 1) === colon) end = colon;
  }
  if (parseIPv4(s, start, end) >= 0) return s.slice(start, end);
  if (parseIPv6(s, start, end)) return normalizeIp(s.slice(start, end));
  return null;
}
