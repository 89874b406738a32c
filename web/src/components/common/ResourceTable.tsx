import { useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
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
  /** The sort at first; the first column ascending by default. */
  initialSort?: { id: string; asc: boolean };
}

/** Tables longer than this render only the rows in view (and a margin). */
export const VIRTUAL_FROM = 200;
/** Row height until one is measured, in pixels. */
const ESTIMATED_ROW_PX = 38;
/** Rows rendered above and below the visible ones, so fast scrolling does not show gaps. */
const OVERSCAN = 15;
/** Height of the scrolled box until it is measured. */
const ESTIMATED_VIEW_PX = 640;

const collator = new Intl.Collator(undefined, { numeric: true });

/**
 * ResourceTable is a searchable table sorted by any column; the sort state
 * is announced through aria-sort on the header. A long table (30,000 pods)
 * is virtualized: it scrolls in a box of its own and only the rows in view
 * are in the DOM, between two spacers as high as the rows left out;
 * aria-rowcount and aria-rowindex tell assistive technology the real size.
 * Written here rather than taken from a library because it is forty lines
 * on a table whose rows have one height.
 */
export function ResourceTable<R>({ label, rows, rowKey, columns, empty, initialSort }: Props<R>) {
  const { t } = useTranslation();
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<{ id: string; asc: boolean }>(initialSort ?? { id: columns[0]?.id ?? '', asc: true });
  // Pages rebuild their columns on every render (a clock tick re-renders
  // ages): filtering and sorting 30,000 rows again for that would stall the
  // page. They are redone when the rows, the search, the sort or the
  // columns themselves (ids, and the label, which follows the language)
  // change; the latest columns are read through a ref.
  const columnsRef = useRef(columns);
  columnsRef.current = columns;
  const columnKey = `${label}|${columns.map((c) => c.id).join('|')}`;
  const shown = useMemo(() => {
    const columns = columnsRef.current;
    const first = columns[0];
    const q = query.trim().toLowerCase();
    const col = columns.find((c) => c.id === sort.id) ?? first;
    const filtered = first && q ? rows.filter((r) => String(first.value(r)).toLowerCase().includes(q)) : rows;
    if (!col) return filtered;
    return [...filtered].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
      return sort.asc ? c : -c;
    });
    // columnKey stands for the columns (see above).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows, columnKey, query, sort]);

  const virtual = shown.length > VIRTUAL_FROM;
  const box = useRef<HTMLDivElement>(null);
  const body = useRef<HTMLTableSectionElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [rowPx, setRowPx] = useState(ESTIMATED_ROW_PX);
  const [viewPx, setViewPx] = useState(ESTIMATED_VIEW_PX);
  const frame = useRef(0);
  useLayoutEffect(() => {
    if (!virtual) return;
    // The rows' mean height, fractions kept: rounded heights differ from
    // row to row, and spacers sized by one of them drift by hundreds of
    // rows over a long table.
    const rows = body.current?.querySelectorAll<HTMLTableRowElement>('tr[aria-rowindex]');
    const firstRow = rows?.[0];
    const lastRow = rows?.[rows.length - 1];
    if (firstRow && lastRow) {
      const mean = (lastRow.getBoundingClientRect().bottom - firstRow.getBoundingClientRect().top) / rows.length;
      if (mean > 0 && Math.abs(mean - rowPx) > 0.01) setRowPx(mean);
    }
    const h = box.current?.clientHeight ?? 0;
    if (h > 0 && h !== viewPx) setViewPx(h);
  });
  let first = 0;
  let last = shown.length;
  if (virtual) {
    first = Math.max(0, Math.floor(scrollTop / rowPx) - OVERSCAN);
    last = Math.min(shown.length, Math.ceil((scrollTop + viewPx) / rowPx) + OVERSCAN);
  }
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setScrollTop(box.current?.scrollTop ?? 0);
    });
  };

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
        <div className={virtual ? 'table-scroll virtual' : 'table-scroll'} ref={box} onScroll={virtual ? onScroll : undefined} tabIndex={virtual ? 0 : undefined} aria-label={virtual ? t('{{count}} rows, scroll to see more', { count: shown.length }) : undefined} role={virtual ? 'region' : undefined}>
          <table className="data-table" aria-label={label} aria-rowcount={virtual ? shown.length + 1 : undefined}>
            <thead>
              <tr aria-rowindex={virtual ? 1 : undefined}>
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
            <tbody ref={body}>
              {first > 0 && <tr aria-hidden="true" className="spacer" style={{ height: first * rowPx }} />}
              {shown.slice(first, last).map((r, i) => (
                <tr key={rowKey(r)} aria-rowindex={virtual ? first + i + 2 : undefined}>
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
              {last < shown.length && <tr aria-hidden="true" className="spacer" style={{ height: (shown.length - last) * rowPx }} />}
            </tbody>
          </table>
          {shown.length === 0 && <p className="empty-inline table-note">{t('Nothing matches “{{query}}”.', { query })}</p>}
        </div>
      )}
    </div>
  );
}
