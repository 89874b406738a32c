import { describe, expect, it } from 'vitest';
import { buildTask, emptyTask, summarizeMLTask, validateTask, type MLTask } from './mltask';

describe('MLTask', () => {
  it('summarizes a waiting task with its position', () => {
    const t: MLTask = {
      metadata: { name: 'bert', namespace: 'a', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { image: 'x', workers: 4, resources: { gpus: 2 }, queue: 'default' },
      status: { phase: 'Queued', queue: { position: 3, message: 'waiting' }, message: 'waiting' },
    };
    const s = summarizeMLTask(t);
    expect(s).toMatchObject({ name: 'bert', mode: 'Training', phase: 'Queued', tone: 'unknown', workers: 4, gpus: 8, position: 3 });
    t.status = { phase: 'Running', workersReady: 4, gpus: 8, admission: { gpuQueue: 'q' }, queue: { position: 3 } };
    expect(summarizeMLTask(t)).toMatchObject({ tone: 'ok', ready: 4, position: undefined });
    expect(summarizeMLTask({ ...t, status: { phase: 'Failed' } }).tone).toBe('bad');
  });

  it('validates the form with the CRD limits', () => {
    expect(validateTask({ ...emptyTask, name: 'ok', image: 'img' })).toEqual([]);
    expect(validateTask({ ...emptyTask, name: 'Bad Name', image: ' ', workers: '0', gpus: '-1', priority: '1.5', queue: 'A', gpuProduct: 'a b' }).sort()).toEqual(
      ['gpuProduct', 'gpus', 'image', 'name', 'priority', 'queue', 'workers'].sort(),
    );
    expect(validateTask({ ...emptyTask, name: 'x'.repeat(53), image: 'i' })).toEqual(['name']);
  });

  it('builds the object the cluster receives', () => {
    const t = buildTask({ ...emptyTask, name: 'bert', image: ' pytorch ', command: 'torchrun  train.py', workers: '4', gpus: '2', gpuProduct: 'H100' }, 'team-a');
    expect(t).toEqual({
      apiVersion: 'ml.bokujo.io/v1alpha1',
      kind: 'MLTask',
      metadata: { name: 'bert', namespace: 'team-a' },
      spec: { mode: 'Training', image: 'pytorch', command: ['torchrun', 'train.py'], workers: 4, resources: { gpus: 2, gpuProduct: 'H100' }, queue: 'default', priority: 0 },
    });
    expect(buildTask({ ...emptyTask, name: 'n', image: 'i' }, 'a').spec.command).toBeUndefined();
  });
});
