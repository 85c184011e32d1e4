import { describe, expect, it } from 'vitest';
import {
  cardIssuerKnown,
  decodesToText,
  entropy,
  ibanValid,
  ipv4Identifies,
  ipv6Identifies,
  luhnValid,
  ssnValid,
} from './validators.js';

describe('luhnValid', () => {
  it.each(['4111111111111111', '5500000000000004', '378282246310005', '6011111111111117'])(
    'accepts %s',
    (digits) => {
      expect(luhnValid(digits)).toBe(true);
    },
  );

  it.each(['4111111111111112', '5500000000000005', '1234567812345678'])('rejects %s', (digits) => {
    expect(luhnValid(digits)).toBe(false);
  });
});

describe('cardIssuerKnown', () => {
  it('knows the networks and their lengths', () => {
    expect(cardIssuerKnown('4111111111111111')).toBe(true);
    expect(cardIssuerKnown('2223000048400011')).toBe(true);
    expect(cardIssuerKnown('378282246310005')).toBe(true);
    expect(cardIssuerKnown('3530111333300000')).toBe(true);
    // An Amex prefix with 16 digits, and prefixes no network uses.
    expect(cardIssuerKnown('3782822463100050')).toBe(false);
    expect(cardIssuerKnown('9780306406157')).toBe(false);
    expect(cardIssuerKnown('1700000000123')).toBe(false);
  });
});

describe('ibanValid', () => {
  it.each(['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606'])(
    'accepts %s',
    (iban) => {
      expect(ibanValid(iban)).toBe(true);
    },
  );

  it('rejects a wrong check, a wrong length and an unknown country', () => {
    expect(ibanValid('DE88370400440532013000')).toBe(false);
    expect(ibanValid('DE8937040044053201300')).toBe(false);
    expect(ibanValid('ZZ89370400440532013000')).toBe(false);
  });
});

describe('ssnValid', () => {
  it('applies the SSA area, group and serial rules', () => {
    expect(ssnValid('078051121')).toBe(true);
    expect(ssnValid('000121234')).toBe(false);
    expect(ssnValid('666121234')).toBe(false);
    expect(ssnValid('912345678')).toBe(false);
    expect(ssnValid('123001234')).toBe(false);
    expect(ssnValid('123450000')).toBe(false);
  });
});

describe('IP addresses', () => {
  it('takes host addresses, not loopback, unspecified, masks or version strings', () => {
    expect(ipv4Identifies('203.0.113.7')).toBe(true);
    expect(ipv4Identifies('10.0.0.1')).toBe(true);
    expect(ipv4Identifies('127.0.0.1')).toBe(false);
    expect(ipv4Identifies('0.0.0.0')).toBe(false);
    expect(ipv4Identifies('255.255.255.0')).toBe(false);
    expect(ipv4Identifies('1.02.3.4')).toBe(false);
    expect(ipv4Identifies('256.1.1.1')).toBe(false);
  });

  it('takes IPv6 addresses with a digit, not loopback or code', () => {
    expect(ipv6Identifies('2001:db8::8a2e:370:7334')).toBe(true);
    expect(ipv6Identifies('fe80::1')).toBe(true);
    expect(ipv6Identifies('::1')).toBe(false);
    expect(ipv6Identifies('0:0:0:0:0:0:0:1')).toBe(false);
    expect(ipv6Identifies('abc::def')).toBe(false);
    expect(ipv6Identifies('12:30:45')).toBe(false);
  });
});

describe('entropy', () => {
  it('is log2 of the alphabet for uniform text and 0 for one repeated character', () => {
    expect(entropy('abcdabcd')).toBeCloseTo(2);
    expect(entropy('aaaaaaaa')).toBe(0);
    expect(entropy('ééaa')).toBeCloseTo(1);
  });
});

describe('decodesToText', () => {
  it('tells encoded text from random bytes', () => {
    expect(decodesToText(Buffer.from('The quick brown fox jumps').toString('base64'))).toBe(true);
    expect(decodesToText(Buffer.from('{"user":"demo"}').toString('base64url'))).toBe(true);
    expect(decodesToText('wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9ht4KEY')).toBe(false);
  });
});
