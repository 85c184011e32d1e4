/**
 * A document pipeline: invoice field extraction, done by two teams with their own paraphrased
 * prompts (and one schema), and contract summaries of very different lengths.
 */
import type { Random } from './random.js';
import type { Exchange, TaskSpec } from './spec.js';
import { cities, companies, date, money, person, products } from './words.js';

const invoiceSchema = {
  type: 'object',
  properties: {
    vendor: { type: 'string' },
    invoice_number: { type: 'string' },
    issue_date: { type: 'string' },
    due_date: { type: 'string' },
    currency: { type: 'string' },
    total: { type: 'number' },
    lines: { type: 'array', items: { type: 'object' } },
  },
  required: ['vendor', 'invoice_number', 'total'],
};

const units = ['pcs', 'h', 'kg', 'box', 'licence', 'month'];
const services = [
  'consulting hours',
  'freight charge',
  'installation',
  'support plan',
  'cloud storage',
  'maintenance visit',
  'packaging',
  'design work',
  'translation',
  'cleaning service',
];

/** OCR text of an invoice with 1 to 40 lines, in one of several layouts. */
function invoice(random: Random): Exchange {
  const vendor = random.pick(companies);
  const number = `${random.pick(['INV', 'F', 'RE', 'No.'])}${random.pick(['-', ' ', ''])}${String(random.int(100, 99999))}`;
  const currency = random.pick(['EUR', 'USD', 'GBP', 'CHF']);
  const lineCount = random.chance(0.15) ? random.int(12, 40) : random.int(1, 8);
  let total = 0;
  const lines = Array.from({ length: lineCount }, (_, i) => {
    const quantity = random.int(1, 20);
    const price = Number(money(random, 2, 500));
    total += quantity * price;
    const item = random.chance(0.5) ? random.pick(products) : random.pick(services);
    return random.chance(0.5)
      ? `${String(i + 1)}  ${item}  ${String(quantity)} ${random.pick(units)}  ${price.toFixed(2)}  ${(quantity * price).toFixed(2)}`
      : `${item} x${String(quantity)} @ ${price.toFixed(2)} = ${(quantity * price).toFixed(2)}`;
  });
  const header = random.pick([
    `${vendor.toUpperCase()}\n${String(random.int(1, 300))} Market Street, ${random.pick(cities)}\nINVOICE ${number}`,
    `Invoice number: ${number}\nFrom: ${vendor}\nBill to: ${person(random)}, ${random.pick(companies)}`,
    `${vendor} | Tax invoice | ${number}`,
  ]);
  const issued = date(random);
  const text = [
    header,
    `Date: ${issued}${random.chance(0.7) ? `   Due: ${date(random)}` : ''}`,
    random.chance(0.5) ? 'Qty  Description  Unit price  Amount' : '',
    ...lines,
    `Subtotal ${total.toFixed(2)}`,
    random.chance(0.6) ? `VAT ${String(random.pick([0, 7, 19, 20, 21]))}%` : '',
    `TOTAL ${currency} ${(total * 1.2).toFixed(2)}`,
    random.chance(0.4)
      ? `Payment to IBAN DE${String(random.int(10, 99))} ${String(random.int(1000, 9999))} ${String(random.int(1000, 9999))} within 30 days.`
      : '',
  ]
    .filter((line) => line !== '')
    .join('\n');
  return {
    user: random.chance(0.3) ? `Here is the scanned document:\n${text}` : text,
    output: JSON.stringify({ vendor, invoice_number: number, issue_date: issued, currency, total }),
  };
}

const clauses: readonly ((r: Random, a: string, b: string) => string)[] = [
  (r, a, b) =>
    `${a} shall deliver the services described in Schedule ${String(r.int(1, 4))} to ${b} with reasonable skill and care.`,
  (r, a, b) =>
    `${b} shall pay each undisputed invoice within ${String(r.pick([14, 30, 45, 60]))} days of receipt. Late payments accrue interest at ${String(r.int(1, 8))}% per annum.`,
  () =>
    'Either party may terminate this Agreement for convenience by giving ninety (90) days written notice to the other party.',
  () =>
    'Each party shall keep confidential all information disclosed by the other party and use it only to perform this Agreement.',
  (r) =>
    `The total liability of either party under this Agreement shall not exceed ${r.pick(['the fees paid in the preceding twelve months', 'EUR 1,000,000', 'twice the annual fees'])}.`,
  () =>
    'All intellectual property created by the Supplier in performing the Services shall vest in the Customer upon payment in full.',
  (r) =>
    `This Agreement is governed by the laws of ${r.pick(['England and Wales', 'the State of New York', 'Germany', 'the Netherlands', 'Ontario'])}, and the courts there have exclusive jurisdiction.`,
  () =>
    'The Supplier shall process personal data only on documented instructions of the Customer and shall implement appropriate technical and organisational measures.',
  () =>
    'Neither party shall be liable for failure to perform caused by events beyond its reasonable control, including flood, fire, strikes or pandemics.',
  (r, a) =>
    `${a} shall maintain insurance cover of at least ${money(r, 1, 10)} million for professional indemnity throughout the Term.`,
  (r) =>
    `This Agreement starts on ${date(r)} and continues for an initial term of ${String(r.int(1, 5))} years, renewing automatically for successive one-year terms.`,
  () =>
    'Any amendment to this Agreement must be in writing and signed by authorised representatives of both parties.',
  (r, a, b) =>
    `${a} may not subcontract any of its obligations without the prior written consent of ${b}, not to be unreasonably withheld.`,
  () =>
    'Service levels are set out in the Service Level Agreement; service credits are the Customer’s sole remedy for failure to meet them.',
];

/** A contract of 2 to 30 clauses: from a short amendment to a full master agreement. */
function contract(random: Random): Exchange {
  const [a, b] = random.sample(companies, 2) as [string, string];
  const count = random.chance(0.25) ? random.int(14, 30) : random.int(2, 8);
  const body = Array.from(
    { length: count },
    (_, i) => `${String(i + 1)}. ${random.pick(clauses)(random, a, b)}`,
  ).join('\n');
  const title = random.pick([
    'MASTER SERVICES AGREEMENT',
    'Amendment No. 2',
    'Data Processing Agreement',
    'Supply Agreement',
    'Consulting Agreement',
  ]);
  const ask = random.pick([
    'Summarise this contract for a non-lawyer.',
    'Give me a short summary of the key obligations and risks.',
    'What does this agreement say? Keep it brief.',
    '',
  ]);
  return {
    user: [ask, `${title}\nbetween ${a} and ${b}, dated ${date(random)}\n${body}`]
      .filter((s) => s !== '')
      .join('\n\n'),
    output: `This ${title.toLowerCase()} between ${a} and ${b} sets out ${String(count)} clauses; the main points are payment terms, termination and liability.`,
  };
}

export const documentTasks: readonly TaskSpec[] = [
  {
    task: 'docs.invoice-extract',
    archetype: 'document-pipeline',
    weight: 8,
    exchange: invoice,
    deployments: [
      {
        service: 'doc-pipeline',
        agent: 'invoice-parser',
        workflow: 'invoice-ingest',
        step: 'extract',
        model: 'gpt-4o',
        share: 2,
        format: { schemaName: 'invoice', schema: invoiceSchema },
        system: () =>
          'Extract the invoice fields from the OCR text below. Return vendor, invoice number, issue and due dates, currency, total and the line items. Use null for anything you cannot read.',
      },
      {
        service: 'ap-automation',
        agent: 'ap-bot',
        step: 'parse',
        model: 'claude-sonnet-4',
        format: { schemaName: 'invoice', schema: invoiceSchema },
        system: (r) =>
          `You are an accounts-payable clerk. From the scanned invoice, pull out who issued it, its number, dates, currency, the grand total and every line. Missing values are null. Batch ${String(r.int(1, 999))}.`,
      },
    ],
  },
  {
    task: 'docs.contract-summary',
    archetype: 'document-pipeline',
    weight: 2,
    exchange: contract,
    deployments: [
      {
        service: 'legal-desk',
        agent: 'legal-assistant',
        step: 'summarize',
        model: 'claude-sonnet-4',
        format: 'text',
        system: (r) =>
          `You are a legal assistant. Summarise contracts in plain language: parties, term, payment, termination, liability and anything unusual. Matter "${person(r)}".`,
      },
    ],
  },
];
