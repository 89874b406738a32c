import { useQuery } from '@tanstack/react-query';
import { list, type KubeObject, type ResourceKind } from './resource';

export const NamespaceKind: ResourceKind = { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false };

/** useNamespaces lists the namespace names the user may list, sorted. */
export function useNamespaces(cluster: string, enabled = true) {
  return useQuery({
    queryKey: ['k8s', cluster, 'namespaces'],
    enabled,
    queryFn: async ({ signal }) => {
      const l = await list<KubeObject>(cluster, NamespaceKind, { signal });
      return l.items.map((n) => n.metadata.name).sort();
    },
  });
}
