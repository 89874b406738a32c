import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newQueryClient } from '../../App';
import { json, mockFetch } from '../../test/fetch';
import { DeployPage } from './DeployPage';

afterEach(() => vi.unstubAllGlobals());

const gpuNode = {
  metadata: { name: 'gpu-0', labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' } },
  status: { allocatable: { 'nvidia.com/gpu': '8' }, capacity: { 'nvidia.com/gpu': '8' }, conditions: [] },
};

describe('DeployPage', () => {
  it('says what is wrong before sending anything, and previews the YAML with the GPU product', async () => {
    const user = userEvent.setup();
    const calls = mockFetch((c) => (c.url.includes('/api/v1/nodes') ? json(200, { metadata: {}, items: [gpuNode] }) : json(500, {})));
    render(
      <QueryClientProvider client={newQueryClient()}>
        <MemoryRouter initialEntries={['/clusters/dev/deploy?namespace=ml']}>
          <Routes>
            <Route path="/clusters/:name/deploy" element={<DeployPage />} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    );
    await user.click(screen.getByRole('button', { name: 'Check (dry run)' }));
    expect(screen.getByRole('alert').textContent).toBe('Some fields need attention; each says what is wrong.');
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);

    await user.type(screen.getByLabelText('Name'), 'train');
    await user.type(screen.getByLabelText('Image'), 'cuda');
    await user.type(screen.getByLabelText('GPUs'), '1');
    const product = screen.getByLabelText('GPU product');
    await within(product).findByRole('option', { name: 'NVIDIA-A100-SXM4-80GB' });
    await user.selectOptions(product, 'NVIDIA-A100-SXM4-80GB');
    const preview = screen.getByLabelText('YAML preview');
    expect(preview.textContent).toMatch(/nvidia\.com\/gpu: "1"/);
    expect(preview.textContent).toMatch(/nvidia\.com\/gpu\.product: NVIDIA-A100-SXM4-80GB/);
    expect(preview.textContent).toMatch(/namespace: ml/);
    expect(preview.textContent).not.toMatch(/[&*]a1/);
    expect(screen.queryByRole('alert')).toBeNull();
    expect((screen.getByRole('button', { name: 'Create' }) as HTMLButtonElement).disabled).toBe(true);
  });
});
