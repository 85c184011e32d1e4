/**
 * A support desk run by agents: a router that files each customer ticket, and specialists that
 * answer billing and delivery questions with tools. The router runs two paraphrased prompts side
 * by side from day 6 (an A/B test); the billing specialist's prompt names the brand it serves,
 * so every brand has its own template (a signature each) for one job.
 */
import type { Random } from './random.js';
import type { Exchange, TaskSpec } from './spec.js';
import { companies, date, money, orderId, person, products, sentences } from './words.js';

type Maker = (random: Random) => string;

const greetings = ['Hi,', 'Hello,', 'Hey there,', 'Dear support team,', 'Good morning,', ''];
const signoffs = [
  'Thanks.',
  'Regards,',
  'Thank you in advance!',
  'Please help asap.',
  'Cheers',
  '',
];

const billing: readonly Maker[] = [
  (r) => `I was charged twice for ${orderId(r)}, ${money(r, 9, 400)} each time.`,
  (r) => `Can I get a refund for the ${r.pick(products)} I returned on ${date(r)}?`,
  () => 'My invoice shows the wrong VAT number, please correct it.',
  (r) => `Why did my subscription renew at ${money(r, 10, 90)} when the plan says less?`,
  () => 'I need a copy of last month’s invoice for my accountant.',
  () => 'The promo code was not applied to my payment.',
  (r) => `There is an unknown charge of ${money(r, 1, 60)} on my card statement.`,
  () => 'Please change the billing address on my account to my office.',
  () => 'The refund you promised two weeks ago still has not arrived.',
  () => 'How do I switch from monthly to yearly billing?',
];

const account: readonly Maker[] = [
  () => 'I cannot log in, the password reset email never arrives.',
  () => 'My two-factor codes stopped working after I changed phones.',
  () => 'Please delete my account and all my personal data.',
  () => 'Someone changed the email on my account without my permission.',
  () => 'The app logs me out every few minutes.',
  (r) => `I want to add ${String(r.int(2, 9))} colleagues to our team workspace.`,
];

const delivery: readonly Maker[] = [
  (r) => `My order ${orderId(r)} was due on ${date(r)} and still has not arrived.`,
  (r) => `The ${r.pick(products)} arrived damaged, the box was crushed.`,
  () => 'The tracking page has not updated for five days.',
  () => 'I received someone else’s parcel instead of mine.',
  () => 'Can you change the delivery address before it ships?',
  (r) => `Only ${String(r.int(1, 3))} of the items in my order were in the box.`,
];

const product: readonly Maker[] = [
  (r) => `The ${r.pick(products)} stops working after a few minutes.`,
  (r) => `How do I reset the ${r.pick(products)} to factory settings?`,
  (r) => `Is the ${r.pick(products)} compatible with the older model?`,
  () => 'The battery drains overnight even when it is switched off.',
  () => 'Your latest update removed the dark mode, please bring it back.',
];

const topics = { billing, account, delivery, product } as const;
type Topic = keyof typeof topics;

/** A customer's ticket: a greeting, one to five sentences on one topic, a sign-off. */
export function ticket(random: Random, topic?: Topic): { text: string; topic: Topic } {
  const chosen = topic ?? random.pick(Object.keys(topics) as Topic[]);
  const body = sentences(random, random.int(1, 5), topics[chosen]);
  const text = [
    random.pick(greetings),
    body,
    random.pick(signoffs),
    random.chance(0.5) ? person(random) : '',
  ]
    .filter((part) => part !== '')
    .join(random.chance(0.5) ? '\n' : ' ');
  return { text, topic: chosen };
}

const routeSchema = {
  type: 'object',
  properties: {
    category: { enum: ['billing', 'account', 'delivery', 'product'] },
    priority: { enum: ['low', 'normal', 'urgent'] },
  },
  required: ['category', 'priority'],
};

function route(random: Random): Exchange {
  const { text, topic } = ticket(random);
  return {
    user: text,
    output: JSON.stringify({ category: topic, priority: random.pick(['low', 'normal', 'urgent']) }),
  };
}

function billingReply(random: Random): Exchange {
  const { text } = ticket(random, 'billing');
  const lines = Array.from({ length: random.int(1, 4) }, () => ({
    sku: `SKU-${String(random.int(1000, 9999))}`,
    description: random.pick(products),
    amount: Number(money(random, 5, 300)),
  }));
  const invoice = {
    invoice_id: `INV-${String(random.int(2025, 2026))}-${String(random.int(1, 9999)).padStart(4, '0')}`,
    status: random.pick(['paid', 'open', 'refunded', 'partially_refunded']),
    currency: random.pick(['USD', 'EUR', 'GBP']),
    lines,
  };
  return {
    user: text,
    toolResult: JSON.stringify(invoice),
    output: random.chance(0.3)
      ? { tool: 'issue_refund', arguments: JSON.stringify({ invoice_id: invoice.invoice_id }) }
      : `I checked invoice ${invoice.invoice_id}: it is ${invoice.status}. ${random.pick(['I have started a refund.', 'No further charge will be made.', 'I have sent you a corrected copy.'])}`,
  };
}

const whereIsMyOrder: readonly Maker[] = [
  (r) => `Where is my order ${orderId(r)}?`,
  (r) => `Any news on ${orderId(r)}? It should have been here by now.`,
  (r) => `Can you tell me when ${orderId(r)} will be delivered?`,
  (r) => `My parcel ${orderId(r)} says delivered but I never got it.`,
  (r) => `Hi, tracking for ${orderId(r)} has been stuck for days. What is going on?`,
  (r) => `I ordered a ${r.pick(products)} (${orderId(r)}), when does it arrive?`,
];

function orderStatus(random: Random): Exchange {
  const events = Array.from({ length: random.int(1, 6) }, () => ({
    at: `${date(random)}T${String(random.int(6, 22)).padStart(2, '0')}:00:00Z`,
    status: random.pick([
      'label_created',
      'picked_up',
      'in_transit',
      'at_hub',
      'out_for_delivery',
      'delivered',
      'exception',
    ]),
    location: random.pick([
      'Rotterdam hub',
      'Leipzig hub',
      'local depot',
      'customs',
      'sorting center',
    ]),
  }));
  return {
    user: random.pick(whereIsMyOrder)(random),
    toolResult: JSON.stringify({ carrier: random.pick(['DHL', 'UPS', 'PostNL', 'FedEx']), events }),
    output: `Your parcel is ${events.at(-1)?.status.replaceAll('_', ' ') ?? 'on its way'}. ${random.pick(['It should arrive within two days.', 'I have opened an investigation with the carrier.', 'You will get an email when it moves.'])}`,
  };
}

/** Multi-brand support: the brand is part of the prompt text, unquoted, so it is not masked. */
const brands = companies.slice(0, 8);

export const supportTasks: readonly TaskSpec[] = [
  {
    task: 'support.route',
    archetype: 'support-desk',
    weight: 10,
    exchange: route,
    deployments: [
      {
        service: 'support-desk',
        agent: 'router',
        step: 'route',
        model: 'gpt-4o-mini',
        format: { schemaName: 'ticket_route', schema: routeSchema },
        system: (r) =>
          `You route customer support tickets. Read the ticket and choose exactly one category: billing, account, delivery or product. Set priority to urgent only if the customer cannot use the service at all. Ticket received at ${date(r)}.`,
      },
      {
        service: 'support-desk',
        agent: 'router',
        step: 'route',
        model: 'gpt-4o-mini',
        days: [6, 14],
        format: { schemaName: 'ticket_route', schema: routeSchema },
        system: (r) =>
          `Classify the incoming help-desk message into one queue (billing, account, delivery, product) and an urgency level. Urgent means the customer is fully blocked. Received ${date(r)}.`,
      },
    ],
  },
  {
    task: 'support.billing-reply',
    archetype: 'support-desk',
    weight: 5,
    exchange: billingReply,
    deployments: brands.map((brand) => ({
      service: 'support-desk',
      agent: 'billing-specialist',
      step: 'reply',
      model: 'gpt-4o',
      tools: ['lookup_invoice', 'issue_refund'],
      format: 'text',
      system: () =>
        `You are the billing specialist of ${brand}. Look up the invoice before answering, never promise a refund you have not issued, and answer in two or three friendly sentences.`,
    })),
  },
  {
    task: 'support.order-status',
    archetype: 'support-desk',
    weight: 5,
    exchange: orderStatus,
    deployments: [
      {
        service: 'support-desk',
        agent: 'delivery-specialist',
        step: 'reply',
        model: 'gpt-4o-mini',
        tools: ['track_shipment'],
        format: 'text',
        // This agent's operators capture content for only part of the traffic.
        contentCapture: 0.7,
        system: () =>
          'You answer questions about deliveries. Always call track_shipment first and explain the latest tracking event in plain words.',
      },
    ],
  },
];
