import { useTranslation } from 'react-i18next';
import { foldContext, type DiffLine } from '../../lib/diff';

/** DiffView shows a line diff; + and - lead each line, so colour is not the only signal. */
export function DiffView({ diff, label }: { diff: DiffLine[]; label: string }) {
  const { t } = useTranslation();
  return (
    <pre className="diff" aria-label={label} tabIndex={0}>
      {foldContext(diff).map((l, i) =>
        l.op === '…' ? (
          <span key={i} className="diff-line diff-fold">
            {t('… {{lines}} unchanged lines', { lines: l.count })}
          </span>
        ) : (
          <span key={i} className={`diff-line${l.op === '+' ? ' diff-add' : l.op === '-' ? ' diff-del' : ''}`}>
            {l.op} {l.text}
          </span>
        ),
      )}
    </pre>
  );
}
