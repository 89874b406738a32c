import { render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { projectGPUQuota, queueUsage } from '../../lib/k8s/gpuqueue';
import { json, mockFetch } from '../../test/fetch';
import { GPUUsage } from './Usage';

afterEach(() => vi.unstubAllGlobals());

const quietWatch = () => new Response(new ReadableStream({ start() {} }), { status: 200, headers: { 'Content-Type': 'application/json' } });
const list = (items: unknown[]) => json(200, { metadata: { resourceVersion: '3' }, items });

const lq = { metadata: { name: 'default', namespace: 'team-a' }, spec: { gpuQueue: 'lab' }, status: { gpus: 6, admittedTasks: 3, pendingTasks: 4 } };
const gq = { metadata: { name: 'lab' }, spec: { quotas: [{ product: 'A100', gpus: 12 }, { product: 'H100', gpus: 4 }] } };
const rq = { metadata: { name: 'project-quota', namespace: 'team-a' }, status: { hard: { 'requests.nvidia.com/gpu': '8', pods: '100' }, used: { 'requests.nvidia.com/gpu': '6' } } };

describe('queueUsage and projectGPUQuota', () => {
  it('sums a GPUQueue quota over products and leaves it unknown when the queue cannot be read', () => {
    expect(queueUsage([lq], [gq])).toEqual([{ name: 'default', gpuQueue: 'lab', used: 6, quota: 16, admitted: 3, pending: 4 }]);
    expect(queueUsage([lq], undefined)[0]!.quota).toBeUndefined();
  });
  it('takes the tightest GPU limit of the namespace quotas and ignores quotas without GPUs', () => {
    const loose = { metadata: { name: 'b' }, status: { hard: { 'limits.nvidia.com/gpu': '20' }, used: { 'limits.nvidia.com/gpu': '6' } } };
    expect(projectGPUQuota([loose, rq])).toEqual({ used: 6, hard: 8 });
    expect(projectGPUQuota([{ metadata: { name: 'c' }, status: { hard: { pods: '10' } } }])).toBeUndefined();
  });
});

describe('GPUUsage', () => {
  it('shows the queue against its GPUQueue quota and the project quota, live', async () => {
    mockFetch((c) => {
      if (c.url.includes('watch=1')) return quietWatch();
      if (c.url.includes('/localqueues')) return list([lq]);
      if (c.url.includes('/gpuqueues')) return list([gq]);
      if (c.url.includes('/resourcequotas')) return list([rq]);
      return json(404, {});
    });
    render(<GPUUsage cluster="dev" namespace="team-a" />);
    const queue = await screen.findByRole('meter', { name: 'Queue default' });
    expect(queue.getAttribute('aria-valuetext')).toBe('6 / 16 in use (38%)');
    expect(screen.getByRole('meter', { name: 'Project GPU quota' }).getAttribute('aria-valuenow')).toBe('6');
    expect(screen.getByText('GPU queue lab: 3 running, 4 waiting')).toBeTruthy();
  });

  it('shows GPUs in use without a quota to a user who may not read GPUQueues', async () => {
    mockFetch((c) => {
      if (c.url.includes('watch=1')) return quietWatch();
      if (c.url.includes('/localqueues')) return list([lq]);
      if (c.url.includes('/gpuqueues')) return json(403, { kind: 'Status', message: 'forbidden', code: 403 });
      return list([]);
    });
    render(<GPUUsage cluster="dev" namespace="team-a" />);
    expect(await screen.findByText('6 GPUs in use')).toBeTruthy();
    expect(screen.queryByRole('meter', { name: 'Queue default' })).toBeNull();
  });

  it('says what is missing when no queue serves the namespace', async () => {
    mockFetch((c) => (c.url.includes('watch=1') ? quietWatch() : list([])));
    render(<GPUUsage cluster="dev" namespace="team-a" />);
    expect(await screen.findByText(/No GPU queue serves this namespace/)).toBeTruthy();
  });
});
