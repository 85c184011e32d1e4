/**
 * A generic internal assistant: one system prompt (its variables masked by the signature) that
 * employees use for several jobs (translation, SQL, e-mail drafts) and for small talk. Only the
 * content tells these tasks apart. SQL requests start on day 4, so that task appears later.
 */
import type { Random } from './random.js';
import type { Deployment, Exchange, TaskSpec } from './spec.js';
import {
  cities,
  companies,
  date,
  email,
  firstNames,
  person,
  products,
  sentences,
} from './words.js';

const assistant: Deployment = {
  service: 'workplace',
  agent: 'assistant',
  model: 'gpt-4o',
  format: 'text',
  system: (r) =>
    `You are Aria, Acme's internal assistant. Today is ${date(r)}. You are talking to "${person(r)}" <${email(r)}> from the "${r.pick(['sales', 'finance', 'legal', 'ops', 'hr', 'engineering'])}" team. Be concise, friendly and accurate.`,
};

const businessSentences: readonly ((r: Random) => string)[] = [
  (r) => `Our office in ${r.pick(cities)} will be closed on ${date(r)}.`,
  (r) => `The shipment of ${r.pick(products)} is delayed by two weeks.`,
  () => 'Please find attached the signed contract and the updated price list.',
  (r) => `We are happy to welcome ${person(r)} to the team.`,
  () => 'The meeting has been moved to Thursday afternoon.',
  (r) => `Thank you for your order; the ${r.pick(products)} will ship tomorrow.`,
  () => 'Could you confirm the delivery address before Friday?',
  () => 'Our support line is open from nine to five, Monday to Friday.',
  (r) => `${r.pick(companies)} has accepted our proposal.`,
  () => 'The invoice is overdue, kindly arrange payment at your earliest convenience.',
];
const languages = [
  'French',
  'German',
  'Spanish',
  'Italian',
  'Portuguese',
  'Japanese',
  'Dutch',
  'Polish',
];

function translate(random: Random): Exchange {
  const text = sentences(random, random.int(1, 3), businessSentences);
  const language = random.pick(languages);
  const user = random.pick([
    `Translate into ${language}: ${text}`,
    `Can you translate this to ${language}, please?\n"${text}"`,
    `How would I say this in ${language}? ${text}`,
    `${text}\n\n→ ${language} please`,
    `Please put the following in ${language}, keeping a formal tone: ${text}`,
    `translate to ${language.toLowerCase()}: ${text}`,
  ]);
  return { user, output: `(${language}) ${text}` };
}

const tables = [
  'orders(id, customer_id, total, status, created_at)',
  'customers(id, name, country, signup_date)',
  'order_items(order_id, product_id, quantity, price)',
  'products(id, name, category, price)',
  'payments(id, order_id, amount, paid_at, method)',
  'employees(id, name, department, salary, hired_at)',
];
const questions: readonly ((r: Random) => string)[] = [
  (r) =>
    `the top ${String(r.int(3, 20))} customers by total revenue in ${String(r.int(2023, 2026))}`,
  () => 'the number of orders per month for the last year',
  (r) =>
    `all customers from ${r.pick(['Germany', 'Brazil', 'Japan', 'Canada'])} who never placed an order`,
  () => 'the average order value per country',
  (r) =>
    `products in the ${r.pick(['garden', 'kitchen', 'office', 'sports'])} category that sold nothing last quarter`,
  () => 'the running total of payments per day',
  () => 'each department’s highest paid employee',
  (r) => `orders above ${String(r.int(100, 5000))} that are still unpaid`,
  () => 'duplicate customers that share the same name and country',
];

function sql(random: Random): Exchange {
  const schema = random.sample(tables, random.int(1, 4)).join('\n');
  const question = random.pick(questions)(random);
  const user = random.pick([
    `Write a SQL query that returns ${question}.\nTables:\n${schema}`,
    `I need SQL for ${question}. Schema:\n${schema}`,
    `Given these tables:\n${schema}\nhow do I get ${question}? Postgres please.`,
    `Can you help me with a query? I want ${question}.\n${schema}`,
    `SQL: ${question}\n${schema}`,
  ]);
  return {
    user,
    output:
      'SELECT c.name, SUM(o.total) AS revenue FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.name ORDER BY revenue DESC;',
  };
}

const emailTopics = [
  'the delayed delivery',
  'our meeting next week',
  'the overdue invoice',
  'a price increase',
  'the new contract terms',
  'a thank-you for their help',
  'rescheduling the workshop',
  'the holiday opening hours',
  'a missing payment',
  'their job application',
];

function emailDraft(random: Random): Exchange {
  const to = random.pick(firstNames);
  const topic = random.pick(emailTopics);
  const user = random.pick([
    `Draft an email to ${to} about ${topic}.`,
    `Write a polite email to ${to} from ${random.pick(companies)} regarding ${topic}. Keep it short.`,
    `Can you help me write an email to ${to}? It's about ${topic}, and I want to sound ${random.pick(['firm', 'friendly', 'apologetic', 'formal'])}.`,
    `I need to email ${to} about ${topic}. Please draft something I can send today.`,
    `Reply to this email from ${to}: "${sentences(random, random.int(1, 2), businessSentences)}" — say we will look into ${topic}.`,
  ]);
  return { user, output: `Hi ${to},\n\nI am writing about ${topic}. …\n\nBest regards` };
}

/** Small talk: openers, topics and forms are drawn independently, so it hardly repeats. */
const chat: readonly ((r: Random) => string)[] = [
  (r) =>
    `${r.pick(['Good morning!', 'Hey Aria', 'hi', 'Hello again', 'yo'])} ${r.pick(['How are you today?', 'What’s up?', 'Are you awake?', 'Long day, huh?'])}`,
  (r) =>
    `Tell me a joke about ${r.pick(['cats', 'accountants', 'Mondays', 'coffee', 'penguins', 'spreadsheets', 'pirates'])}.`,
  (r) =>
    `Do you like ${r.pick(['pizza', 'jazz', 'rainy days', 'football', 'sushi', 'board games', 'hiking', 'poetry'])}?`,
  (r) =>
    `I just got back from ${r.pick(cities)}, it was ${r.pick(['amazing', 'so hot', 'rainy the whole time', 'exhausting but fun'])}.`,
  () => 'lol that is hilarious',
  (r) =>
    `What is your favourite ${r.pick(['movie', 'colour', 'book', 'season', 'animal', 'song'])}?`,
  () => 'I am so bored right now.',
  (r) =>
    `Do you think ${r.pick(['robots', 'aliens', 'time travellers', 'dolphins'])} ${r.pick(['dream', 'will rule the world', 'are funny', 'have feelings'])}?`,
  () => 'Thanks, you are the best!',
  (r) =>
    `My ${r.pick(['dog', 'cat', 'kid', 'neighbour', 'plant'])} ${r.pick(['ate my homework', 'woke me up at 5', 'is acting weird', 'learned a new trick'])}.`,
  () => 'What should I have for lunch?',
  (r) =>
    `Can you recommend a ${r.pick(['podcast', 'series', 'novel', 'recipe', 'board game'])} for the weekend?`,
  () => 'Who would win in a fight, a bear or a shark?',
  () => 'Ugh, Mondays.',
  (r) =>
    `Write me a ${r.pick(['haiku', 'limerick', 'two-line poem'])} about ${r.pick(['autumn', 'the office printer', 'coffee', 'the sea', 'deadlines'])}.`,
  () => 'Are you a real person?',
  (r) => `It is my ${r.pick(['birthday', 'anniversary', 'last day here', 'first week'])} today!`,
  () => 'Sorry, never mind, wrong window.',
  (r) => `What time is it in ${r.pick(cities)}?`,
  () => 'Say something nice to cheer me up.',
];

function chitchat(random: Random): Exchange {
  return {
    user: sentences(random, random.int(1, 3), chat),
    output: random.pick([
      'Ha, good one!',
      'I am doing great, thanks for asking.',
      'Here is one for you…',
      'That sounds lovely!',
    ]),
  };
}

const task = (
  name: string,
  weight: number,
  exchange: (random: Random) => Exchange,
  days?: readonly [number, number],
): TaskSpec => ({
  task: name,
  archetype: 'workplace-assistant',
  weight,
  exchange,
  deployments: [assistant],
  ...(days && { days }),
});

export const assistantTasks: readonly TaskSpec[] = [
  task('assistant.translate', 3, translate),
  task('assistant.sql', 2.5, sql, [4, 14]),
  task('assistant.email-draft', 3, emailDraft),
  task('assistant.chitchat', 3, chitchat),
];
