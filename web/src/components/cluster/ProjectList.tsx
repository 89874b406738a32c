import { useTranslation } from 'react-i18next';
import type { Project } from '../../lib/api';

export function ProjectList({ projects }: { projects: Project[] }) {
  const { t } = useTranslation();
  if (projects.length === 0) {
    return <p className="empty-inline">{t('No projects you can see on this cluster. Administrators create projects to group namespaces and share them with people.')}</p>;
  }
  return (
    <ul className="project-list">
      {projects.map((p) => (
        <li key={p.name} className="card">
          <h3>{p.displayName || p.name}</h3>
          {p.displayName && <p className="muted mono">{p.name}</p>}
          {p.namespaces && p.namespaces.length > 0 ? (
            <p>
              <span className="muted">{t('glossary|Namespaces')}: </span>
              {p.namespaces.map((ns) => (
                <span key={ns} className="chip mono">
                  {ns}
                </span>
              ))}
            </p>
          ) : (
            <p className="muted">{t('No namespaces yet')}</p>
          )}
        </li>
      ))}
    </ul>
  );
}
