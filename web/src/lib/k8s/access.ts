// What the user may do, asked of the cluster itself with a
// SelfSubjectAccessReview: the proxy impersonates the user, so the answer
// is about them. Used to hide buttons; the apiserver still decides.
import { useQuery } from '@tanstack/react-query';
import { request } from '../api';
import { clusterPath } from './resource';

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface AccessReview {
  status?: { allowed: boolean; denied?: boolean; reason?: string };
}

export async function canI(cluster: string, attrs: ResourceAttributes, signal?: AbortSignal): Promise<boolean> {
  const review = await request<AccessReview>(clusterPath(cluster, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'), {
    method: 'POST',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } },
    signal,
  });
  return review.status?.allowed === true;
}

/** useCan answers false until the review says otherwise, and on failure. */
export function useCan(cluster: string, attrs: ResourceAttributes): boolean {
  const q = useQuery({
    queryKey: ['k8s', cluster, 'can', attrs.verb, attrs.group, attrs.resource, attrs.subresource ?? '', attrs.namespace ?? '', attrs.name ?? ''],
    queryFn: ({ signal }) => canI(cluster, attrs, signal),
    staleTime: 60_000,
  });
  return q.data === true;
}
