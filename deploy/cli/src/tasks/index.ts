import { create } from '@bufbuild/protobuf';
import { SavingsReportSchema } from '@understudy/contracts';
import { command, group } from '../command.js';
import { savingsReportDocument, savingsReportView } from '../views/savings-report.js';

const report = command({
  summary:
    "Rank the tenant's tasks by projected saving, with the shares of calls and spend they carry",
  description:
    'Active tasks, largest saving first. --output json prints a plain document for charts ' +
    '(not proto JSON): tenantId, currency, computedAt, totals and tasks, each task with its ' +
    'shares, suitability, savings (latencies in ms) and reasons.',
  options: {
    'min-suitability': {
      type: 'string',
      value: 'SCORE',
      description: 'Only tasks at least this suitable, 0 to 1',
    },
    top: {
      type: 'string',
      value: 'N',
      description: 'Only the N largest savings (default: all, up to 1000)',
    },
  },
  examples: [
    'understudy tasks report --min-suitability 0.7 --top 10',
    "understudy tasks report -o json | jq '.tasks[] | [.label, .savings.savingsPerMonth]'",
  ],
  run: async ({ registry, tenantId, output }, args) => {
    const response = await registry.getSavingsReport({
      tenantId,
      minSuitability: args.number('min-suitability', { min: 0, max: 1 }) ?? 0,
      limit: args.integer('top', { min: 1, max: 1000 }) ?? 0,
    });
    const answer = response.report ?? create(SavingsReportSchema);
    output.printDocument(answer, savingsReportDocument, savingsReportView);
  },
});

export const tasks = group("Tasks found by the clusterer, across the tenant's calls", { report });
