/** StatusBadge is a coloured word: the word carries the meaning, the colour helps. */
export function StatusBadge({ tone, children }: { tone: 'ok' | 'bad' | 'unknown'; children: string }) {
  return (
    <span className={`status-badge ${tone}`}>
      <span className="status-dot" aria-hidden="true" />
      {children}
    </span>
  );
}
