// Ages as kubectl writes them (45s, 12m, 3h, 5d): short, and the same in
// every language.

export function formatAge(created: string, now: number): string {
  const t = Date.parse(created);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
