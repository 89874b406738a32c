import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, mockFetch } from '../../test/fetch';
import { NewTaskPage } from './NewTaskPage';

afterEach(() => vi.unstubAllGlobals());

function renderPage(answer: () => Response) {
  const calls = mockFetch(() => answer());
  render(
    <MemoryRouter initialEntries={['/clusters/dev/mltasks/new?namespace=team-a']}>
      <Routes>
        <Route path="/clusters/:name/mltasks/new" element={<NewTaskPage />} />
        <Route path="/clusters/:name" element={<p>workloads page</p>} />
      </Routes>
    </MemoryRouter>,
  );
  return calls;
}

describe('NewTaskPage', () => {
  it('says what is wrong before sending anything', async () => {
    const calls = renderPage(() => json(201, {}));
    const ue = userEvent.setup();
    await ue.clear(screen.getByLabelText('Workers'));
    await ue.type(screen.getByLabelText('Workers'), '0');
    await ue.click(screen.getByRole('button', { name: 'Create task' }));
    expect(screen.getByText('Lower-case letters, digits and dashes, at most 52 characters.')).toBeTruthy();
    expect(screen.getByText('Enter the container image.')).toBeTruthy();
    expect(screen.getByText('Enter a whole number from 1 to 256.')).toBeTruthy();
    expect(screen.getByLabelText('Workers').getAttribute('aria-invalid')).toBe('true');
    expect(calls).toEqual([]);
  });

  it('previews the YAML and creates the task in the namespace', async () => {
    const calls = renderPage(() => json(201, {}));
    const ue = userEvent.setup();
    await ue.type(screen.getByLabelText('Name'), 'bert');
    await ue.type(screen.getByLabelText('Image'), 'pytorch/pytorch:2.5');
    await ue.type(screen.getByLabelText('Command'), 'torchrun train.py');
    await ue.clear(screen.getByLabelText('Workers'));
    await ue.type(screen.getByLabelText('Workers'), '4');
    const preview = screen.getByLabelText('YAML preview').textContent ?? '';
    expect(preview).toContain('name: bert');
    expect(preview).toContain('namespace: team-a');
    expect(preview).toContain('workers: 4');
    await ue.click(screen.getByRole('button', { name: 'Create task' }));
    await screen.findByText('workloads page');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.url).toBe('/k8s/clusters/dev/apis/ml.bokujo.io/v1alpha1/namespaces/team-a/mltasks');
    const sent = JSON.parse(calls[0]?.body ?? '{}') as { spec: { command: string[]; workers: number } };
    expect(sent.spec.command).toEqual(['torchrun', 'train.py']);
    expect(sent.spec.workers).toBe(4);
  });

  it('shows the cluster refusing the task', async () => {
    renderPage(() => json(422, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422, message: 'MLTask.ml.bokujo.io "bert" is invalid: spec.image: Required value' }));
    const ue = userEvent.setup();
    await ue.type(screen.getByLabelText('Name'), 'bert');
    await ue.type(screen.getByLabelText('Image'), 'x');
    await ue.click(screen.getByRole('button', { name: 'Create task' }));
    expect(await screen.findByText('Could not create the task.')).toBeTruthy();
  });
});
