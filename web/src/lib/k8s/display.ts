// How an object reads on its page: YAML without the bookkeeping nobody
// reads, and a Secret's values masked until the user asks for them.
import { stringify } from 'yaml';
import type { KubeObject, ResourceKind } from './resource';

export const MASK = '••••••';

/** masked replaces a Secret's values (data and stringData) by a mask; other objects are returned as they are. */
export function masked<T extends KubeObject>(o: T, kind: string): T {
  if (kind !== 'Secret') return o;
  const rec = o as T & { data?: Record<string, string>; stringData?: Record<string, string> };
  const hide = (m?: Record<string, string>) => (m ? Object.fromEntries(Object.keys(m).map((k) => [k, MASK])) : undefined);
  const out = { ...rec } as typeof rec;
  if (rec.data) out.data = hide(rec.data);
  if (rec.stringData) out.stringData = hide(rec.stringData);
  // The last-applied annotation repeats the whole object, values included.
  const ann = rec.metadata.annotations;
  if (ann && 'kubectl.kubernetes.io/last-applied-configuration' in ann) {
    out.metadata = { ...rec.metadata, annotations: { ...ann, 'kubectl.kubernetes.io/last-applied-configuration': MASK } };
  }
  return out;
}

/** toYAML renders o for reading: managedFields dropped, apiVersion and kind filled in, Secret values masked. */
export function toYAML(o: KubeObject, kind: ResourceKind): string {
  const { managedFields: _m, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  // dataCount is the UI's own count of a metadata-only Secret's keys, not a field of the object.
  const { apiVersion: _a, kind: _k, metadata: _md, dataCount: _c, ...rest } = o as KubeObject & { dataCount?: number };
  void [_m, _a, _k, _md, _c];
  const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
  // In kubectl's order: apiVersion, kind, metadata, then the rest.
  return stringify(masked({ apiVersion, kind: kind.kind, metadata, ...rest }, kind.kind));
}

/** decodeSecretValue turns a Secret's base64 value into text, or says it is binary. */
export function decodeSecretValue(b64: string): { text: string; binary: boolean } {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return { text: b64, binary: true };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), binary: false };
  } catch {
    return { text: b64, binary: true };
  }
}
