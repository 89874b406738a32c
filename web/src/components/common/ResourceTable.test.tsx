import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ResourceTable, type Column } from './ResourceTable';

interface Row {
  name: string;
  restarts: number;
}

const columns: Column<Row>[] = [
  { id: 'name', header: 'Name', value: (r) => r.name },
  { id: 'restarts', header: 'Restarts', value: (r) => r.restarts, numeric: true },
];
const rows: Row[] = [
  { name: 'web-b', restarts: 10 },
  { name: 'web-a', restarts: 2 },
  { name: 'db-0', restarts: 0 },
];

const names = () =>
  within(screen.getByRole('table', { name: 'Pods' }))
    .getAllByRole('rowheader')
    .map((h) => h.textContent);

describe('ResourceTable', () => {
  it('sorts by name, then by a clicked column, both ways, and says so', async () => {
    const user = userEvent.setup();
    render(<ResourceTable label="Pods" rows={rows} rowKey={(r) => r.name} columns={columns} empty="none" />);
    expect(names()).toEqual(['db-0', 'web-a', 'web-b']);
    const restarts = screen.getByRole('columnheader', { name: /Restarts/ });
    await user.click(within(restarts).getByRole('button'));
    expect(names()).toEqual(['db-0', 'web-a', 'web-b']);
    expect(restarts.getAttribute('aria-sort')).toBe('ascending');
    await user.click(within(restarts).getByRole('button'));
    // Numbers sort as numbers: 10 above 2.
    expect(names()).toEqual(['web-b', 'web-a', 'db-0']);
    expect(restarts.getAttribute('aria-sort')).toBe('descending');
  });

  it('searches by name and says when nothing matches', async () => {
    const user = userEvent.setup();
    render(<ResourceTable label="Pods" rows={rows} rowKey={(r) => r.name} columns={columns} empty="none" />);
    await user.type(screen.getByRole('searchbox', { name: 'Search Pods' }), 'WEB');
    expect(names()).toEqual(['web-a', 'web-b']);
    await user.clear(screen.getByRole('searchbox'));
    await user.type(screen.getByRole('searchbox'), 'zzz');
    expect(screen.getByText('Nothing matches “zzz”.')).toBeTruthy();
  });

  it('explains an empty list', () => {
    render(<ResourceTable label="Pods" rows={[]} rowKey={(r: Row) => r.name} columns={columns} empty="No pods in this namespace." />);
    expect(screen.getByText('No pods in this namespace.')).toBeTruthy();
    expect(screen.queryByRole('table')).toBeNull();
  });
});
