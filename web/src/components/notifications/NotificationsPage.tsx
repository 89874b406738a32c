import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { markAllNotificationsRead, markNotificationRead, type Notification } from '../../lib/api';
import { notificationsKey, useNotifications } from '../../lib/queries';
import { ErrorMessage } from '../common/ErrorMessage';
import { Loading } from '../common/Loading';
import { useTitle } from '../common/useTitle';

/**
 * NotificationsPage lists what the user was told — access to a cluster or
 * a project they just gained — newest first, with where to go next.
 */
export function NotificationsPage() {
  const { t } = useTranslation();
  useTitle(t('Notifications'));
  const feed = useNotifications();
  const client = useQueryClient();
  const done = () => client.invalidateQueries({ queryKey: notificationsKey });
  const readOne = useMutation({ mutationFn: markNotificationRead, onSuccess: done });
  const readAll = useMutation({ mutationFn: markAllNotificationsRead, onSuccess: done });
  const error = feed.error ?? readOne.error ?? readAll.error;
  return (
    <main id="main" className="page">
      <div className="section-header">
        <h1>{t('Notifications')}</h1>
        {feed.data && feed.data.unread > 0 && (
          <button type="button" className="button" disabled={readAll.isPending} onClick={() => readAll.mutate()}>
            {t('Mark all read')}
          </button>
        )}
      </div>
      {error && <ErrorMessage title={t('Could not read or update your notifications')} error={error} onRetry={() => feed.refetch()} />}
      {feed.isPending && <Loading />}
      {feed.data && feed.data.items.length === 0 && (
        <p className="empty-state">{t('Nothing yet: when you are given access to a cluster or a project, it shows here with how to reach it.')}</p>
      )}
      {feed.data && feed.data.items.length > 0 && (
        <ul className="notification-list" aria-label={t('Notifications')}>
          {feed.data.items.map((n) => (
            <NotificationItem key={n.name} n={n} onRead={() => readOne.mutate(n.name)} busy={readOne.isPending} />
          ))}
        </ul>
      )}
    </main>
  );
}

/** text words a notification in the user's language from its fields. */
function useText(n: Notification): string {
  const { t } = useTranslation();
  if (n.reason !== 'AccessGranted' || !n.cluster || !n.roleTemplate) return n.message;
  const v = { cluster: n.cluster, project: n.project, role: n.roleTemplate, group: n.via };
  if (n.project) {
    return n.via
      ? t('You were added to project {{project}} on cluster {{cluster}} as {{role}} through group {{group}}.', v)
      : t('You were added to project {{project}} on cluster {{cluster}} as {{role}}.', v);
  }
  return n.via ? t('You can now reach cluster {{cluster}} as {{role}} through group {{group}}.', v) : t('You can now reach cluster {{cluster}} as {{role}}.', v);
}

function NotificationItem({ n, onRead, busy }: { n: Notification; onRead: () => void; busy: boolean }) {
  const { t, i18n } = useTranslation();
  const unread = !n.readTime;
  const text = useText(n);
  return (
    <li className={unread ? 'notification unread' : 'notification'} aria-label={text}>
      <p className="notification-message">
        {unread && <span className="badge">{t('New')}</span>} {text}
      </p>
      <p className="notification-meta">
        <time dateTime={n.time}>{new Date(n.time).toLocaleString(i18n.language)}</time>
        {n.cluster && (
          <>
            {' · '}
            <Link to={`/clusters/${encodeURIComponent(n.cluster)}`}>{t('Open {{cluster}}', { cluster: n.cluster })}</Link>
          </>
        )}
        {' · '}
        <a href={n.kubeconfigURL} download="kubeconfig">
          {t('Download kubeconfig')}
        </a>
        {unread && (
          <>
            {' · '}
            <button type="button" className="link-button" disabled={busy} onClick={onRead}>
              {t('Mark read')}
            </button>
          </>
        )}
      </p>
    </li>
  );
}
