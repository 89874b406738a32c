import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setCsrfToken } from '../../lib/api';
import { json } from '../../test/fetch';
import { renderApp } from '../../test/render';
import { specSection } from './ProviderForm';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const ldap = {
  name: 'corp',
  spec: {
    type: 'LDAP',
    displayName: 'Corp directory',
    state: 'Enabled',
    ldap: { url: 'ldaps://ldap.corp:636', bindDN: 'cn=bokujo,dc=corp', bindPasswordRef: { name: 'authprovider-corp' }, userBaseDN: 'ou=people,dc=corp', groupSearch: { baseDN: 'ou=groups,dc=corp' } },
  },
};

describe('ProviderForm', () => {
  it('creates an OIDC provider with its secret, then tests it and shows the precise failure', async () => {
    const user = userEvent.setup();
    let providers: object[] = [];
    const calls = renderApp('/admin/providers', (c) => {
      if (c.url === '/v1/admin/authproviders/corp-sso' && c.method === 'PUT') {
        providers = [{ name: 'corp-sso', spec: JSON.parse(c.body!).spec }];
        return json(201, providers[0]);
      }
      if (c.url === '/v1/auth/providers/corp-sso/test') return json(200, { ready: false, reason: 'DNSFailed', message: 'lookup login.corp.example: no such host' });
      if (c.url.startsWith('/v1/admin/authproviders?')) return json(200, { items: providers });
      return undefined;
    });
    expect(await screen.findByText('No identity providers: only local accounts can log in.')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Add an identity provider' }));
    const form = screen.getByRole('form', { name: 'Add an identity provider' });
    const test = within(form).getByRole('button', { name: 'Test connection' }) as HTMLButtonElement;
    expect(test.disabled).toBe(true);
    await user.type(within(form).getByLabelText('Name'), 'corp-sso');
    await user.type(within(form).getByLabelText('Login button label'), 'Corp SSO');
    await user.type(within(form).getByLabelText('Issuer URL *'), 'https://login.corp.example');
    await user.type(within(form).getByLabelText('Client ID *'), 'bokujo');
    await user.type(within(form).getByLabelText('Scopes'), 'email, groups');
    const save = within(form).getByRole('button', { name: 'Save' }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    await user.type(within(form).getByLabelText('Client secret *'), 'shh');
    await user.click(save);
    const put = await vi.waitFor(() => calls.find((c) => c.method === 'PUT')!);
    expect(JSON.parse(put.body!)).toEqual({
      spec: { type: 'OIDC', state: 'Enabled', displayName: 'Corp SSO', oidc: { issuerURL: 'https://login.corp.example', clientID: 'bokujo', scopes: ['email', 'groups'] } },
      secret: 'shh',
    });
    expect(await within(screen.getByRole('table', { name: 'Identity providers' })).findByRole('rowheader', { name: 'corp-sso' })).toBeTruthy();
    // The secret field is emptied after saving: nothing keeps the value.
    expect((within(form).getByLabelText('Client secret') as HTMLInputElement).value).toBe('');
    await vi.waitFor(() => expect(test.disabled).toBe(false));
    await user.click(test);
    expect(await within(form).findByText('The connection test failed: DNSFailed')).toBeTruthy();
    expect(within(form).getByText('lookup login.corp.example: no such host')).toBeTruthy();
  });

  it('edits an LDAP provider without sending a secret, keeping fields it does not show', async () => {
    const user = userEvent.setup();
    const calls = renderApp('/admin/providers', (c) => {
      if (c.method === 'PUT') return json(400, { error: { code: 'Invalid', message: 'spec.ldap.url: Invalid value: "ldap://x": must start with ldap:// or ldaps://' } });
      if (c.url.startsWith('/v1/admin/authproviders?')) return json(200, { items: [ldap] });
      return undefined;
    });
    await user.click(await screen.findByRole('button', { name: 'Edit corp' }));
    const form = screen.getByRole('form', { name: 'Edit corp' });
    expect((within(form).getByLabelText('Name') as HTMLInputElement).disabled).toBe(true);
    expect((within(form).getByLabelText('Bind password') as HTMLInputElement).value).toBe('');
    expect((within(form).getByLabelText('Group base DN') as HTMLInputElement).value).toBe('ou=groups,dc=corp');
    await user.click(within(form).getByLabelText('Count nested groups'));
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    expect(await within(form).findByText(/must start with ldap:\/\/ or ldaps:\/\//)).toBeTruthy();
    const body = JSON.parse(calls.find((c) => c.method === 'PUT')!.body!);
    expect(body.secret).toBeUndefined();
    expect(body.spec.ldap).toEqual({ ...ldap.spec.ldap, nestedGroups: true });
  });

  it('drops emptied fields so the server’s defaults apply', () => {
    expect(specSection('LDAP', { url: 'ldaps://x', 'groupSearch.baseDN': '', nestedGroups: false }, { url: 'ldap://old', groupSearch: { baseDN: 'ou=g' }, nestedGroups: true })).toEqual({ url: 'ldaps://x' });
  });
});
