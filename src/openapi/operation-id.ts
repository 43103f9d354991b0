// Readable operationIds from method + path, for routes that do not name theirs: GET /v1/items → listItems,
// POST /v1/items → createItem, GET /v1/items/{id} → getItem, POST /v1/jobs/{id}/cancel → cancelJob.
import type { Method } from '../router/index.ts';

const VERSION = /^v\d+$/;
const isParam = (segment: string): boolean => segment.startsWith('{') || segment === '*';
const pascal = (s: string): string => s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');

function singular(word: string): string {
  if (/ies$/.test(word)) return word.slice(0, -3) + 'y';
  if (/(ss|us|is)$/.test(word)) return word;
  if (/(xes|ches|shes|sses)$/.test(word)) return word.slice(0, -2);
  return word.endsWith('s') ? word.slice(0, -1) : word;
}

const isPlural = (word: string): boolean => singular(word) !== word;

const ON_ONE: Record<Method, string> = { GET: 'get', PUT: 'replace', PATCH: 'update', DELETE: 'delete', POST: 'post' };
const ON_COLLECTION: Record<Method, string> = { GET: 'list', PUT: 'replace', PATCH: 'update', DELETE: 'delete', POST: 'create' };

export function deriveOperationId(method: Method, path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && !VERSION.test(s));
  // Each noun is singular when a parameter picks one of it: /users/{id}/items → User, Items.
  const nouns: { word: string; one: boolean }[] = [];
  segments.forEach((s, i) => {
    if (!isParam(s)) nouns.push({ word: s, one: segments[i + 1] !== undefined && isParam(segments[i + 1]) });
  });
  const last = nouns.pop();
  if (last === undefined) return method.toLowerCase() + 'Root';
  const parents = nouns.map((n) => pascal(n.one ? singular(n.word) : n.word)).join('');
  const endsWithParam = isParam(segments[segments.length - 1]);
  if (endsWithParam) return ON_ONE[method] + parents + pascal(singular(last.word));
  // A singular word after a parameter is an action on that one thing: POST /jobs/{id}/cancel → cancelJob.
  const afterParam = segments.length > 1 && isParam(segments[segments.length - 2]);
  if (method === 'POST' && afterParam && !isPlural(last.word)) return last.word.replace(/[^A-Za-z0-9]+(.)/g, (_, c: string) => c.toUpperCase()) + parents;
  if (!isPlural(last.word)) return method.toLowerCase() + parents + pascal(last.word);
  return ON_COLLECTION[method] + parents + pascal(method === 'POST' ? singular(last.word) : last.word);
}
