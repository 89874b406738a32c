// Splitting pasted or uploaded YAML into the objects it declares. Each
// document keeps the line it starts on, so errors can point at it.
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from './k8s/resource';

export interface ManifestDoc {
  /** 1-based position among the non-empty documents. */
  index: number;
  /** 1-based line of the document's first line in the whole text. */
  line: number;
  object?: KubeObject & Record<string, unknown>;
  /** Why the document cannot be applied, for people who read English. */
  error?: string;
  /** The same reason as a code, for the UI to say in the user's language. */
  problem?: 'syntax' | 'notObject' | 'noKind' | 'noName';
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** splitDocuments parses every YAML document of text; empty ones are skipped. */
export function splitDocuments(text: string): ManifestDoc[] {
  const docs: ManifestDoc[] = [];
  for (const doc of parseAllDocuments(text)) {
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineOf(text, start);
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const at = e.linePos?.[0];
      docs.push({ index: docs.length + 1, line: at?.line ?? line, problem: 'syntax', error: at ? `line ${at.line}, column ${at.col}: ${e.message.split('\n')[0]}` : e.message });
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      docs.push({ index: docs.length + 1, line, problem: 'notObject', error: 'not a Kubernetes object (a mapping with apiVersion and kind)' });
      continue;
    }
    const o = value as Record<string, unknown>;
    const meta = o.metadata as { name?: unknown } | undefined;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') {
      docs.push({ index: docs.length + 1, line, problem: 'noKind', error: 'apiVersion and kind are required' });
    } else if (!meta || typeof meta.name !== 'string' || meta.name === '') {
      docs.push({ index: docs.length + 1, line, problem: 'noName', error: 'metadata.name is required' });
    } else {
      docs.push({ index: docs.length + 1, line, object: o as ManifestDoc['object'] });
    }
  }
  return docs;
}
