import type { Output } from './output.js';

export interface Paging {
  /** 0 leaves it to the registry (50). */
  readonly pageSize: number;
  /** Where to resume: a previous answer's next_page_token. */
  readonly pageToken: string;
  /** Follow next_page_token to the end. */
  readonly all: boolean;
}

export interface Page {
  readonly pageSize: number;
  readonly pageToken: string;
}

interface Paged {
  nextPageToken: string;
}

/**
 * One page as asked, or with `--all` every page from there on, merged into the first response
 * (its next_page_token emptied) so that JSON output stays one document.
 */
export async function pages<R extends Paged>(
  paging: Paging,
  fetch: (page: Page) => Promise<R>,
  append: (into: R, next: R) => void,
): Promise<R> {
  const first = await fetch({ pageSize: paging.pageSize, pageToken: paging.pageToken });
  if (!paging.all) return first;
  const seen = new Set<string>();
  let token = first.nextPageToken;
  while (token !== '') {
    // A token handed out twice would page forever.
    if (seen.has(token)) throw new Error(`the registry repeated page token ${token}`);
    seen.add(token);
    const next = await fetch({ pageSize: paging.pageSize, pageToken: token });
    append(first, next);
    token = next.nextPageToken;
  }
  first.nextPageToken = '';
  return first;
}

/** Tells people how to get the rest; JSON readers see next_page_token in the document. */
export function noteMore(output: Output, response: Paged): void {
  if (response.nextPageToken !== '') {
    output.note(`More results: add --all, or --page-token ${response.nextPageToken}`);
  }
}
