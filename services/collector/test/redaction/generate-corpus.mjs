// Generates corpus.jsonl, the labelled evaluation corpus of the redactor:
//   node test/redaction/generate-corpus.mjs > test/redaction/corpus.jsonl
// Deterministic (seeded), so regenerating changes nothing unless this file changes.
//
// Each line: {"id", "source", "text", "spans": [{"start", "end", "entity"}]}, offsets in UTF-16
// code units. Texts are agent traffic as the collector sees it: user prompts, tool arguments and
// results (often escaped JSON), log lines, error messages, config and shell output, reasoning.
// Values are random but valid (Luhn, mod-97, SSN area rules…). Items with no spans are hard
// negatives: ids, hashes, versions, timestamps, code and placeholders that must stay.
//
// Labelling conventions: only the secret part is labelled where context surrounds it (the token
// after `Bearer`, the value after `password=`, the password in `scheme://user:password@host`);
// a JWT or a provider key is labelled as such wherever it appears, also after `Bearer`.

let seed = 20260715;
function random() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (list) => list[int(0, list.length - 1)];
const chars = (alphabet, n) => Array.from({ length: n }, () => pick(alphabet)).join('');
const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const ALNUM = DIGITS + LOWER + UPPER;
const HEX = '0123456789abcdef';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
/** Random tokens with at least two digits, as every real random key of this length has. */
function token(alphabet, n) {
  for (;;) {
    const value = chars(alphabet, n);
    if ((value.match(/\d/g) ?? []).length >= 2) return value;
  }
}

// Entity values -------------------------------------------------------------------------------

const firstNames = [
  'jane',
  'john',
  'maria',
  'li',
  'ahmed',
  'olga',
  'carlos',
  'priya',
  'tom',
  'fatima',
  'kenji',
  'sofia',
  'noah',
  'amara',
  'lukas',
];
const lastNames = [
  'doe',
  'smith',
  'garcia',
  'chen',
  'khan',
  'ivanova',
  'muller',
  'patel',
  'okafor',
  'rossi',
  'tanaka',
  'silva',
  'dubois',
  'nowak',
];
const domains = [
  'acme.io',
  'example.com',
  'globex.co.uk',
  'initech.de',
  'mail.umbrella-corp.com',
  'gmail.com',
  'outlook.fr',
  'startup.dev',
  'uni-heidelberg.de',
  'contoso.onmicrosoft.com',
  'proton.me',
  'yahoo.co.jp',
];

function email() {
  const f = pick(firstNames);
  const l = pick(lastNames);
  const local = pick([
    `${f}.${l}`,
    `${f}${int(1, 99)}`,
    `${f[0]}${l}`,
    `${f}.${l}+${pick(['billing', 'news', 'test'])}`,
    `${f}_${l}`,
    `${f.toUpperCase()}.${l}`,
    `${l}-${f}`,
  ]);
  return `${local}@${pick(domains)}`;
}

function nanp() {
  return `${int(2, 9)}${int(0, 9)}${int(0, 9)}`;
}
function phone() {
  const a = nanp();
  const e = `${int(2, 9)}${int(0, 9)}${int(0, 9)}`;
  const n = chars(DIGITS, 4);
  return pick([
    () => `(${a}) ${e}-${n}`,
    () => `${a}-${e}-${n}`,
    () => `${a}.${e}.${n}`,
    () => `+1 ${a} ${e} ${n}`,
    () => `+1-${a}-${e}-${n}`,
    () => `+1 (${a}) ${e}-${n}`,
    () => `1-800-${e}-${n}`,
    () => `+1${a}${e}${n}`,
    () => `+44 20 ${chars(DIGITS, 4)} ${chars(DIGITS, 4)}`,
    () => `+44 7${chars(DIGITS, 3)} ${chars(DIGITS, 6)}`,
    () => `020 7${chars(DIGITS, 3)} ${chars(DIGITS, 4)}`,
    () => `07${chars(DIGITS, 3)} ${chars(DIGITS, 6)}`,
    () => `+49 30 ${chars(DIGITS, 8)}`,
    () => `+49 (0)89 ${chars(DIGITS, 7)}`,
    () => `+33 6 ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)}`,
    () => `01 ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)}`,
    () => `+91 9${chars(DIGITS, 4)} ${chars(DIGITS, 5)}`,
    () => `+61 2 ${chars(DIGITS, 4)} ${chars(DIGITS, 4)}`,
    () => `+81 3-${chars(DIGITS, 4)}-${chars(DIGITS, 4)}`,
    () => `+34 6${chars(DIGITS, 2)} ${chars(DIGITS, 3)} ${chars(DIGITS, 3)}`,
    () => `(${a})${e}-${n}`,
  ])();
}

function luhnComplete(prefix, length) {
  let body = prefix + chars(DIGITS, length - prefix.length - 1);
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}
function groupDigits(digits, sizes, sep) {
  const out = [];
  let at = 0;
  for (const size of sizes) {
    out.push(digits.slice(at, at + size));
    at += size;
  }
  return out.join(sep);
}
function card() {
  const kind = pick(['visa', 'visa', 'mc', 'mc2', 'amex', 'discover', 'jcb']);
  const sep = pick([' ', '-', '', ' ']);
  if (kind === 'amex') return groupDigits(luhnComplete(pick(['34', '37']), 15), [4, 6, 5], sep);
  const prefix = {
    visa: '4',
    mc: String(int(51, 55)),
    mc2: String(int(2221, 2720)),
    discover: '6011',
    jcb: String(int(3528, 3589)),
  }[kind];
  return groupDigits(luhnComplete(prefix, 16), [4, 4, 4, 4], sep);
}
function invalidCard() {
  const valid = luhnComplete('4', 16);
  const last = (Number(valid[15]) + int(1, 9)) % 10;
  return groupDigits(valid.slice(0, 15) + last, [4, 4, 4, 4], pick([' ', '-']));
}

const ibanCountries = {
  DE: [18, 'n'],
  GB: [18, 'b'],
  FR: [23, 'n'],
  NL: [14, 'b'],
  ES: [20, 'n'],
  IT: [23, 'i'],
  CH: [17, 'n'],
  BE: [12, 'n'],
  PL: [24, 'n'],
};
function ibanCheck(country, bban) {
  const rearranged = bban + country + '00';
  let remainder = 0;
  for (const ch of rearranged) {
    const v = /[A-Z]/.test(ch) ? ch.charCodeAt(0) - 55 : Number(ch);
    remainder = (remainder * (v > 9 ? 100 : 10) + v) % 97;
  }
  return String(98 - remainder).padStart(2, '0');
}
function iban(valid = true) {
  const country = pick(Object.keys(ibanCountries));
  const [length, shape] = ibanCountries[country];
  let bban;
  if (shape === 'b') bban = chars(UPPER, 4) + chars(DIGITS, length - 4);
  else if (shape === 'i') bban = pick(UPPER) + chars(DIGITS, length - 1);
  else bban = chars(DIGITS, length);
  let check = ibanCheck(country, bban);
  if (!valid) check = String((Number(check) + int(1, 50)) % 97).padStart(2, '0');
  const compact = country + check + bban;
  return random() < 0.6 ? compact.replace(/(.{4})/g, '$1 ').trim() : compact;
}

function ssn() {
  let area;
  do area = int(1, 899);
  while (area === 666);
  return `${String(area).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')}`;
}

function ipv4() {
  return pick([
    () => `${int(11, 223)}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`,
    () => `192.168.${int(0, 255)}.${int(1, 254)}`,
    () => `172.${int(16, 31)}.${int(0, 255)}.${int(1, 254)}`,
    () => `203.0.113.${int(1, 254)}`,
  ])();
}
function ipv6() {
  const g = () => chars(HEX, int(1, 4)).replace(/^0+(?=.)/, '');
  return pick([
    () => `2001:db8:${g()}:${g()}::${g()}`,
    () => `2a02:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}`,
    () => `fe80::${g()}:${g()}:${g()}:${g()}`,
    () => `2606:4700:${g()}::${g()}`,
    () => `2001:0db8:85a3:0000:0000:8a2e:0370:${chars(HEX, 4)}`,
  ])();
}

function apiKey() {
  return pick([
    () => `sk-proj-${token(B64URL, 64)}`,
    () => `sk-${token(ALNUM, 48)}`,
    () => `sk-ant-api03-${token(B64URL, 93)}AA`,
    () => `AKIA${token(UPPER + DIGITS, 16)}`,
    () => `ASIA${token(UPPER + DIGITS, 16)}`,
    () => `ghp_${token(ALNUM, 36)}`,
    () => `github_pat_${token(ALNUM, 22)}_${token(ALNUM, 59)}`,
    () => `xoxb-${chars(DIGITS, 12)}-${chars(DIGITS, 13)}-${token(ALNUM, 24)}`,
    () => `AIza${token(B64URL, 35)}`,
    () => `sk_live_${token(ALNUM, 24)}`,
    () => `rk_live_${token(ALNUM, 24)}`,
    () => `glpat-${token(B64URL, 20)}`,
    () => `hf_${token(ALNUM, 34)}`,
    () => `npm_${token(ALNUM, 36)}`,
    () => `SG.${token(B64URL, 22)}.${token(B64URL, 43)}`,
    () => `gsk_${token(ALNUM, 52)}`,
  ])();
}

const b64url = (s) => Buffer.from(s).toString('base64url');
function jwt() {
  const header = b64url(
    JSON.stringify(
      pick([
        { alg: 'HS256', typ: 'JWT' },
        { alg: 'RS256', kid: chars(HEX, 8) },
        { typ: 'JWT', alg: 'ES256' },
      ]),
    ),
  );
  const payload = b64url(
    JSON.stringify({
      sub: String(int(1000, 99999)),
      iss: pick(['https://auth.acme.io', 'accounts.google.com']),
      exp: int(1.7e9, 1.8e9),
      ...(random() < 0.5 ? { email: email() } : {}),
    }),
  );
  return `${header}.${payload}.${chars(B64URL, pick([43, 86, 342]))}`;
}
const opaqueToken = () => token(ALNUM, int(32, 48));
function password() {
  return pick([
    () =>
      `${pick(['Summer', 'Blue', 'Tiger', 'Rocket', 'Maple'])}${int(10, 99)}${pick(['!', '#', '$', '%'])}${pick(['x', 'Qz', 'pw'])}`,
    () => token(ALNUM + '!@#%^*', int(12, 20)),
    () => `${pick(LOWER)}${token(ALNUM, 10)}`,
    () => `hunter${int(2, 99)}`,
  ])();
}
const awsSecret = () => token(B64, 40);
function pem() {
  const lines = Array.from({ length: int(3, 6) }, () => chars(B64, 64));
  const kind = pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
  return { kind, body: lines };
}

// Non-entities that look like them ------------------------------------------------------------

const uuid = () =>
  `${chars(HEX, 8)}-${chars(HEX, 4)}-4${chars(HEX, 3)}-${pick(['8', '9', 'a', 'b'])}${chars(HEX, 3)}-${chars(HEX, 12)}`;
const sha = (n = 40) => chars(HEX, n);
const isoTime = () =>
  `2024-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${chars(DIGITS, 3)}Z`;
const orderNo = () =>
  pick([
    `ORD-2024-${chars(DIGITS, 6)}`,
    `#${chars(DIGITS, 6)}`,
    `INV-${chars(DIGITS, 6)}`,
    `PO ${chars(DIGITS, 10)}`,
    `A${chars(DIGITS, 9)}`,
  ]);
const version = () =>
  pick([
    `v${int(0, 9)}.${int(0, 30)}.${int(0, 20)}`,
    `${int(1, 5)}.${int(0, 20)}.${int(0, 9)}`,
    `Python 3.${int(8, 13)}.${int(0, 9)}`,
    `Chrome/${int(100, 130)}.0.${int(4000, 6999)}.${int(10, 200)}`,
    `node-v${int(18, 24)}.${int(0, 20)}.${int(0, 5)}`,
  ]);
const openaiId = () =>
  pick([
    `chatcmpl-${token(ALNUM, 29)}`,
    `call_${token(ALNUM, 24)}`,
    `toolu_01${token(ALNUM, 22)}`,
    `msg_01${token(ALNUM, 22)}`,
    `cus_${token(ALNUM, 14)}`,
    `pi_3${token(ALNUM, 23)}`,
    `req_${token(ALNUM, 24)}`,
    `file-${token(ALNUM, 24)}`,
    `resp_${token(ALNUM, 32)}`,
  ]);
const hexColor = () => `#${chars(HEX, pick([3, 6]))}`;
const isbn = () =>
  pick([
    '978-3-16-148410-0',
    'ISBN 0-306-40615-2',
    '9780306406157',
    '978-0-13-468599-1',
    'ISBN-13: 978-1-4028-9462-6',
  ]);

// Items ---------------------------------------------------------------------------------------

const items = [];
/** Parts are strings or [entity, value]; spans are computed while joining. */
function item(source, ...parts) {
  let text = '';
  const spans = [];
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
    } else {
      const [entity, value] = part;
      spans.push({ start: text.length, end: text.length + value.length, entity });
      text += value;
    }
  }
  items.push({ id: `${source}-${items.length}`, source, text, spans });
}
const E = (v = email()) => ['EMAIL', v];
const P = (v = phone()) => ['PHONE_NUMBER', v];
const C = (v = card()) => ['CREDIT_CARD', v];
const I = (v = iban()) => ['IBAN', v];
const S = (v = ssn()) => ['US_SSN', v];
const IP = (v = random() < 0.75 ? ipv4() : ipv6()) => ['IP_ADDRESS', v];
const K = (v = apiKey()) => ['API_KEY', v];
const J = (v = jwt()) => ['JWT', v];
const SEC = (v) => ['SECRET', v];
const capital = (word) => word[0].toUpperCase() + word.slice(1);
const name = () => `${capital(pick(firstNames))} ${capital(pick(lastNames))}`;
const repeat = (n, f) => {
  for (let i = 0; i < n; i++) f();
};

// User prompts.
repeat(8, () =>
  item(
    'prompt',
    `Hi, I'm ${name()}. Please update my account email to `,
    E(),
    ` and my phone to `,
    P(),
    `. Thanks!`,
  ),
);
repeat(8, () =>
  item(
    'prompt',
    `My card ending in ${chars(DIGITS, 4)} was declined. Can you try this one instead: `,
    C(),
    `, exp ${int(1, 12)}/${int(26, 31)}?`,
  ),
);
repeat(7, () =>
  item(
    'prompt',
    `Please send the refund of €${int(10, 900)},${chars(DIGITS, 2)} to my IBAN `,
    I(),
    ` (account holder ${name()}).`,
  ),
);
repeat(6, () =>
  item('prompt', `For the tax form: my SSN is `, S(), ` and you can reach me at `, E(), `.`),
);
repeat(5, () =>
  item('prompt', `Call me back on `, P(), ` or `, P(), ` after 6pm, order ${orderNo()}.`),
);
repeat(5, () => item('prompt', `I keep getting 401s. Here's my key, can you check it? `, K()));
repeat(5, () =>
  item(
    'prompt',
    `Bonjour, je m'appelle ${name()}. Mon numéro est le `,
    P(`06 ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)} ${chars(DIGITS, 2)}`),
    ` et mon e-mail `,
    E(),
    `.`,
  ),
);
repeat(5, () =>
  item(
    'prompt',
    `Hallo, bitte überweisen Sie den Betrag auf mein Konto `,
    I(),
    `. Rückfragen gerne unter `,
    P(`+49 ${int(30, 89)} ${chars(DIGITS, 7)}`),
    `.`,
  ),
);
repeat(4, () =>
  item(
    'prompt',
    `Mi correo es `,
    E(),
    ` y mi teléfono `,
    P(`+34 6${chars(DIGITS, 2)} ${chars(DIGITS, 3)} ${chars(DIGITS, 3)}`),
    `. ¿Pueden confirmar el pedido ${orderNo()}?`,
  ),
);
repeat(4, () =>
  item(
    'prompt',
    `The VPN drops every hour. My laptop is `,
    IP(),
    ` and the gateway is `,
    IP(),
    `. Started after upgrading to ${version()}.`,
  ),
);
repeat(4, () =>
  item(
    'prompt',
    `Can you debug this? curl -H "Authorization: Bearer `,
    SEC(opaqueToken()),
    `" https://api.acme.io/v2/orders?limit=${int(10, 100)}`,
  ),
);
repeat(4, () =>
  item(
    'prompt',
    `My social security number is `,
    S(`${ssn().replace(/-/g, '')}`),
    `, why does the form reject it?`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `SSN: `,
    S(),
    `\nDOB: 19${int(50, 99)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}\nPhone: `,
    P(),
    `\nEmail: `,
    E(),
  ),
);

// Tool call arguments (JSON text as models produce it).
repeat(8, () =>
  item(
    'tool_args',
    `{"customer_email": "`,
    E(),
    `", "phone": "`,
    P(),
    `", "reason": "address change"}`,
  ),
);
repeat(6, () =>
  item(
    'tool_args',
    `{"to":"`,
    E(),
    `","cc":["`,
    E(),
    `"],"subject":"Invoice ${orderNo()}","body":"Hi ${pick(firstNames)},\\nplease find attached invoice for ${orderNo()}.\\nBest"}`,
  ),
);
repeat(5, () =>
  item(
    'tool_args',
    `{"payment_method": {"type": "card", "number": "`,
    C(),
    `", "cvc": "${chars(DIGITS, 3)}"}, "amount": ${int(100, 99999)}, "currency": "usd"}`,
  ),
);
repeat(5, () =>
  item(
    'tool_args',
    `{"query": "SELECT * FROM users WHERE email = '`,
    E(),
    `' OR phone = '`,
    P(),
    `'", "limit": ${int(1, 50)}}`,
  ),
);
repeat(4, () =>
  item(
    'tool_args',
    `{"iban": "`,
    I(),
    `", "amount_eur": ${int(5, 5000)}.${chars(DIGITS, 2)}, "reference": "${orderNo()}"}`,
  ),
);
repeat(4, () =>
  item('tool_args', `{"command": "ssh deploy@`, IP(ipv4()), ` 'systemctl restart api'"}`),
);
repeat(4, () =>
  item(
    'tool_args',
    `{"url": "https://api.github.com/repos/acme/app/issues", "headers": {"Authorization": "token `,
    K(`ghp_${token(ALNUM, 36)}`),
    `"}}`,
  ),
);

// Tool results.
repeat(8, () =>
  item(
    'tool_result',
    `{"id": "${uuid()}", "name": "${name()}", "email": "`,
    E(),
    `", "phone": "`,
    P(),
    `", "created_at": "${isoTime()}", "plan": "pro", "orders": ${int(0, 40)}}`,
  ),
);
repeat(6, () =>
  item(
    'tool_result',
    `{"results":[{"customer_id":"${openaiId()}","email":"`,
    E(),
    `","last_login_ip":"`,
    IP(ipv4()),
    `","updated":"${isoTime()}"}],"next_cursor":"${sha(16)}"}`,
  ),
);
repeat(5, () =>
  item(
    'tool_result',
    `Found 1 match:\n  Name: ${name()}\n  Card: `,
    C(),
    `\n  Billing phone: `,
    P(),
    `\n  Customer since: ${int(2015, 2024)}`,
  ),
);
repeat(5, () =>
  item(
    'tool_result',
    `"{\\"status\\":\\"ok\\",\\"user\\":{\\"email\\":\\"`,
    E(),
    `\\",\\"ssn_last4\\":\\"${chars(DIGITS, 4)}\\"},\\"request_id\\":\\"${uuid()}\\"}"`,
  ),
);
repeat(5, () =>
  item(
    'tool_result',
    `commit ${sha()}\nAuthor: ${name()} <`,
    E(),
    `>\nDate:   Mon Jun ${int(1, 28)} ${int(10, 23)}:${int(10, 59)}:${int(10, 59)} 2024 +0200\n\n    fix: retry on ${int(429, 503)} (#${int(100, 9999)})`,
  ),
);
repeat(5, () =>
  item(
    'tool_result',
    `eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n        inet `,
    IP(ipv4()),
    `  netmask 255.255.255.0  broadcast `,
    IP(`${int(11, 192)}.${int(0, 255)}.${int(0, 255)}.255`),
    `\n        inet6 `,
    IP(ipv6()),
    `  prefixlen 64  scopeid 0x20<link>\n        ether 02:42:${chars(HEX, 2)}:${chars(HEX, 2)}:${chars(HEX, 2)}:${chars(HEX, 2)}  txqueuelen 0`,
  ),
);
repeat(4, () =>
  item(
    'tool_result',
    `Transfer created: {"id": "tr_${token(ALNUM, 24)}", "destination_iban": "`,
    I(),
    `", "status": "pending", "eta": "${isoTime()}"}`,
  ),
);
repeat(4, () =>
  item(
    'tool_result',
    `| id | email | phone |\n|----|-------|-------|\n| ${int(1, 999)} | `,
    E(),
    ` | `,
    P(),
    ` |\n| ${int(1, 999)} | `,
    E(),
    ` | `,
    P(),
    ` |`,
  ),
);
repeat(4, () => {
  const key = pem();
  item(
    'tool_result',
    `$ cat ~/.ssh/id_rsa\n`,
    [
      'PRIVATE_KEY',
      `-----BEGIN ${key.kind}-----\n${key.body.join('\n')}\n-----END ${key.kind}-----`,
    ],
    `\n$ `,
  );
});
repeat(3, () => {
  const key = pem();
  item(
    'tool_args',
    `{"path": "deploy/key.pem", "content": "`,
    [
      'PRIVATE_KEY',
      `-----BEGIN ${key.kind}-----\\n${key.body.join('\\n')}\\n-----END ${key.kind}-----`,
    ],
    `\\n"}`,
  );
});

// Config and environment dumps.
repeat(6, () =>
  item(
    'tool_result',
    `$ env | sort\nHOME=/home/app\nOPENAI_API_KEY=`,
    K(`sk-proj-${token(B64URL, 64)}`),
    `\nDATABASE_URL=postgres://app:`,
    SEC(password().replace(/[@:/]/g, 'x')),
    `@db.internal:5432/app\nNODE_ENV=production\nPORT=${int(3000, 9000)}`,
  ),
);
repeat(5, () =>
  item(
    'tool_result',
    `[default]\naws_access_key_id = `,
    K(`AKIA${token(UPPER + DIGITS, 16)}`),
    `\naws_secret_access_key = `,
    SEC(awsSecret()),
    `\nregion = ${pick(['us-east-1', 'eu-west-1', 'ap-south-1'])}`,
  ),
);
repeat(5, () =>
  item(
    'tool_args',
    `{"config": {"db": {"host": "db.internal", "user": "svc", "password": "`,
    SEC(password().replace(/["\\]/g, 'q')),
    `"}, "stripe_key": "`,
    K(`sk_live_${token(ALNUM, 24)}`),
    `", "timeout_ms": ${int(100, 9000)}}}`,
  ),
);
repeat(4, () =>
  item(
    'tool_result',
    `SLACK_BOT_TOKEN=`,
    K(`xoxb-${chars(DIGITS, 12)}-${chars(DIGITS, 13)}-${token(ALNUM, 24)}`),
    `\nSLACK_SIGNING_SECRET=`,
    SEC(chars(HEX, 32)),
    `\nANTHROPIC_API_KEY=`,
    K(`sk-ant-api03-${token(B64URL, 93)}AA`),
  ),
);
repeat(4, () =>
  item(
    'prompt',
    `Here is my docker-compose snippet:\n\nenvironment:\n  - POSTGRES_PASSWORD=`,
    SEC(password().replace(/\s/g, '')),
    `\n  - REDIS_URL=redis://default:`,
    SEC(token(ALNUM, 24)),
    `@cache:6379/0\n  - GOOGLE_API_KEY=`,
    K(`AIza${token(B64URL, 35)}`),
  ),
);
repeat(4, () =>
  item(
    'tool_result',
    `> GET /v1/me HTTP/1.1\n> Host: api.acme.io\n> Authorization: Bearer `,
    J(),
    `\n> User-Agent: curl/8.${int(0, 9)}.${int(0, 9)}\n< HTTP/1.1 200 OK`,
  ),
);
repeat(3, () => {
  const basic = Buffer.from(`${pick(firstNames)}:${password()}`).toString('base64');
  item(
    'log',
    `${isoTime()} DEBUG outgoing request headers={'Authorization': 'Basic `,
    SEC(basic),
    `', 'Accept': 'application/json'}`,
  );
});
repeat(3, () =>
  item(
    'log',
    `${isoTime()} INFO fetched https://storage.googleapis.com/bucket/report.pdf?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=`,
    SEC(chars(HEX, 128)),
    ` in ${int(10, 999)}ms`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `The key you gave me (`,
    K(`sk-${token(ALNUM, 48)}`),
    `) says quota exceeded, and the backup key `,
    K(`sk-proj-${token(B64URL, 64)}`),
    ` too.`,
  ),
);
repeat(3, () =>
  item(
    'tool_result',
    `{"access_token": "`,
    J(),
    `", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "`,
    SEC(token(ALNUM, 40)),
    `"}`,
  ),
);
repeat(3, () =>
  item(
    'tool_result',
    `Generated webhook secret: `,
    K(`whsec_${token(ALNUM, 32)}`),
    `. Store it securely; it is shown only once.`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `I rotated the credentials. New secret: `,
    SEC(token(B64, 40)),
    ` (old one revoked).`,
  ),
);
repeat(3, () =>
  item(
    'tool_result',
    `npm notice Publishing to https://registry.npmjs.org/ with token `,
    K(`npm_${token(ALNUM, 36)}`),
    `\nnpm notice === Tarball Details ===`,
  ),
);
repeat(3, () =>
  item(
    'tool_args',
    `{"model": "meta-llama/Llama-3.1-8B", "hf_token": "`,
    K(`hf_${token(ALNUM, 34)}`),
    `"}`,
  ),
);

// Logs.
repeat(8, () =>
  item(
    'log',
    `${isoTime()} INFO  http request method=POST path=/api/v1/login status=${pick([200, 401, 429])} ip=`,
    IP(ipv4()),
    ` user=`,
    E(),
    ` duration_ms=${int(1, 900)} trace_id=${sha(32)}`,
  ),
);
repeat(6, () =>
  item(
    'log',
    `[${isoTime()}] WARN  rate limit exceeded for client `,
    IP(),
    ` (${int(100, 999)} req/min), key_id=${uuid()}`,
  ),
);
repeat(5, () =>
  item(
    'log',
    IP(ipv4()),
    ` - - [01/Jun/2024:${int(10, 23)}:${int(10, 59)}:${int(10, 59)} +0000] "GET /index.html HTTP/1.1" 200 ${int(100, 99999)} "-" "Mozilla/5.0"`,
  ),
);
repeat(5, () =>
  item(
    'log',
    `${isoTime()} ERROR payment failed for card `,
    C(),
    ` (customer ${openaiId()}): card_declined`,
  ),
);
repeat(4, () =>
  item(
    'log',
    `level=info msg="sms sent" to=`,
    P(`+1${nanp()}${int(200, 999)}${chars(DIGITS, 4)}`),
    ` provider=twilio sid=SM${chars(HEX, 32)}`,
  ),
);
repeat(4, () => item('log', `${isoTime()} DEBUG connecting to [`, IP(ipv6()), `]:5432 as app`));

// Error messages.
repeat(5, () =>
  item(
    'error',
    `AuthenticationError: Error code: 401 - {'error': {'message': 'Incorrect API key provided: `,
    K(`sk-proj-${token(B64URL, 64)}`),
    `. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error'}}`,
  ),
);
repeat(4, () =>
  item(
    'error',
    `psycopg2.OperationalError: connection to server at "db.internal" (`,
    IP(ipv4()),
    `), port 5432 failed: FATAL:  password authentication failed for user "app"`,
  ),
);
repeat(4, () =>
  item(
    'error',
    `ValidationError: field "email": value "`,
    E(),
    `" is already registered (request ${uuid()})`,
  ),
);
repeat(3, () =>
  item(
    'error',
    `sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (2003, "Can't connect") [SQL: mysql+pymysql://root:`,
    SEC(password().replace(/[@:/]/g, 'x')),
    `@`,
    IP(ipv4()),
    `:3306/app]`,
  ),
);

// Reasoning.
repeat(5, () =>
  item(
    'reasoning',
    `The user wants to change the delivery address. The account on file is `,
    E(),
    `, and the phone `,
    P(),
    ` matches the one in the CRM record ${uuid()}, so identity is confirmed. I'll call update_address next.`,
  ),
);
repeat(4, () =>
  item(
    'reasoning',
    `The transfer failed because IBAN `,
    I(),
    ` belongs to a closed account. I should ask for another account rather than retrying ${int(2, 5)} times.`,
  ),
);

// Mixed: several entity types in one longer tool result.
repeat(6, () =>
  item(
    'tool_result',
    `Ticket #${int(10000, 99999)} (${isoTime()})\nFrom: ${name()} <`,
    E(),
    `>\nPhone: `,
    P(),
    `\nIP: `,
    IP(),
    `\n\nHello, my card `,
    C(),
    ` was charged twice for order ${orderNo()}. Please refund to IBAN `,
    I(),
    ` instead.\n-- \nSent from my iPhone`,
  ),
);

// Harder positives: formats and contexts a detector may well miss; kept to measure, not to pass.
repeat(3, () =>
  item(
    'prompt',
    `You can text me at tel:`,
    P(`+1${nanp()}${int(200, 999)}${chars(DIGITS, 4)}`),
    ` or call `,
    P(),
    ` ext. ${int(10, 999)}.`,
  ),
);
repeat(3, () =>
  item(
    'log',
    `${isoTime()} INFO firewall allowlist updated: `,
    IP(`203.0.113.0`),
    `/24, `,
    IP(`198.51.100.${int(1, 254)}`),
    `:${int(1024, 65535)} (by `,
    E(),
    `)`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `Sorry, my password is `,
    SEC(`${pick(['Tr0ub4dor', 'C0rrect', 'Pa55w0rd', 'Zebra7'])}&${int(1, 9)}${pick(['x', 'Q'])}`),
    `, I typed it right.`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `Here's the Mailgun key for the integration: `,
    SEC(`key-${chars(HEX, 32)}`),
    ` thanks`,
  ),
);
repeat(3, () =>
  item(
    'tool_result',
    `Datadog agent configured with api key `,
    SEC(chars(HEX, 32)),
    ` and site datadoghq.eu.`,
  ),
);
repeat(3, () =>
  item(
    'prompt',
    `EMAIL ME AT `,
    E(
      `${pick(firstNames).toUpperCase()}.${pick(lastNames).toUpperCase()}@${pick(domains).toUpperCase()}`,
    ),
    ` OR CALL `,
    P(),
    `!!`,
  ),
);
repeat(3, () => item('tool_result', `Contact: <a href="mailto:`, E(), `">support</a> · `, P(), ``));

// Hard negatives: must stay untouched ----------------------------------------------------------

const negatives = [
  () => `Created issue ${uuid()} in project ${uuid()} at ${isoTime()}.`,
  () => `Merged ${sha(7)} into main; HEAD is now ${sha()}.`,
  () => `docker pull ghcr.io/acme/api@sha256:${sha(64)}`,
  () =>
    `"integrity": "sha512-${Buffer.from(sha(64), 'hex').toString('base64')}${Buffer.from(sha(64), 'hex').toString('base64').slice(0, 2)}=="`,
  () =>
    `Your order ${orderNo()} has shipped. Tracking: 1Z${chars(UPPER + DIGITS, 16)}. Expected ${isoTime().slice(0, 10)}.`,
  () => `Upgraded from ${version()} to ${version()} (build ${int(10000, 99999)}).`,
  () =>
    `User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ${version().startsWith('Chrome') ? version() : 'Chrome/124.0.6367.91'} Safari/537.36`,
  () => `See ${isbn()} and ${isbn()} for background.`,
  () => `Test card (fails Luhn): ${invalidCard()} should be rejected by the form.`,
  () => `Colors: primary ${hexColor()}, accent ${hexColor()}, border ${hexColor()}.`,
  () =>
    `def get_user_account_information_by_id(user_id: int) -> dict:\n    password = os.environ["DB_PASSWORD"]\n    token = get_token()\n    return requests.get(f"{BASE_URL}/users/{user_id}", timeout=30).json()`,
  () =>
    `const apiKey = process.env.OPENAI_API_KEY;\nconst client = new OpenAI({ apiKey });\nstd::vector<int> v; a::b::c();`,
  () =>
    `{"type": "object", "properties": {"password": {"type": "string", "minLength": 12}, "api_key": {"type": "string"}}, "required": ["password"]}`,
  () =>
    `The base64 of the greeting is ${Buffer.from(pick(['Hello, world! This is a test message.', '{"user":"demo","role":"viewer","ttl":3600}', 'The quick brown fox jumps over the lazy dog'])).toString('base64')}.`,
  () =>
    `Server listening on http://localhost:${int(3000, 9000)} and 127.0.0.1:${int(3000, 9000)}; bind 0.0.0.0:4318, health on [::1]:4317.`,
  () =>
    `Set OPENAI_API_KEY=sk-... (or YOUR_API_KEY) in .env; see the docs. Example: Authorization: Bearer <token> or Bearer $TOKEN.`,
  () =>
    `Key on file: sk-proj-****************${chars(ALNUM, 4)}; card **** **** **** ${chars(DIGITS, 4)}; SSN ***-**-${chars(DIGITS, 4)}.`,
  () => `Response ${openaiId()} used tool call ${openaiId()} (message ${openaiId()}).`,
  () =>
    `Role arn:aws:iam::${chars(DIGITS, 12)}:role/${pick(['Admin', 'Deploy'])} on instance i-0${chars(HEX, 16)} from ami-0${chars(HEX, 16)}.`,
  () =>
    `Pod api-${chars(HEX, 10)}-${chars(LOWER + DIGITS, 5)} restarted ${int(2, 9)} times; node ip-10-0-${int(0, 255)}-${int(0, 255)}.ec2.internal.`,
  () =>
    `Total: $${int(1, 9)},${chars(DIGITS, 3)}.${chars(DIGITS, 2)} (${int(1, 99)}.${int(0, 9)}% up); coordinates ${int(10, 60)}.${chars(DIGITS, 4)}, -${int(10, 130)}.${chars(DIGITS, 4)}.`,
  () =>
    `Ship to ZIP ${chars(DIGITS, 5)}-${chars(DIGITS, 4)}; rooms ${int(100, 199)}-${int(200, 299)}; resolution 1920x1080; HTTP/1.1 200 OK; years 2019-2024.`,
  () =>
    `Ping @${pick(firstNames)} about the release; install with npm i @acme/sdk@${int(1, 9)}.${int(0, 9)}.${int(0, 9)} and clone git@github.com:acme/app.git. Logo: logo@2x.png.`,
  () =>
    `Invalid addresses 999.${int(0, 255)}.${int(0, 255)}.${int(1, 254)} and 1.2.3 were skipped.`,
  () =>
    `Rejected SSNs: 000-${chars(DIGITS, 2)}-${chars(DIGITS, 4)}, 666-${int(10, 99)}-${int(1000, 9999)}, 9${int(10, 99)}-${int(10, 99)}-${int(1000, 9999)}.`,
  () => `Checksum failed for ${iban(false)}.`,
  () => `JWT header alone: eyJhbGciOiJIUzI1NiJ9 is not a token.`,
  () =>
    `Traceback (most recent call last):\n  File "/usr/local/lib/python3.${int(8, 12)}/site-packages/openai/_base_client.py", line ${int(100, 1999)}, in _request\n    raise self._make_status_error_from_response(err.response) from None`,
  () =>
    `Constants: MAX_RETRY_ATTEMPTS_BEFORE_BACKOFF=${int(2, 9)}, com.example.service.v2.OrderProcessor, getUserAccountInformationById2.`,
  () =>
    `Docs: https://docs.python.org/3/library/asyncio-task.html and https://example.com/api/v2/users?page=${int(1, 9)}&limit=50&sort=created_at.`,
  () =>
    `Run at ${isoTime()} (epoch ${int(1700000000, 1799999999)}${chars(DIGITS, 3)}), took ${int(1, 59)}:${String(int(0, 59)).padStart(2, '0')}, dated ${String(int(1, 28)).padStart(2, '0')}/${String(int(1, 12)).padStart(2, '0')}/2024.`,
  () => `![chart](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAA${token(B64, 80)})`,
  () => `Routing number 0${chars(DIGITS, 8)}, port 5432, pid ${int(1000, 99999)}, exit code 137.`,
  () =>
    `Slugs: quarterly-revenue-report-2024-final, user_profile_settings_page_v2, src/components/Button/index.tsx.`,
  () =>
    `AWS example key AKIAXXXXXXXXXXXXXXXX and sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx are placeholders.`,
  () =>
    `Files: C:\\Users\\Public\\Documents\\report_2024.xlsx, /var/log/nginx/access.log.${int(1, 9)}.gz`,
  () =>
    `MAC 00:1a:2b:${chars(HEX, 2)}:${chars(HEX, 2)}:${chars(HEX, 2)}, meeting 10:30:00-11:15:00, ratio 16:9.`,
  () =>
    `Model gpt-4o-2024-08-06 answered in ${int(100, 9999)} ms with ${int(10, 4000)} tokens (max_tokens=${int(256, 4096)}).`,
  () =>
    `The fix is in PR #${int(100, 9999)} (${sha(7)}), released in ${version()}, CVE-2024-${int(10000, 49999)}.`,
];
for (const negative of negatives) repeat(4, () => item('negative', negative()));

// Hand-written items: messier text, written after the detectors and not tuned against, so
// that their score (reported apart as source "handwritten") says how the detectors generalise.
// Entities are marked ⟦ENTITY|value⟧.
const handwritten = [
  `Hey, it's Marta — reach me on ⟦EMAIL|marta.k@fastmail.fm⟧ or WhatsApp ⟦PHONE_NUMBER|+351 912 345 678⟧.`,
  `Page ops at ⟦EMAIL|oncall@infra.acme-corp.net⟧ if ⟦IP_ADDRESS|10.12.0.5⟧ stops answering health checks.`,
  "Here's what I ran:\n```\nexport SLACK_TOKEN=⟦API_KEY|xoxp-2211334455-9988776655-1122334455667-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6⟧\npython notify.py\n```",
  `ConnectionError: [Errno 113] No route to host: ('⟦IP_ADDRESS|fe80::1ff:fe23:4567:890a⟧%eth0', 8443)`,
  'apiVersion: v1\nkind: Secret\ndata:\n  password: ⟦SECRET|cGFzc3dvcmQxMjM=⟧\n  username: YWRtaW4=',
  `//registry.npmjs.org/:_authToken=⟦API_KEY|npm_Q8fK2LmN4pR6sT8vX0zB3dF5hJ7kM9nP1rS3⟧`,
  `git clone https://x-access-token:⟦API_KEY|ghs_16C7e42F292c6912E7710c838347Ae178B4a⟧@github.com/acme/infra.git`,
  `my visa is ⟦CREDIT_CARD|4539578763621486⟧ exp 12/27, cvv on the back`,
  `Amex: ⟦CREDIT_CARD|3782 822463 10005⟧ (corporate card, ${'billing'} dept)`,
  `If it's urgent call ⟦PHONE_NUMBER|555-0100⟧ from the office line.`,
  `Sydney office: ⟦PHONE_NUMBER|(02) 9876 5432⟧, Berlin: ⟦PHONE_NUMBER|030/12345678⟧.`,
  `please pay into ⟦IBAN|gb82 west 1234 5698 7654 32⟧ by friday`,
  `SSN ⟦US_SSN|536 22 1234⟧ and DOB 03/14/1988`,
  `curl http://⟦IP_ADDRESS|34.120.5.17⟧:8080/health returned 503`,
  `client address ⟦IP_ADDRESS|::ffff:192.0.2.128⟧ rejected by policy`,
  `The secret key is ⟦SECRET|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY⟧ and the id ⟦API_KEY|AKIAIOSFODNN7EXAMPLE⟧.`,
  `anthropic.AuthenticationError: invalid x-api-key ⟦API_KEY|sk-ant-api03-J8kT2mQ9vX4nR7pL1sW6yB3dF0hG5jK8zC2xV9bN4mQ7tR1eY6uI3oP0aS5dF8gH2jK4lZ7xC9vB1nM3qW5eR7tY9uI0oP2aS4dF-6gH8jKAA⟧`,
  `Cookie: session=⟦JWT|eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1aWQiOjQyLCJyb2xlIjoiYWRtaW4ifQ.4pcPyMD09olPSyXnrXCjTwXyr4BsezdI1AVTmud2fU4⟧; theme=dark`,
  `Reply-To: "Dr. Ana Lima" <⟦EMAIL|ana.lima@hospital-sao-lucas.com.br⟧>`,
  `Meu CPF e telefone: ⟦PHONE_NUMBER|+55 11 98765-4321⟧`,
  `Call +1 800 FLOWERS? No — the number on file is ⟦PHONE_NUMBER|+1 (646) 555-3890⟧.`,
  `db_password = "⟦SECRET|x7#Kp2!qLm9$⟧"  # TODO move to vault`,
  `Use header "X-API-Key: ⟦SECRET|a4f8c2e9b1d7f3a6c8e2b9d4f1a7c3e8⟧" for the legacy endpoint.`,
  `Invoice paid with card ending 4242. Contact billing@acme.io.`.replace(
    'billing@acme.io',
    '⟦EMAIL|billing@acme.io⟧',
  ),
  `Webhook from ⟦IP_ADDRESS|2a01:4f8:c2c:1234::1⟧ signed with ⟦API_KEY|whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLSEw⟧`,
  `OTP sent to ⟦PHONE_NUMBER|+44 7911 123456⟧; it expires in 5 minutes.`,
  `Contact: ⟦EMAIL|Jean-Luc.Picard@starfleet.example.org⟧, ⟦PHONE_NUMBER|+33 1 42 68 53 00⟧`,
  `ssh -i key.pem ubuntu@⟦IP_ADDRESS|18.222.41.203⟧ "tail -f /var/log/app.log"`,
  `Stripe: charge failed for ⟦EMAIL|lee.min-ho@naver.com⟧, key ⟦API_KEY|rk_live_51HqLyjWDarjtT1zdp7dcXaYz⟧`,
  `${'HF'}_TOKEN set? echo $HF_TOKEN → ⟦API_KEY|hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789⟧`,
  `Build 8f14e45fceea167a5a36dedd4bea2543 passed; deps: react ^18.2.0 || >=19.0.0-beta.1.`,
  `Dial 911 in an emergency, 112 in the EU; room 101, floor 3, building B-12.`,
  `Area: x = 3.14159 * r^2; logged at 2024/06/01 12:00:00 +0000 by cron.`,
  `Open https://docs.google.com/document/d/1aBcD3fGhIjK_lMnOpQrStUvWxYz0123456789/edit and https://www.youtube.com/watch?v=dQw4w9WgXcQ.`,
  `Organisation org-AbCdEf1234567890GhIjKl, project proj_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2.`,
  `Frontend uses the publishable key pk_live_51HqLyjWDarjtT1zdp7dcXaYzPk3Q6wL in checkout.js.`,
  `Error 0x80070005 at offset 0x7ffd5e8c; errno=13, pid 48213, uid 1000.`,
  `Timings: p50 12.3ms, p99 187.0ms over 1,204,331 requests from 2024-06-01 to 2024-06-30.`,
  `Items: SKU-4417-22-B, SKU-9921-10-A; EAN 4006381333931; UPC 036000291452.`,
  `version: '3.8'\nservices:\n  web:\n    image: nginx:1.25.3-alpine\n    ports: ["8080:80"]`,
];
for (const line of handwritten) {
  const parts = [];
  let rest = line;
  for (let at = rest.indexOf('⟦'); at !== -1; at = rest.indexOf('⟦')) {
    const close = rest.indexOf('⟧', at);
    const [entity, value] = rest.slice(at + 1, close).split('|');
    parts.push(rest.slice(0, at), [entity, value]);
    rest = rest.slice(close + 1);
  }
  item('handwritten', ...parts, rest);
}

for (const entry of items) process.stdout.write(`${JSON.stringify(entry)}\n`);
