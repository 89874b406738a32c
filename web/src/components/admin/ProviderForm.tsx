import { useId, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { putProvider, testProvider, type AuthProvider, type ProviderTest } from '../../lib/admin';
import { ErrorMessage } from '../common/ErrorMessage';

type ProviderType = 'OIDC' | 'LDAP' | 'GitHub';
type FieldKind = 'text' | 'bool' | 'list' | 'pem';

interface Field {
  /** Path in the type's spec section; "groupSearch.baseDN" is nested. */
  key: string;
  label: (t: TFunction) => string;
  kind: FieldKind;
  required?: boolean;
  placeholder?: string;
  hint?: (t: TFunction) => string;
}

/** The fields of each type, as in api/management/v1alpha1/authprovider_types.go; secret references are set by the server. */
const FIELDS: Record<ProviderType, Field[]> = {
  OIDC: [
    { key: 'issuerURL', label: (t) => t('Issuer URL'), kind: 'text', required: true, placeholder: 'https://login.example.com/realms/main', hint: (t) => t('HTTPS; its discovery document is read from ISSUER/.well-known/openid-configuration.') },
    { key: 'clientID', label: (t) => t('Client ID'), kind: 'text', required: true },
    { key: 'scopes', label: (t) => t('Scopes'), kind: 'list', placeholder: 'profile, email, groups, offline_access', hint: (t) => t('Comma-separated, besides openid. Empty: profile, email, groups, offline_access.') },
    { key: 'usernameClaim', label: (t) => t('Username claim'), kind: 'text', placeholder: 'preferred_username' },
    { key: 'groupsClaim', label: (t) => t('Groups claim'), kind: 'text', placeholder: 'groups' },
    { key: 'groupPrefix', label: (t) => t('Group prefix'), kind: 'text', placeholder: 'oidc:' },
    { key: 'caData', label: (t) => t('CA certificates (PEM)'), kind: 'pem', hint: (t) => t('Only when the system roots do not sign the provider’s certificate.') },
  ],
  LDAP: [
    { key: 'url', label: (t) => t('Server URL'), kind: 'text', required: true, placeholder: 'ldaps://ldap.example.com:636' },
    { key: 'startTLS', label: (t) => t('Upgrade ldap:// with StartTLS before binding'), kind: 'bool' },
    { key: 'caData', label: (t) => t('CA certificates (PEM)'), kind: 'pem' },
    { key: 'bindDN', label: (t) => t('Bind DN'), kind: 'text', required: true, placeholder: 'cn=bokujo,ou=services,dc=example,dc=com' },
    { key: 'userBaseDN', label: (t) => t('User base DN'), kind: 'text', required: true, placeholder: 'ou=people,dc=example,dc=com' },
    { key: 'userFilter', label: (t) => t('User filter'), kind: 'text', placeholder: '(uid={username})', hint: (t) => t('Active Directory: (sAMAccountName={username}).') },
    { key: 'usernameAttribute', label: (t) => t('Username attribute'), kind: 'text', placeholder: 'uid' },
    { key: 'displayNameAttribute', label: (t) => t('Display name attribute'), kind: 'text', placeholder: 'cn' },
    { key: 'groupSearch.baseDN', label: (t) => t('Group base DN'), kind: 'text', placeholder: 'ou=groups,dc=example,dc=com' },
    { key: 'groupSearch.filter', label: (t) => t('Group filter'), kind: 'text', placeholder: '(member={dn})' },
    { key: 'groupSearch.nameAttribute', label: (t) => t('Group name attribute'), kind: 'text', placeholder: 'cn' },
    { key: 'memberOfAttribute', label: (t) => t('Member-of attribute'), kind: 'text', placeholder: 'memberOf' },
    { key: 'nestedGroups', label: (t) => t('Count nested groups'), kind: 'bool' },
    { key: 'groupPrefix', label: (t) => t('Group prefix'), kind: 'text', placeholder: 'ldap:' },
  ],
  GitHub: [
    { key: 'baseURL', label: (t) => t('GitHub Enterprise Server URL'), kind: 'text', placeholder: 'https://github.example.com', hint: (t) => t('Empty for github.com.') },
    { key: 'clientID', label: (t) => t('Client ID'), kind: 'text', required: true },
    { key: 'allowedOrganizations', label: (t) => t('Allowed organizations'), kind: 'list', hint: (t) => t('Comma-separated; empty admits every GitHub user.') },
    { key: 'teamsAsGroups', label: (t) => t('Teams as groups (org/team)'), kind: 'bool' },
    { key: 'groupPrefix', label: (t) => t('Group prefix'), kind: 'text', placeholder: 'github:' },
    { key: 'caData', label: (t) => t('CA certificates (PEM)'), kind: 'pem' },
  ],
};

const SECTION: Record<ProviderType, 'oidc' | 'ldap' | 'github'> = { OIDC: 'oidc', LDAP: 'ldap', GitHub: 'github' };

type Values = Record<string, string | boolean>;

function read(section: Record<string, unknown> | undefined, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), section);
}

function valuesOf(type: ProviderType, section: Record<string, unknown> | undefined): Values {
  const v: Values = {};
  for (const f of FIELDS[type]) {
    const x = read(section, f.key);
    v[f.key] = f.kind === 'bool' ? x === true : f.kind === 'list' ? (Array.isArray(x) ? x.join(', ') : '') : typeof x === 'string' ? x : '';
  }
  return v;
}

/**
 * specSection builds the type's spec section from the form, on top of the
 * stored one (fields the form does not know are kept); emptied fields are
 * dropped so the server's defaults apply.
 */
export function specSection(type: ProviderType, values: Values, base: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const f of FIELDS[type]) {
    const path = f.key.split('.');
    const last = path.pop()!;
    let o = out;
    for (const p of path) o = (o[p] ??= {}) as Record<string, unknown>;
    const v = values[f.key];
    const value = f.kind === 'bool' ? v === true || undefined : f.kind === 'list' ? String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean) : String(v ?? '').trim();
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) delete o[last];
    else o[last] = value;
  }
  const gs = out.groupSearch as Record<string, unknown> | undefined;
  if (gs && Object.keys(gs).length === 0) delete out.groupSearch;
  return out;
}

const PROVIDER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** ProviderForm creates a provider or edits one; the secret is write-only. */
export function ProviderForm({ existing, onSaved, onClose }: { existing?: AuthProvider; onSaved: () => void; onClose: () => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState(existing?.name ?? '');
  const [type, setType] = useState<ProviderType>((existing?.spec.type as ProviderType) ?? 'OIDC');
  const [displayName, setDisplayName] = useState(existing?.spec.displayName ?? '');
  const [enabled, setEnabled] = useState(existing?.spec.state !== 'Disabled');
  const section = (ty: ProviderType) => existing?.spec[SECTION[ty]] as Record<string, unknown> | undefined;
  const [values, setValues] = useState<Values>(() => valuesOf(type, section(type)));
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(existing !== undefined);
  const [test, setTest] = useState<ProviderTest | null>(null);
  const ids = { name: useId(), type: useId(), display: useId(), secret: useId(), secretHint: useId() };
  const fieldId = useId();
  const secretLabel = type === 'LDAP' ? t('Bind password') : t('Client secret');
  const editing = existing !== undefined || saved;
  const missing = FIELDS[type].some((f) => f.required && !String(values[f.key] ?? '').trim());
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setTest(null);
    try {
      const spec: AuthProvider['spec'] = { type, state: enabled ? 'Enabled' : 'Disabled', [SECTION[type]]: specSection(type, values, section(type)) };
      if (displayName.trim()) spec.displayName = displayName.trim();
      await putProvider(name, spec, secret);
      setSecret('');
      setSaved(true);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const runTest = async () => {
    setBusy(true);
    setError(undefined);
    setTest(null);
    try {
      setTest(await testProvider(name));
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card dialog-form" onSubmit={(e) => void submit(e)} aria-label={editing ? t('Edit {{name}}', { name }) : t('Add an identity provider')}>
      <h3>{editing ? t('Edit {{name}}', { name }) : t('Add an identity provider')}</h3>
      <label htmlFor={ids.name}>{t('Name')}</label>
      <input id={ids.name} required disabled={editing} autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={name !== '' && !PROVIDER_NAME.test(name)} placeholder="corp-sso" />
      <p className="field-hint">{t('Part of the login address; lower-case letters, digits and dashes.')}</p>
      <label htmlFor={ids.type}>{t('Type')}</label>
      <select
        id={ids.type}
        disabled={editing}
        value={type}
        onChange={(e) => {
          const ty = e.target.value as ProviderType;
          setType(ty);
          setValues(valuesOf(ty, section(ty)));
        }}
      >
        <option value="OIDC">OpenID Connect</option>
        <option value="LDAP">LDAP / Active Directory</option>
        <option value="GitHub">GitHub</option>
      </select>
      <label htmlFor={ids.display}>{t('Login button label')}</label>
      <input id={ids.display} autoComplete="off" maxLength={256} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        {t('Enabled: offered on the login page')}
      </label>
      {FIELDS[type].map((f, i) => {
        const id = `${fieldId}-${i}`;
        const v = values[f.key];
        const set = (x: string | boolean) => setValues({ ...values, [f.key]: x });
        if (f.kind === 'bool') {
          return (
            <label key={f.key} className="check">
              <input type="checkbox" checked={v === true} onChange={(e) => set(e.target.checked)} />
              {f.label(t)}
            </label>
          );
        }
        return (
          <div key={f.key} className="form-field">
            <label htmlFor={id}>{f.required ? `${f.label(t)} *` : f.label(t)}</label>
            {f.kind === 'pem' ? (
              <textarea id={id} className="mono" rows={4} spellCheck={false} value={String(v ?? '')} onChange={(e) => set(e.target.value)} placeholder="-----BEGIN CERTIFICATE-----" />
            ) : (
              <input id={id} required={f.required} autoComplete="off" spellCheck={false} value={String(v ?? '')} onChange={(e) => set(e.target.value)} placeholder={f.placeholder} />
            )}
            {f.hint && <p className="field-hint">{f.hint(t)}</p>}
          </div>
        );
      })}
      <label htmlFor={ids.secret}>{editing ? secretLabel : `${secretLabel} *`}</label>
      <input id={ids.secret} type="password" autoComplete="new-password" required={!editing} value={secret} onChange={(e) => setSecret(e.target.value)} aria-describedby={ids.secretHint} />
      <p id={ids.secretHint} className="field-hint">
        {editing ? t('Write-only: it is never shown. Leave it empty to keep the stored one.') : t('Write-only: it is stored in a Secret of the management cluster and never shown again.')}
      </p>
      {error !== undefined && <ErrorMessage title={t('The identity provider could not be saved or tested.')} error={error} />}
      {test && (
        <div className={test.ready ? 'notice' : 'error-box'} role="status">
          <p className="error-title">{test.ready ? t('The connection works.') : t('The connection test failed: {{reason}}', { reason: test.reason })}</p>
          {test.message && <p className="error-detail">{test.message}</p>}
        </div>
      )}
      <div className="dialog-buttons">
        <button type="button" className="button" onClick={onClose}>
          {t('Close')}
        </button>
        <button type="button" className="button" disabled={busy || !saved} onClick={() => void runTest()} title={saved ? undefined : t('Save first: the test uses the stored settings.')}>
          {t('Test connection')}
        </button>
        <button type="submit" className="button primary" disabled={busy || !PROVIDER_NAME.test(name) || missing || (!editing && !secret)}>
          {t('Save')}
        </button>
      </div>
    </form>
  );
}
