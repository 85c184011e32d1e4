/**
 * A research agent and a review classifier. The researcher's two steps share tools and output
 * format: planning sends the question alone, answering sends it with search results. The review
 * classifier sees spam campaigns: one review posted again and again with small edits.
 */
import type { Random } from './random.js';
import type { Exchange, TaskSpec } from './spec.js';
import { cities, companies, products, sentences } from './words.js';

const subjects = [
  'heat pumps',
  'solid-state batteries',
  'remote work productivity',
  'microplastics in rivers',
  'the four-day work week',
  'urban beekeeping',
  'carbon capture',
  'quantum-safe encryption',
  'lithium recycling',
  'sleep and memory',
  'vertical farming',
  'e-bike adoption',
  'open-source licensing',
  'ocean shipping emissions',
  'antibiotic resistance',
  'GLP-1 drugs',
];
const angles: readonly ((r: Random, s: string) => string)[] = [
  (r, s) => `What does recent research say about ${s} in ${r.pick(cities)}?`,
  (_r, s) => `Compare the main arguments for and against ${s}.`,
  (r, s) => `How has ${s} changed since ${String(r.int(2015, 2024))}?`,
  (r, s) => `Which companies lead in ${s}, and is ${r.pick(companies)} among them?`,
  (_r, s) => `Give me the three most cited studies on ${s}.`,
  (_r, s) => `Is ${s} cost-effective for a mid-sized company?`,
];

const question = (random: Random) => {
  const subject = random.pick(subjects);
  return random.pick(angles)(random, subject);
};

function plan(random: Random): Exchange {
  const q = question(random);
  return {
    user: random.chance(0.3) ? `Research task: ${q} Plan your searches first.` : q,
    output: { tool: 'web_search', arguments: JSON.stringify({ query: q.slice(0, 60) }) },
  };
}

function answer(random: Random): Exchange {
  const q = question(random);
  const results = Array.from({ length: random.int(3, 8) }, (_, i) => {
    const subject = random.pick(subjects);
    return `[${String(i + 1)}] ${random.pick(['A study', 'A report', 'An article', 'A survey'])} on ${subject} (${random.pick(['nature.com', 'reuters.com', 'arxiv.org', 'ft.com', 'who.int'])}, ${String(random.int(2019, 2026))}): ${random.pick(['found a significant effect', 'reports mixed results', 'estimates a 20% reduction', 'warns of rising costs', 'sees adoption doubling'])} ${random.pick(['across 40 countries.', 'in a sample of 2,000 firms.', 'over five years.', 'compared with the baseline.'])}`;
  });
  return {
    user: q,
    toolResult: results.join('\n'),
    output: `Based on the sources [1]–[${String(results.length)}], the evidence is mixed.`,
  };
}

const reviewMakers: readonly ((r: Random) => string)[] = [
  (r) =>
    `The ${r.pick(products)} ${r.pick(['works great', 'broke after a week', 'is exactly as described', 'feels cheap', 'exceeded my expectations'])}.`,
  (r) => `Delivery was ${r.pick(['fast', 'slow', 'on time', 'a nightmare'])}.`,
  (r) =>
    `${r.pick(['Five stars', 'One star', 'Three stars'])}, ${r.pick(['would buy again', 'never again', 'it is okay for the price'])}.`,
  (r) =>
    `Customer service ${r.pick(['was very helpful', 'never answered', 'replaced it quickly'])}.`,
  (r) =>
    `I bought it for my ${r.pick(['wife', 'son', 'office', 'mother', 'studio'])} and ${r.pick(['she loves it', 'he returned it', 'it does the job', 'it is already broken'])}.`,
  (r) =>
    `The colour is ${r.pick(['nicer than in the photos', 'different from the picture', 'fine'])}.`,
  () => 'Battery life could be better.',
  () => 'Packaging was wasteful, too much plastic.',
];

/** A handful of spam reviews, reposted with a word or two changed. */
const spam = [
  'BEST {p} EVER!!! Buy now at discount, link in profile, 100% original {p}',
  'I got a free {p} for this review. Great product great seller five stars',
  'Do not buy this {p}, go to the shop in my bio, cheaper and better',
  'Amazing {p}!!! My life changed. Highly recommend to everyone',
];

function review(random: Random): Exchange {
  if (random.chance(0.25)) {
    const text = random.pick(spam).replaceAll('{p}', random.pick(products));
    return {
      user: random.chance(0.5) ? text : text.replace('!!!', '!!').replace('great', 'good'),
      output: '{"sentiment":"positive","spam":true}',
    };
  }
  const text = sentences(random, random.int(1, 4), reviewMakers);
  return {
    user: text,
    output: JSON.stringify({
      sentiment: random.pick(['positive', 'negative', 'mixed']),
      spam: false,
    }),
  };
}

export const researchTasks: readonly TaskSpec[] = [
  {
    task: 'research.plan',
    archetype: 'research-agent',
    weight: 3,
    exchange: plan,
    deployments: [
      {
        service: 'research',
        agent: 'researcher',
        step: 'plan',
        model: 'gpt-4o',
        tools: ['web_search', 'fetch_page'],
        format: 'text',
        system: () =>
          'You are a research agent. Break the question into focused web searches and call web_search for each. Prefer primary sources.',
      },
    ],
  },
  {
    task: 'research.answer',
    archetype: 'research-agent',
    weight: 3,
    exchange: answer,
    deployments: [
      {
        service: 'research',
        agent: 'researcher',
        step: 'answer',
        model: 'gpt-4o',
        tools: ['web_search', 'fetch_page'],
        format: 'text',
        system: () =>
          'You are a research agent. Answer the question from the search results only, citing them as [n]. Say so when the sources disagree.',
      },
    ],
  },
  {
    task: 'reviews.sentiment',
    archetype: 'review-moderation',
    weight: 8,
    exchange: review,
    deployments: [
      {
        service: 'shop',
        agent: 'review-classifier',
        model: 'gpt-4o-mini',
        format: 'json_object',
        system: () =>
          'Classify the product review. Answer with JSON: {"sentiment": "positive" | "negative" | "mixed", "spam": boolean}.',
      },
    ],
  },
];
