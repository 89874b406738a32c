// React Query hooks over the /v1 API, so every page shares one cache.
import { useQuery } from '@tanstack/react-query';
import { getCluster, listClusters, listNotifications, listProjects } from './api';

// Cluster health and usage change on their own (the server probes every
// few seconds) and /v1 has no watch: the overview refreshes itself.
const CLUSTER_REFRESH_MS = 15_000;

export function useClusters() {
  return useQuery({
    queryKey: ['v1', 'clusters'],
    queryFn: ({ signal }) => listClusters(signal),
    refetchInterval: CLUSTER_REFRESH_MS,
  });
}

export function useCluster(name: string) {
  return useQuery({
    queryKey: ['v1', 'clusters', name],
    queryFn: ({ signal }) => getCluster(name, signal),
    refetchInterval: CLUSTER_REFRESH_MS,
  });
}

export function useProjects(cluster: string, enabled = true) {
  return useQuery({
    queryKey: ['v1', 'projects', cluster],
    queryFn: ({ signal }) => listProjects(cluster, signal),
    enabled,
  });
}

// /v1 has no watch for notifications either: the feed is read again every
// half minute and after each change the user makes.
const NOTIFICATION_REFRESH_MS = 30_000;

export const notificationsKey = ['v1', 'notifications'];

export function useNotifications() {
  return useQuery({
    queryKey: notificationsKey,
    queryFn: ({ signal }) => listNotifications(signal),
    refetchInterval: NOTIFICATION_REFRESH_MS,
  });
}
