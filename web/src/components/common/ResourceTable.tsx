import { useMemo, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

export interface Column<R> {
  id: string;
  header: string;
  /** What the column sorts by. */
  value: (row: R) => string | number;
  render?: (row: R) => ReactNode;
  numeric?: boolean;
}

interface Props<R> {
  /** The table's accessible name (also the search box's). */
  label: string;
  rows: R[];
  rowKey: (row: R) => string;
  /** The first column is the row header: its value is what search matches. */
  columns: Column<R>[];
  empty: string;
}

/**
 * ResourceTable is a searchable table sorted by any column; the sort state
 * is announced through aria-sort on the header.
 */
export function ResourceTable<R>({ label, rows, rowKey, columns, empty }: Props<R>) {
  const { t } = useTranslation();
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<{ id: string; asc: boolean }>({ id: columns[0]?.id ?? '', asc: true });
  const shown = useMemo(() => {
    const first = columns[0];
    const q = query.trim().toLowerCase();
    const col = columns.find((c) => c.id === sort.id) ?? first;
    const filtered = first && q ? rows.filter((r) => String(first.value(r)).toLowerCase().includes(q)) : rows;
    if (!col) return filtered;
    return [...filtered].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort.asc ? c : -c;
    });
  }, [rows, columns, query, sort]);

  return (
    <div className="resource-table">
      <input
        type="search"
        className="search"
        aria-label={t('Search {{what}}', { what: label })}
        placeholder={t('Search by name')}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {rows.length === 0 ? (
        <p className="empty-inline">{empty}</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table" aria-label={label}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.id} scope="col" className={c.numeric ? 'num' : undefined} aria-sort={sort.id === c.id ? (sort.asc ? 'ascending' : 'descending') : undefined}>
                    <button type="button" className="sort-button" onClick={() => setSort((s) => ({ id: c.id, asc: s.id === c.id ? !s.asc : true }))}>
                      {c.header}
                      <span aria-hidden="true">{sort.id === c.id ? (sort.asc ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={rowKey(r)}>
                  {columns.map((c, i) => {
                    const content = c.render ? c.render(r) : c.value(r);
                    return i === 0 ? (
                      <th key={c.id} scope="row" className="mono">
                        {content}
                      </th>
                    ) : (
                      <td key={c.id} className={c.numeric ? 'num' : undefined}>
                        {content}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          {shown.length === 0 && <p className="empty-inline table-note">{t('Nothing matches “{{query}}”.', { query })}</p>}
        </div>
      )}
    </div>
  );
}
