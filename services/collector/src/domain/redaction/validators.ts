import { isIPv4, isIPv6 } from 'node:net';

/**
 * Checks that turn look-alikes into findings: most digit runs, dotted quads and long tokens in
 * agent traffic are ids, versions and hashes, and only these checks tell them from PII.
 */

/** The Luhn checksum every payment card number carries. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Issuer prefixes of the card networks in use (Visa, Mastercard, Amex, Discover, JCB, Diners,
 * UnionPay, Maestro) with their lengths: a Luhn-valid order number of 16 digits passes the
 * checksum one time in ten, but rarely also starts like a card of its length.
 */
export function cardIssuerKnown(digits: string): boolean {
  const n = digits.length;
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  const three = Number(digits.slice(0, 3));
  if (digits.startsWith('4')) return n === 13 || n === 16 || n === 19;
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return n === 16;
  if (two === 34 || two === 37) return n === 15;
  if (digits.startsWith('6011') || two === 65 || (three >= 644 && three <= 649)) {
    return n >= 16 && n <= 19;
  }
  if (four >= 3528 && four <= 3589) return n >= 16 && n <= 19;
  if (two === 36 || two === 38 || (three >= 300 && three <= 305)) return n >= 14 && n <= 19;
  if (two === 62) return n >= 16 && n <= 19;
  if (two === 50 || (two >= 56 && two <= 69)) return n >= 12 && n <= 19;
  return false;
}

/** IBAN lengths by country, from the SWIFT IBAN registry. */
const ibanLengths: ReadonlyMap<string, number> = new Map(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 ' +
    'DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 ' +
    'IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 ' +
    'MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 ' +
    'SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30'
  )
    .split(' ')
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))]),
);

/** An IBAN (upper case, no spaces) of its country's length whose ISO 7064 mod-97 check is 1. */
export function ibanValid(iban: string): boolean {
  if (ibanLengths.get(iban.slice(0, 2)) !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    // Letters count as two digits, A = 10 … Z = 35.
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

/**
 * A US social security number the SSA could have issued: area 001–899 but not 666, group and
 * serial not all zeros (9xx areas are ITINs; 000 and 666 were never assigned).
 */
export function ssnValid(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/**
 * An IPv4 address that identifies a host: four octets up to 255 without leading zeros (those
 * are version strings), and not loopback, "this network" or a mask, which say nothing about
 * anyone.
 */
export function ipv4Identifies(address: string): boolean {
  if (!isIPv4(address)) return false;
  const first = Number(address.slice(0, address.indexOf('.')));
  return first !== 0 && first !== 127 && first !== 255;
}

/**
 * An IPv6 address that identifies a host: valid per node:net, not loopback or unspecified, and
 * with a digit in it, so that C++ and Rust paths such as `abc::def` are left alone.
 */
export function ipv6Identifies(address: string): boolean {
  if (!/\d/.test(address) || !isIPv6(address)) return false;
  const compact = address.toLowerCase();
  return compact !== '::1' && compact !== '::' && !/^(?:0{1,4}:){7}0{0,3}1$/.test(compact);
}

const asciiCounts = new Uint16Array(128);

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  // Tokens are ASCII: count in a reused array, touching only the characters seen.
  const seen: number[] = [];
  let others: Map<number, number> | undefined;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128) {
      (others ??= new Map()).set(code, (others.get(code) ?? 0) + 1);
    } else {
      const count = asciiCounts[code] ?? 0;
      if (count === 0) seen.push(code);
      asciiCounts[code] = count + 1;
    }
  }
  let bits = 0;
  const add = (count: number): void => {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  };
  for (const code of seen) {
    add(asciiCounts[code] ?? 0);
    asciiCounts[code] = 0;
  }
  others?.forEach(add);
  return bits;
}

/**
 * Whether base64 (or base64url) text decodes to readable text: encoded JSON, a JWT header,
 * a sentence. Random secrets decode to bytes that are mostly not printable.
 */
export function decodesToText(value: string): boolean {
  // Node's base64 decoder takes the URL-safe alphabet too.
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < 8) return false;
  let printable = 0;
  for (const byte of bytes) {
    if ((byte >= 0x20 && byte < 0x7f) || byte === 0x09 || byte === 0x0a || byte === 0x0d) {
      printable++;
    }
  }
  return printable / bytes.length >= 0.9;
}
