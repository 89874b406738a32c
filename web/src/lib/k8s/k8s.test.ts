import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../../test/fetch';
import { NodeKind, summarizeNode, type Node } from './node';
import { formatBytes, parseQuantity } from './quantity';
import { clusterPath, list, resourcePath, type ResourceKind } from './resource';

afterEach(() => vi.unstubAllGlobals());

const Deployment: ResourceKind = { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };

describe('paths', () => {
  it('builds core, group, namespaced and named paths', () => {
    expect(resourcePath(NodeKind)).toBe('/api/v1/nodes');
    expect(resourcePath(NodeKind, { name: 'gpu-0' })).toBe('/api/v1/nodes/gpu-0');
    expect(resourcePath(Deployment)).toBe('/apis/apps/v1/deployments');
    expect(resourcePath(Deployment, { namespace: 'team a', name: 'web' })).toBe('/apis/apps/v1/namespaces/team%20a/deployments/web');
    expect(() => resourcePath(NodeKind, { namespace: 'x' })).toThrow(/not namespaced/);
  });

  it('goes through the proxy and escapes the cluster', () => {
    expect(clusterPath('dev', '/api/v1/nodes')).toBe('/k8s/clusters/dev/api/v1/nodes');
    expect(clusterPath('a/b', '/api')).toBe('/k8s/clusters/a%2Fb/api');
    expect(() => clusterPath('', '/api')).toThrow();
  });

  it('lists through the proxy with query options', async () => {
    const calls = mockFetch(() => json(200, { metadata: {}, items: [] }));
    await list('dev', Deployment, { namespace: 'ml', labelSelector: 'app=x' });
    expect(calls[0]?.url).toBe('/k8s/clusters/dev/apis/apps/v1/namespaces/ml/deployments?labelSelector=app%3Dx');
  });
});

describe('quantities', () => {
  it.each([
    ['64', 64],
    ['500m', 0.5],
    ['256Gi', 256 * 2 ** 30],
    ['1k', 1000],
    ['1.5e3', 1500],
    ['2E', 2e18],
    ['100n', 1e-7],
  ])('%s = %d', (q, v) => expect(parseQuantity(q)).toBeCloseTo(v));

  it('rejects what is not a quantity', () => {
    expect(parseQuantity('abc')).toBeNaN();
    expect(parseQuantity('1x')).toBeNaN();
    expect(parseQuantity(undefined)).toBeNaN();
  });

  it('formats memory in binary units', () => {
    expect(formatBytes(512 * 2 ** 30, 'en')).toBe('512 GiB');
    expect(formatBytes(1.5 * 2 ** 40, 'en')).toBe('1.5 TiB');
    expect(formatBytes(0, 'en')).toBe('0');
    expect(formatBytes(512, 'en')).toBe('512 B');
  });
});

describe('nodes', () => {
  it('summarizes allocatable resources, GPUs and readiness', () => {
    const node: Node = {
      metadata: { name: 'dev-gpu-0', labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' } },
      spec: { unschedulable: true },
      status: {
        capacity: { cpu: '32', memory: '256Gi', 'nvidia.com/gpu': '8' },
        allocatable: { cpu: '31500m', memory: '250Gi', 'nvidia.com/gpu': '8' },
        conditions: [{ type: 'Ready', status: 'True' }],
        nodeInfo: { kubeletVersion: 'v1.37.2' },
      },
    };
    expect(summarizeNode(node)).toEqual({
      name: 'dev-gpu-0',
      readiness: 'Ready',
      unschedulable: true,
      cpuCores: 31.5,
      memoryBytes: 250 * 2 ** 30,
      gpus: 8,
      gpuProduct: 'NVIDIA-A100-SXM4-80GB',
      kubeletVersion: 'v1.37.2',
    });
    expect(summarizeNode({ metadata: { name: 'bare' } })).toMatchObject({ readiness: 'Unknown', gpus: 0, gpuProduct: '' });
  });
});
