import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../../lib/api';
import { ClusterUsage, clusterUsage } from '../cluster/ClusterUsage';
import { ResourceBar, usageLevel, usagePercent } from './ResourceBar';

describe('ResourceBar', () => {
  it('is a meter named by its label, with the amounts in words', () => {
    render(<ResourceBar label="GPU" used={6} total={16} format={String} />);
    const meter = screen.getByRole('meter', { name: 'GPU' });
    expect(meter.getAttribute('aria-valuenow')).toBe('6');
    expect(meter.getAttribute('aria-valuemax')).toBe('16');
    expect(meter.getAttribute('aria-valuetext')).toBe('6 / 16 requested (38%)');
    expect(screen.getByText('38%')).toBeTruthy();
  });

  it('caps an over-committed meter and marks it', () => {
    const { container } = render(<ResourceBar label="CPU" used={80} total={64} format={String} unit="cores" />);
    const meter = screen.getByRole('meter', { name: 'CPU' });
    expect(meter.getAttribute('aria-valuenow')).toBe('64');
    expect(meter.getAttribute('aria-valuetext')).toBe('80 / 64 cores requested (125%)');
    expect(container.querySelector('.resource-bar')?.classList.contains('high')).toBe(true);
    expect((container.querySelector('.meter-fill') as HTMLElement).style.width).toBe('100%');
  });

  it('says "none" instead of an empty meter', () => {
    render(<ResourceBar label="GPU" used={0} total={0} format={String} />);
    expect(screen.queryByRole('meter')).toBeNull();
    expect(screen.getByText('none')).toBeTruthy();
  });

  it('levels', () => {
    expect(usagePercent(1, 3)).toBe(33);
    expect(usagePercent(5, 0)).toBe(0);
    expect([usageLevel(10), usageLevel(70), usageLevel(90)]).toEqual(['ok', 'warn', 'high']);
  });
});

describe('ClusterUsage', () => {
  const dev: Cluster = {
    name: 'dev',
    ready: true,
    nodes: 2,
    capacity: { cpu: '64', memory: '512Gi', 'nvidia.com/gpu': '16', pods: '220' },
    allocatable: { cpu: '62', memory: '500Gi', 'nvidia.com/gpu': '16' },
    requested: { cpu: '3500m', memory: '8Gi', 'nvidia.com/gpu': '3' },
  };

  it('compares requests with allocatable resources', () => {
    expect(clusterUsage(dev)).toEqual({
      cpu: { used: 3.5, total: 62 },
      memory: { used: 8 * 2 ** 30, total: 500 * 2 ** 30 },
      gpu: { used: 3, total: 16 },
    });
    expect(clusterUsage({ capacity: { cpu: '8' } }).cpu).toEqual({ used: 0, total: 8 });
  });

  it('renders a CPU, memory and GPU meter', () => {
    const { container } = render(<ClusterUsage cluster={dev} />);
    const usage = within(container);
    expect(usage.getByRole('meter', { name: 'CPU' }).getAttribute('aria-valuetext')).toBe('3.5 / 62 cores requested (6%)');
    expect(usage.getByRole('meter', { name: 'Memory' }).getAttribute('aria-valuetext')).toBe('8 GiB / 500 GiB requested (2%)');
    expect(usage.getByRole('meter', { name: 'GPU' }).getAttribute('aria-valuetext')).toBe('3 / 16 requested (19%)');
  });
});
