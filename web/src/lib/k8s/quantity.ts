// Kubernetes resource quantities ("500m", "64", "256Gi", "1.5e3") as
// numbers, and their display.

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const pattern = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** parseQuantity returns the value of a quantity, or NaN if it is not one. */
export function parseQuantity(q: string | undefined): number {
  if (q === undefined) return NaN;
  const m = pattern.exec(q.trim());
  if (!m) return NaN;
  const base = Number(m[1]);
  if (m[2]) return Number(m[1] + m[2]);
  return base * (suffixes[m[3] ?? ''] ?? NaN);
}

/** quantityOr is parseQuantity with a default for absent or invalid values. */
export function quantityOr(q: string | undefined, fallback = 0): number {
  const v = parseQuantity(q);
  return Number.isNaN(v) ? fallback : v;
}

function formatNumber(value: number, locale: string, maxFractionDigits: number): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: maxFractionDigits }).format(value);
}

/** formatCores shows CPU cores: 0.25, 3.5, 64. */
export function formatCores(cores: number, locale: string): string {
  return formatNumber(cores, locale, cores < 10 ? 2 : 1);
}

const binaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** formatBytes shows memory in binary units, as Kubernetes writes it: 1.5 GiB. */
export function formatBytes(bytes: number, locale: string): string {
  // "0" rather than "0 B" beside "384 GiB".
  if (bytes === 0) return '0';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < binaryUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${formatNumber(value, locale, value < 10 && unit > 0 ? 1 : 0)} ${binaryUnits[unit]}`;
}

/** formatCount shows whole things (GPUs, nodes). */
export function formatCount(n: number, locale: string): string {
  return formatNumber(n, locale, 0);
}
