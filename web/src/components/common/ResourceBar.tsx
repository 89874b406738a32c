import { useId } from 'react';
import { useTranslation } from 'react-i18next';

export interface ResourceBarProps {
  /** What is measured, e.g. "GPU"; the meter's accessible name. */
  label: string;
  used: number;
  total: number;
  /** Formats an amount: "3.5", or "120 GiB" when the unit varies. */
  format: (n: number) => string;
  /** Unit written once after the total, e.g. "cores". */
  unit?: string;
  /** The meter's spoken text; default "… requested (…%)". */
  describe?: (amount: string, percent: number) => string;
}

/** Level thresholds: above these a resource is getting, then is, scarce. */
const WARN_PERCENT = 70;
const HIGH_PERCENT = 90;

export function usagePercent(used: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.round((used / total) * 100);
}

export function usageLevel(percent: number): 'ok' | 'warn' | 'high' {
  if (percent >= HIGH_PERCENT) return 'high';
  if (percent >= WARN_PERCENT) return 'warn';
  return 'ok';
}

/**
 * ResourceBar shows how much of a resource pods requested out of what the
 * cluster offers, as a meter with its numbers also written out (colour is
 * never the only signal).
 */
export function ResourceBar({ label, used, total, format, unit, describe }: ResourceBarProps) {
  const { t } = useTranslation();
  const labelId = useId();
  if (!(total > 0)) {
    return (
      <div className="resource-bar none">
        <span className="resource-label">{label}</span>
        <span className="resource-value">{t('none')}</span>
      </div>
    );
  }
  const percent = usagePercent(used, total);
  const level = usageLevel(percent);
  const amount = `${format(used)} / ${format(total)}${unit ? ` ${unit}` : ''}`;
  const text = describe ? describe(amount, percent) : t('{{amount}} requested ({{percent}}%)', { amount, percent });
  return (
    <div className={`resource-bar ${level}`}>
      <span className="resource-label" id={labelId}>
        {label}
      </span>
      <span className="resource-value" aria-hidden="true">
        {amount}
        <span className="resource-percent">{percent}%</span>
      </span>
      <div
        className="meter"
        role="meter"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={Math.min(used, total)}
        aria-valuetext={text}
      >
        {/* Set through the CSSOM, which the CSP's style-src allows. */}
        <div className="meter-fill" style={{ width: `${Math.min(percent, 100)}%` }} />
      </div>
    </div>
  );
}
