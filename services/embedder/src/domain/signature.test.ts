import { create } from '@bufbuild/protobuf';
import { RequestParametersSchema, ResponseFormatType, type LlmCall } from '@understudy/contracts';
import { contentOf } from '@understudy/tenancy';
import { describe, expect, it } from 'vitest';
import { llmCall } from '../testing/calls.js';
import { maskVariables, signatureVersion, structuralSignature } from './signature.js';

const signatureOf = (call: LlmCall) => structuralSignature(call, contentOf(call));

describe('maskVariables', () => {
  it('masks numbers, ids, quoted values, emails and UUIDs, keeping the template', () => {
    expect(
      maskVariables(
        `Customer "Alice Smith" (alice@example.com, 3f2a1b4c-9d8e-4f00-a1b2-c3d4e5f60718) ` +
          `ordered 3 items for 12.50 on 2024/01/02, order INV-2024-001; don't guess.`,
      ),
    ).toBe(
      'Customer <quoted> (<email>, <uuid>) ordered <number> items for <number> on <number>, ' +
        "order <id>; don't guess.",
    );
  });

  it('masks dates and times written out, links, and material pasted into the instructions', () => {
    expect(
      maskVariables(
        'Today is Tuesday, 5 November 2024, 10:30 AM. Docs: https://docs.example.com/v2/api?x=1\n' +
          `<context>${'Retrieved passage. '.repeat(20)}</context>\n\`\`\`json\n{"a": 1}\n\`\`\`\n` +
          'May I help? Answer in <format>one line</format>.',
      ),
    ).toBe(
      'Today is <date>, <number> <date> <number>, <time> Docs: <url> <context><block></context> ' +
        '<block> May I help? Answer in <format>one line</format>.',
    );
    const a = maskVariables('Current date: Monday, Jan 6. Be brief.');
    const b = maskVariables('Current date: Friday, March 21. Be brief.');
    expect(a).toBe(b);
  });

  it('gives two fillings of one template the same text', () => {
    const a = maskVariables("You help user 'bob' with ticket #4411 opened 3 days ago.");
    const b = maskVariables('You help user "Carol Jones" with ticket #97 opened 12 days ago.');
    expect(a).toBe(b);
  });
});

describe('structuralSignature', () => {
  const base = {
    system: 'You classify ticket 481 for customer "ACME".',
    user: 'My printer is on fire',
    tools: ['search', 'escalate'],
  };

  it('is equal for calls of one template whatever their variable text', () => {
    const a = signatureOf(llmCall(base));
    const b = signatureOf(
      llmCall({ ...base, system: 'You classify ticket 9 for customer "Globex".', user: 'Hi' }),
    );
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).toBe(a.digest);
    expect(a).toMatchObject({
      version: signatureVersion,
      agentName: 'triage',
      toolNames: ['escalate', 'search'],
    });
  });

  it('differs by template, agent, tools and response schema', () => {
    const digest = signatureOf(llmCall(base)).digest;
    const variants = [
      llmCall({ ...base, system: 'You summarise ticket 481.' }),
      llmCall({ ...base, agent: 'billing' }),
      llmCall({ ...base, tools: ['search'] }),
    ];
    for (const variant of variants) {
      expect(signatureOf(variant).digest).not.toBe(digest);
    }
    const withSchema = (schema: Record<string, string>) => {
      const call = llmCall(base);
      call.parameters = create(RequestParametersSchema, {
        responseFormat: {
          type: ResponseFormatType.JSON_SCHEMA,
          schemaName: 's',
          jsonSchema: schema,
        },
      });
      return signatureOf(call);
    };
    const a = withSchema({ type: 'object', title: 'a' });
    expect(a.responseSchemaHash).toMatch(/^[0-9a-f]{64}$/);
    expect(withSchema({ title: 'a', type: 'object' }).digest).toBe(a.digest);
    expect(withSchema({ type: 'object', title: 'b' }).digest).not.toBe(a.digest);
  });

  it('signs calls without content by their context alone', () => {
    const signature = signatureOf(llmCall({}));
    expect(signature.systemTemplateHash).toBe('');
    expect(signature.toolNames).toEqual([]);
    expect(signature.digest).toMatch(/^[0-9a-f]{64}$/);
  });
});
