import { describe, expect, it } from 'vitest';
import { entropyThreshold, looksSecret } from './detectors.js';
import { createRedactor } from './redactor.js';

const redactor = createRedactor({ secret: new Uint8Array(32).fill(1) });

/** What the redactor finds, as [entity, value] pairs in text order. */
function found(text: string): [string, string][] {
  return redactor.detect(text).map((e) => [e.entity, text.slice(e.start, e.end)]);
}

describe('EMAIL', () => {
  it('finds addresses, also in escaped JSON and angle brackets', () => {
    expect(found('mail Jane.Doe+billing@mail.acme-corp.co.uk now')).toEqual([
      ['EMAIL', 'Jane.Doe+billing@mail.acme-corp.co.uk'],
    ]);
    expect(found('{"body":"hi\\njane@acme.io\\n"} <li@x.dev>')).toEqual([
      ['EMAIL', 'jane@acme.io'],
      ['EMAIL', 'li@x.dev'],
    ]);
  });

  it('leaves SSH remotes, retina file names, packages and mentions alone', () => {
    expect(found('git@github.com:acme/app.git icon@2x.png @acme/sdk@1.2.3 @jane')).toEqual([]);
  });
});

describe('PHONE_NUMBER', () => {
  it.each([
    '+1 (415) 555-0132',
    '(415) 555-0132',
    '415.555.0132',
    '1-800-555-0199',
    '+14155550132',
    '+44 20 7946 0958',
    '020 7946 0958',
    '07700 900123',
    '+49 (0)89 1234567',
    '01 42 68 53 00',
    '+81 3-1234-5678',
  ])('finds %s', (phone) => {
    expect(found(`call ${phone} today`)).toEqual([['PHONE_NUMBER', phone]]);
  });

  it.each([
    '2024-05-01 10:30',
    'ZIP 94105-1234',
    'rooms 100-200',
    'v1.2.3',
    '01.02.2024 10',
    '123-456-7890',
    '+0200',
  ])('leaves %s alone', (text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('CREDIT_CARD', () => {
  it('finds Luhn-valid numbers of known networks, however grouped', () => {
    expect(found('card 4111 1111 1111 1111, 4111-1111-1111-1111 or 4111111111111111')).toEqual([
      ['CREDIT_CARD', '4111 1111 1111 1111'],
      ['CREDIT_CARD', '4111-1111-1111-1111'],
      ['CREDIT_CARD', '4111111111111111'],
    ]);
    expect(found('amex 3782 822463 10005.')).toEqual([['CREDIT_CARD', '3782 822463 10005']]);
  });

  it('finds cards next to other numbers and to each other', () => {
    expect(found('qty 2 4111 1111 1111 1111 total')).toEqual([
      ['CREDIT_CARD', '4111 1111 1111 1111'],
    ]);
    expect(found('4111 1111 1111 1111 5500 0000 0000 0004')).toEqual([
      ['CREDIT_CARD', '4111 1111 1111 1111'],
      ['CREDIT_CARD', '5500 0000 0000 0004'],
    ]);
  });

  it('leaves failed checksums, ISBNs, epochs and mixed separators alone', () => {
    expect(found('4111 1111 1111 1112 9780306406157 1717245045123 4111 1111-1111 1111')).toEqual(
      [],
    );
  });
});

describe('IBAN', () => {
  it('finds mod-97-valid IBANs with or without spaces', () => {
    expect(found('to DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432.')).toEqual([
      ['IBAN', 'DE89 3704 0044 0532 0130 00'],
      ['IBAN', 'GB82WEST12345698765432'],
    ]);
  });

  it('leaves a wrong check digit alone', () => {
    expect(found('DE88 3704 0044 0532 0130 00')).toEqual([]);
  });
});

describe('US_SSN', () => {
  it('finds dashed numbers, and bare ones named as such', () => {
    expect(found('SSN 078-05-1121; social security number: 536221234')).toEqual([
      ['US_SSN', '078-05-1121'],
      ['US_SSN', '536221234'],
    ]);
  });

  it('leaves numbers the SSA never issues alone', () => {
    expect(found('000-12-3456 666-12-3456 912-34-5678 123-45-67890')).toEqual([]);
  });
});

describe('IP_ADDRESS', () => {
  it('finds IPv4 and IPv6 host addresses', () => {
    expect(found('from 203.0.113.7:443 via [2001:db8::8a2e:370:7334]:80 and fe80::1.')).toEqual([
      ['IP_ADDRESS', '203.0.113.7'],
      ['IP_ADDRESS', '2001:db8::8a2e:370:7334'],
      ['IP_ADDRESS', 'fe80::1'],
    ]);
  });

  it('leaves localhost, versions, times, MAC addresses and C++ alone', () => {
    expect(
      found('127.0.0.1 ::1 0.0.0.0 v1.2.3.4 1.2.3.4.5 12:30:45 00:1a:2b:3c:4d:5e std::vector a::b'),
    ).toEqual([]);
  });
});

describe('API_KEY', () => {
  it.each([
    'sk-proj-Ab3dEf9hIjK2mNoPqR5tUvWxYz012345',
    'sk-ant-api03-Ab3dEf9hIjK2mNoPqR5tUvWxYz012345-AA',
    'AKIAIOSFODNN7EXAMPLE',
    'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
    'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ',
    'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW',
    'sk_live_51HqLyjWDarjtT1zdp7dcXaYz',
    'hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
  ])('finds %s', (key) => {
    expect(found(`key=${key}`)).toEqual([['API_KEY', key]]);
  });

  it('finds keys after JSON escapes, and not inside words or placeholders', () => {
    expect(found('a\\nAKIAIOSFODNN7EXAMPLE')).toEqual([['API_KEY', 'AKIAIOSFODNN7EXAMPLE']]);
    expect(
      found('risk-assessment-of-2024-reports AKIAXXXXXXXXXXXXXXXX sk-your-key-here-please'),
    ).toEqual([]);
  });
});

describe('JWT', () => {
  it('finds tokens whose header names an algorithm', () => {
    const token =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    expect(found(`Authorization: Bearer ${token}`)).toEqual([['JWT', token]]);
    expect(found('eyJhbGciOiJIUzI1NiJ9 alone')).toEqual([]);
  });
});

describe('PRIVATE_KEY', () => {
  it('finds PEM blocks, and a truncated one up to where its body ends', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAbCd==\n-----END RSA PRIVATE KEY-----';
    expect(found(`key:\n${key}\nbye`)).toEqual([['PRIVATE_KEY', key]]);
    expect(found('{"pem":"-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\nAbC"}')).toEqual([
      ['PRIVATE_KEY', '-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\nAbC'],
    ]);
  });
});

describe('SECRET', () => {
  it('finds credentials by their context', () => {
    expect(
      found(
        'DB_PASSWORD=hunter22 {"client_secret": "s3cr3t-Value-99"} X-API-Key: a4f8c2e9b1d7f3a6 ' +
          'Authorization: Bearer abcDEF123456ghiJKL my password is Tr0ub4dor&3',
      ),
    ).toEqual([
      ['SECRET', 'hunter22'],
      ['SECRET', 's3cr3t-Value-99'],
      ['SECRET', 'a4f8c2e9b1d7f3a6'],
      ['SECRET', 'abcDEF123456ghiJKL'],
      ['SECRET', 'Tr0ub4dor&3'],
    ]);
    expect(found('postgres://app:S3cr3tPa55@db:5432/app?x=1&sig=abc123def456ghi')).toEqual([
      ['SECRET', 'S3cr3tPa55'],
      ['SECRET', 'abc123def456ghi'],
    ]);
    const basic = Buffer.from('jane:pa55word').toString('base64');
    expect(found(`Authorization: Basic ${basic}`)).toEqual([['SECRET', basic]]);
  });

  it('leaves code, schemas and placeholders alone', () => {
    expect(
      found(
        'password = os.environ["DB_PASSWORD"]\ntoken = get_token()\n' +
          '{"password": {"type": "string"}, "api_key": "string"}\n' +
          'Bearer <token> Bearer $TOKEN password: ******** api_key=YOUR_API_KEY ' +
          'Basic configuration, password is required, max_tokens=1024',
      ),
    ).toEqual([]);
  });

  it('finds random-looking tokens without context', () => {
    expect(found('the new one: wJalrXUtnFEMI/K7MDENG/bPxRfiCY9ht4KEY2 ok')).toEqual([
      ['SECRET', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCY9ht4KEY2'],
    ]);
  });

  it('leaves ids, hashes, identifiers, paths and encoded text alone', () => {
    expect(
      found(
        '123e4567-e89b-12d3-a456-426614174000 9fceb02d0ae598e95dc970b74767f19372d61af8 ' +
          'chatcmpl-9pQ7AbCdEf123456GhIjKl toolu_01A09q90qw90lq917835lq9 api-536588ed03-16eke ' +
          'sha512-/jOb8JuQ0p9yLmzJzxkGfI3MlOV+rleWYIMetSSmjYo= user_profile_settings_page_v2 ' +
          '/usr/local/lib/python3 SGVsbG8sIHdvcmxkISBUaGlzIGlzIGEgdGVzdC4= ' +
          'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAkx7A337ylyIRTkgpy',
      ),
    ).toEqual([]);
  });
});

describe('looksSecret', () => {
  it('needs length, digits, letters and entropy above the threshold for its length', () => {
    expect(looksSecret('aB3dE5fG7hI9jK1lM3nO')).toBe(true);
    expect(looksSecret('aB3dE5fG7hI9jK1lM3n')).toBe(false);
    expect(looksSecret('aaaaaaaaaaaaaaaaaa11')).toBe(false);
    expect(entropyThreshold(20)).toBeLessThan(entropyThreshold(40));
  });
});

describe('overlaps', () => {
  it('lets the more specific detector win where findings overlap', () => {
    // A provider key after a password keyword is an API key; a card number is not a phone.
    expect(found('password=sk-proj-Ab3dEf9hIjK2mNoPqR5tUvWxYz012345 +4111111111111111')).toEqual([
      ['API_KEY', 'sk-proj-Ab3dEf9hIjK2mNoPqR5tUvWxYz012345'],
      ['CREDIT_CARD', '4111111111111111'],
    ]);
    // An address in a URL's userinfo position is the password's, not an e-mail.
    expect(found('https://bot:Xy7pass99@mail.acme.io/inbox')).toEqual([['SECRET', 'Xy7pass99']]);
  });
});
