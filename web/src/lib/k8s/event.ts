// Events about one object, as kubectl describe shows them.
import type { KubeObject, ResourceKind } from './resource';

export const EventKind: ResourceKind = { kind: 'Event', group: '', version: 'v1', plural: 'events', namespaced: true };

export interface KubeEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  involvedObject?: { kind?: string; name?: string };
}

/** eventTime is when the event last happened, whichever field says it. */
export function eventTime(e: KubeEvent): string {
  return e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata.creationTimestamp || '';
}

export function involvedSelector(kind: string, name: string): string {
  return `involvedObject.kind=${kind},involvedObject.name=${name}`;
}
