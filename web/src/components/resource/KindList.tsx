import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { formatAge } from '../../lib/k8s/age';
import { objectURL, type Action, type AnyObject, type KindDef } from '../../lib/k8s/kinds';
import { useWatchList } from '../../lib/k8s/watch';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { ResourceTable, type Column } from '../common/ResourceTable';
import { useNow } from '../common/useNow';
import { ActionButtons, ActionDialog, useAllowedActions } from './actions';
import { StatusText } from './status';

/**
 * KindList is the live table of one kind in a namespace: name (linking to
 * its page), status, the kind's own columns, age, and the actions the user
 * may take.
 */
export function KindList({ cluster, namespace, def }: { cluster: string; namespace: string; def: KindDef }) {
  const { t } = useTranslation();
  const live = useWatchList<AnyObject>(cluster, def.resource, namespace);
  const now = useNow();
  const actions = useAllowedActions(cluster, def, namespace);
  const [pending, setPending] = useState<{ action: Action; object: AnyObject } | null>(null);
  const rows = useMemo(() => live.items ?? [], [live.items]);
  const columns = useMemo(() => {
    const cols: Column<AnyObject>[] = [
      {
        id: 'name',
        header: t('Name'),
        value: (o) => o.metadata.name,
        render: (o) => (
          <Link className="row-link" to={objectURL(cluster, namespace, def.resource.kind, o.metadata.name) ?? '#'}>
            {o.metadata.name}
          </Link>
        ),
      },
    ];
    const status = def.status;
    if (status) cols.push({ id: 'status', header: t('Status'), value: (o) => status(o).text, render: (o) => <StatusText status={status(o)} /> });
    for (const c of def.columns) {
      cols.push({ id: c.id, header: c.header(t), value: c.value, render: c.display ?? ((o) => String(c.value(o)) || '—'), numeric: c.numeric });
    }
    cols.push({ id: 'age', header: t('Age'), value: (o) => -Date.parse(o.metadata.creationTimestamp ?? ''), render: (o) => formatAge(o.metadata.creationTimestamp ?? '', now), numeric: true });
    if (actions.length > 0) {
      cols.push({ id: 'actions', header: t('Actions'), value: () => '', render: (o) => <ActionButtons actions={actions} name={o.metadata.name} onAction={(action) => setPending({ action, object: o })} /> });
    }
    return cols;
  }, [t, cluster, namespace, def, now, actions]);
  if (live.items === undefined) {
    return live.error ? <ErrorMessage title={t('Could not load {{what}}.', { what: def.label(t) })} error={live.error} /> : <Loading />;
  }
  return (
    <>
      {live.error !== undefined && <ErrorMessage title={t('Live updates stopped; retrying.')} error={live.error} />}
      <ResourceTable label={def.label(t)} rows={rows} rowKey={(o) => o.metadata.name} columns={columns} empty={def.empty(t)} />
      {pending && <ActionDialog action={pending.action} cluster={cluster} def={def} object={pending.object} onClose={() => setPending(null)} />}
    </>
  );
}
