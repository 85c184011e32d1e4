/** Shared vocabulary of the corpus generators: people, companies, products, places. */
import type { Random } from './random.js';

export const firstNames = [
  'Maria',
  'James',
  'Aiko',
  'Liam',
  'Fatima',
  'Noah',
  'Chen',
  'Olivia',
  'Mateo',
  'Priya',
  'Lucas',
  'Amara',
  'Ethan',
  'Sofia',
  'Yusuf',
  'Emma',
  'Kenji',
  'Zoe',
  'Ivan',
  'Leila',
  'Oscar',
  'Nadia',
  'Hugo',
  'Ingrid',
  'Rahul',
  'Chloe',
  'Tomas',
  'Grace',
  'Dmitri',
  'Ana',
] as const;

export const lastNames = [
  'Lopez',
  'Smith',
  'Tanaka',
  'Murphy',
  'Haddad',
  'Johnson',
  'Wei',
  'Brown',
  'Rossi',
  'Patel',
  'Muller',
  'Okafor',
  'Davis',
  'Garcia',
  'Yilmaz',
  'Martin',
  'Sato',
  'Clark',
  'Petrov',
  'Nasser',
  'Berg',
  'Kowalski',
  'Dubois',
  'Larsen',
  'Gupta',
  'Moreau',
  'Novak',
  'Kim',
  'Volkov',
  'Silva',
] as const;

export const companies = [
  'Northwind Traders',
  'Globex',
  'Initech',
  'Umbrella Logistics',
  'Stark Supplies',
  'Wayne Foods',
  'Acme Hardware',
  'Hooli Cloud',
  'Vandelay Imports',
  'Soylent Farms',
  'Cyberdyne Parts',
  'Tyrell Textiles',
  'Wonka Confectionery',
  'Oscorp Chemicals',
  'Aperture Labs',
  'Gringotts Bank',
  'Monarch Paper',
  'Pied Piper',
  'Dunder Mifflin',
  'Blue Sun Freight',
] as const;

export const products = [
  'wireless earbuds',
  'standing desk',
  'espresso machine',
  'running shoes',
  'air purifier',
  'mechanical keyboard',
  'yoga mat',
  'electric kettle',
  'backpack',
  'smart watch',
  'noise cancelling headphones',
  'office chair',
  'blender',
  'phone case',
  'laptop stand',
  'robot vacuum',
  'winter jacket',
  'water bottle',
  'desk lamp',
  'gaming mouse',
] as const;

export const cities = [
  'Lisbon',
  'Osaka',
  'Toronto',
  'Nairobi',
  'Berlin',
  'Austin',
  'Lyon',
  'Melbourne',
  'Bogota',
  'Krakow',
  'Seoul',
  'Dublin',
  'Chennai',
  'Oslo',
  'Porto',
  'Denver',
] as const;

export function person(random: Random): string {
  return `${random.pick(firstNames)} ${random.pick(lastNames)}`;
}

export function email(random: Random): string {
  return `${random.pick(firstNames).toLowerCase()}.${random.pick(lastNames).toLowerCase()}@${random.pick(['example.com', 'mail.test', 'corp.example'])}`;
}

/** An ISO date in 2026. */
export function date(random: Random): string {
  return `2026-${String(random.int(1, 12)).padStart(2, '0')}-${String(random.int(1, 28)).padStart(2, '0')}`;
}

export function money(random: Random, min: number, max: number): string {
  return (min + random.next() * (max - min)).toFixed(2);
}

export function orderId(random: Random): string {
  return `${random.pick(['ORD', 'SO', 'A'])}-${String(random.int(10000, 99999))}`;
}

/** Joins `count` sentences drawn from generators, without repeating one generator twice in a row. */
export function sentences(
  random: Random,
  count: number,
  makers: readonly ((r: Random) => string)[],
): string {
  const parts: string[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    let index = random.int(0, makers.length - 1);
    if (index === last) index = (index + 1) % makers.length;
    last = index;
    parts.push((makers[index] as (r: Random) => string)(random));
  }
  return parts.join(' ');
}
