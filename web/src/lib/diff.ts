// A line diff, small and readable: the longest common subsequence of the
// two texts' lines, then unchanged lines far from a change are folded.

export type DiffOp = ' ' | '+' | '-';

export interface DiffLine {
  op: DiffOp;
  text: string;
}

/** diffLines says how to turn a's lines into b's. */
export function diffLines(a: string, b: string): DiffLine[] {
  const x = a === '' ? [] : a.replace(/\n$/, '').split('\n');
  const y = b === '' ? [] : b.replace(/\n$/, '').split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j] is the LCS length of x[i:] and y[j:].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push({ op: '-', text: x[i++]! });
    } else {
      out.push({ op: '+', text: y[j++]! });
    }
  }
  while (i < n) out.push({ op: '-', text: x[i++]! });
  while (j < m) out.push({ op: '+', text: y[j++]! });
  return out;
}

/** isUnchanged is true when a diff has no additions or removals. */
export function isUnchanged(d: DiffLine[]): boolean {
  return d.every((l) => l.op === ' ');
}

/** Hunk marks lines folded away between changes. */
export interface Fold {
  op: '…';
  count: number;
}

/** foldContext keeps `context` unchanged lines around each change. */
export function foldContext(d: DiffLine[], context = 3): (DiffLine | Fold)[] {
  const keep = d.map(() => false);
  d.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(d.length - 1, i + context); k++) keep[k] = true;
  });
  const out: (DiffLine | Fold)[] = [];
  let folded = 0;
  d.forEach((l, i) => {
    if (keep[i]) {
      if (folded) out.push({ op: '…', count: folded });
      folded = 0;
      out.push(l);
    } else folded++;
  });
  if (folded) out.push({ op: '…', count: folded });
  return out;
}
