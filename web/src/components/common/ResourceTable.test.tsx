import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ResourceTable, VIRTUAL_FROM, type Column } from './ResourceTable';

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

  it('renders only the rows in view of a long table, and tells their place in it', async () => {
    const many: Row[] = Array.from({ length: 30_000 }, (_, i) => ({ name: `pod-${String(i).padStart(5, '0')}`, restarts: i % 7 }));
    render(<ResourceTable label="Pods" rows={many} rowKey={(r) => r.name} columns={columns} empty="none" />);
    const table = screen.getByRole('table', { name: 'Pods' });
    expect(table.getAttribute('aria-rowcount')).toBe('30001');
    const rendered = names();
    expect(rendered.length).toBeLessThan(100);
    expect(rendered[0]).toBe('pod-00000');
    // Scroll a long way down: the rows there replace the first ones.
    const box = screen.getByRole('region', { name: '30000 rows, scroll to see more' });
    box.scrollTop = 38 * 20_000;
    await act(async () => {
      fireEvent.scroll(box);
      await new Promise((r) => requestAnimationFrame(() => r(undefined)));
    });
    const after = names();
    expect(after).toContain('pod-20000');
    expect(after).not.toContain('pod-00000');
    const row = within(table).getByRole('rowheader', { name: 'pod-20000' }).closest('tr')!;
    expect(row.getAttribute('aria-rowindex')).toBe('20002');
    // Search still covers every row, not only those rendered.
    fireEvent.change(screen.getByRole('searchbox'), { target: { value: 'pod-00001' } });
    expect(names()).toEqual(['pod-00001']);
  });

  it('renders short tables whole', () => {
    const few: Row[] = Array.from({ length: VIRTUAL_FROM }, (_, i) => ({ name: `p-${i}`, restarts: 0 }));
    render(<ResourceTable label="Pods" rows={few} rowKey={(r) => r.name} columns={columns} empty="none" />);
    expect(names().length).toBe(VIRTUAL_FROM);
    expect(screen.getByRole('table').getAttribute('aria-rowcount')).toBeNull();
  });
});
