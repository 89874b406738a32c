// Role templates, groups and projects against the /v1 contract: lists are
// {"items":[...]}, objects are the CRD spec fields plus name, errors the
// /v1 error shape.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setCsrfToken } from '../../lib/api';
import { json } from '../../test/fetch';
import { renderApp } from '../../test/render';
import { projectFrom } from './ProjectsTab';
import { toRule } from './RoleTemplatesTab';

afterEach(() => {
  setCsrfToken('');
  vi.unstubAllGlobals();
});

const users = [
  { name: 'u-bob', username: 'bob', state: 'Active' },
  { name: 'u-carol', username: 'carol', state: 'Active', groups: ['oidc:ops'] },
];

describe('RoleTemplatesTab', () => {
  const builtin = { name: 'project-viewer', context: 'Project', builtin: true, rules: [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }] };
  const custom = { name: 'gpu-user', context: 'Project', builtin: false, rules: [] };

  it('shows a template’s rules, creates a custom one with the rules editor, and hides delete for built-in ones', async () => {
    const user = userEvent.setup();
    let items: object[] = [builtin];
    const calls = renderApp('/admin/roletemplates', (c) => {
      if (c.url === '/v1/roletemplates' && c.method === 'POST') {
        items = [...items, { ...JSON.parse(c.body!), builtin: false }];
        return json(201, JSON.parse(c.body!));
      }
      if (c.url.startsWith('/v1/roletemplates?')) return json(200, { items, continue: '' });
      return undefined;
    });
    const table = await screen.findByRole('table', { name: 'Role templates' });
    const row = within(table).getByRole('row', { name: /project-viewer/ });
    expect(within(row).queryByRole('button', { name: 'Delete project-viewer' })).toBeNull();
    await user.click(within(row).getByRole('button', { name: 'View the rules of project-viewer' }));
    const rules = screen.getByRole('dialog', { name: 'Rules of project-viewer' });
    expect(within(rules).getByText('get, list')).toBeTruthy();
    expect(within(rules).getByText('""')).toBeTruthy();
    await user.click(within(rules).getByRole('button', { name: 'Close' }));

    await user.click(screen.getByRole('button', { name: 'Create a role template' }));
    const form = screen.getByRole('form', { name: 'Create a role template' });
    await user.type(within(form).getByLabelText('Name'), 'gpu-user');
    const rule1 = within(form).getByRole('group', { name: 'Rule 1' });
    await user.type(within(rule1).getByLabelText('Resources'), 'pods, pods/log');
    await user.click(within(form).getByRole('button', { name: 'Add a rule' }));
    const rule2 = within(form).getByRole('group', { name: 'Rule 2' });
    await user.clear(within(rule2).getByLabelText('Verbs'));
    await user.type(within(rule2).getByLabelText('Verbs'), 'create');
    await user.clear(within(rule2).getByLabelText('API groups'));
    await user.type(within(rule2).getByLabelText('API groups'), 'batch');
    await user.type(within(rule2).getByLabelText('Resources'), 'jobs');
    await user.click(within(form).getByRole('button', { name: 'Create' }));
    expect(await within(screen.getByRole('table', { name: 'Role templates' })).findByRole('rowheader', { name: 'gpu-user' })).toBeTruthy();
    expect(JSON.parse(calls.find((c) => c.method === 'POST')!.body!)).toEqual({
      name: 'gpu-user',
      context: 'Project',
      rules: [
        { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'pods/log'] },
        { verbs: ['create'], apiGroups: ['batch'], resources: ['jobs'] },
      ],
    });
  });

  it('shows the server’s 409 when a template in use is deleted', async () => {
    const user = userEvent.setup();
    renderApp('/admin/roletemplates', (c) => {
      if (c.method === 'DELETE') return json(409, { error: { code: 'Conflict', message: 'role template gpu-user is bound by 2 bindings: prtb-a, prtb-b' } });
      if (c.url.startsWith('/v1/roletemplates?')) return json(200, { items: [custom] });
      return undefined;
    });
    await user.click(await screen.findByRole('button', { name: 'Delete gpu-user' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete gpu-user?' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(await within(dialog).findByText('role template gpu-user is bound by 2 bindings: prtb-a, prtb-b')).toBeTruthy();
  });

  it('turns "" into the core group and leaves out empty resource names', () => {
    expect(toRule({ verbs: 'get', apiGroups: '"", apps', resources: 'deployments', resourceNames: '' })).toEqual({ verbs: ['get'], apiGroups: ['', 'apps'], resources: ['deployments'] });
  });
});

describe('GroupsTab', () => {
  it('creates a group with members, edits its members and deletes it', async () => {
    const user = userEvent.setup();
    let groups: { name: string; members?: string[] }[] = [];
    const calls = renderApp('/admin/groups', (c) => {
      if (c.url.startsWith('/v1/users?')) return json(200, { items: users });
      if (c.url === '/v1/groups' && c.method === 'POST') {
        groups = [JSON.parse(c.body!)];
        return json(201, groups[0]);
      }
      if (c.url === '/v1/groups/ml-team' && c.method === 'PUT') {
        groups = [JSON.parse(c.body!)];
        return json(200, groups[0]);
      }
      if (c.url === '/v1/groups/ml-team' && c.method === 'DELETE') {
        groups = [];
        return new Response(null, { status: 204 });
      }
      if (c.url.startsWith('/v1/groups?')) return json(200, { items: groups });
      return undefined;
    });
    expect(await screen.findByText(/No groups yet/)).toBeTruthy();
    // Groups an identity provider reported are shown apart.
    expect(within(await screen.findByRole('table', { name: 'Groups from identity providers' })).getByText('oidc:ops')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Create a group' }));
    let form = screen.getByRole('form', { name: 'Create a group' });
    await user.type(within(form).getByLabelText('Name'), 'ml-team');
    await user.type(within(form).getByLabelText('Display name'), 'ML team');
    await user.click(within(form).getByLabelText('bob'));
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    const table = await screen.findByRole('table', { name: 'Groups' });
    expect(await within(table).findByRole('rowheader', { name: 'ml-team' })).toBeTruthy();
    expect(JSON.parse(calls.find((c) => c.method === 'POST')!.body!)).toEqual({ name: 'ml-team', displayName: 'ML team', members: ['u-bob'] });

    await user.click(within(table).getByRole('button', { name: 'Edit ml-team' }));
    form = screen.getByRole('form', { name: 'Edit ml-team' });
    expect((within(form).getByLabelText('bob') as HTMLInputElement).checked).toBe(true);
    await user.click(within(form).getByLabelText('carol'));
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(within(screen.getByRole('table', { name: 'Groups' })).getByText('bob, carol')).toBeTruthy());
    expect(JSON.parse(calls.find((c) => c.method === 'PUT')!.body!).members).toEqual(['u-bob', 'u-carol']);

    await user.click(screen.getByRole('button', { name: 'Delete ml-team' }));
    await user.click(within(screen.getByRole('dialog', { name: 'Delete ml-team?' })).getByRole('button', { name: 'Delete' }));
    expect(await screen.findByText(/No groups yet/)).toBeTruthy();
  });
});

describe('ProjectsTab', () => {
  it('creates a project on a chosen cluster with a GPU quota, then edits it keeping quota keys the form does not show', async () => {
    const user = userEvent.setup();
    let stored: Record<string, unknown> | null = null;
    const calls = renderApp('/admin/projects', (c) => {
      if (c.url.startsWith('/v1/clusters?')) return json(200, { items: [{ name: 'dev', ready: true, nodes: 2 }, { name: 'gpu', ready: true, nodes: 4 }] });
      if (c.url === '/v1/projects' && c.method === 'POST') {
        stored = { ...JSON.parse(c.body!), resourceQuota: { hard: { ...JSON.parse(c.body!).resourceQuota.hard, 'count/jobs.batch': '10' } } };
        return json(201, stored);
      }
      if (c.url === '/v1/projects/ml' && c.method === 'PUT') return json(400, { error: { code: 'Invalid', message: 'spec.namespaces[0]: kube-system is reserved' } });
      if (c.url === '/v1/projects/ml') return json(200, stored);
      if (c.url.startsWith('/v1/projects?')) return json(200, { items: stored ? [{ name: 'ml', cluster: 'gpu', namespaces: ['ml-train'] }] : [] });
      return undefined;
    });
    expect(await screen.findByText(/No projects yet/)).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Create a project' }));
    const form = screen.getByRole('form', { name: 'Create a project' });
    await user.type(within(form).getByLabelText('Name'), 'ml');
    await waitFor(() => expect(within(form).getAllByRole('option')).toHaveLength(2));
    await user.selectOptions(within(form).getByLabelText('Cluster'), 'gpu');
    await user.type(within(form).getByLabelText('Namespaces'), 'ml-train, Bad_NS');
    expect(within(form).getByText('Not a namespace name: Bad_NS')).toBeTruthy();
    await user.clear(within(form).getByLabelText('Namespaces'));
    await user.type(within(form).getByLabelText('Namespaces'), 'ml-train');
    await user.type(within(form).getByLabelText('GPUs (requests.nvidia.com/gpu)'), 'four');
    expect((within(form).getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    await user.clear(within(form).getByLabelText('GPUs (requests.nvidia.com/gpu)'));
    await user.type(within(form).getByLabelText('GPUs (requests.nvidia.com/gpu)'), '4');
    await user.type(within(form).getByLabelText('Memory requests'), '64Gi');
    await user.type(within(form).getByLabelText('Default CPU request'), '100m');
    await user.click(within(form).getByRole('button', { name: 'Save' }));
    const table = await screen.findByRole('table', { name: 'Projects' });
    expect(await within(table).findByRole('rowheader', { name: 'ml' })).toBeTruthy();
    expect(JSON.parse(calls.find((c) => c.method === 'POST')!.body!)).toEqual({
      name: 'ml',
      clusterName: 'gpu',
      namespaces: ['ml-train'],
      resourceQuota: { hard: { 'requests.nvidia.com/gpu': '4', 'requests.memory': '64Gi' } },
      limitRange: { defaultRequests: { cpu: '100m' } },
    });

    await user.click(within(table).getByRole('button', { name: 'Edit ml' }));
    const edit = await screen.findByRole('form', { name: 'Edit ml' });
    expect((within(edit).getByLabelText('GPUs (requests.nvidia.com/gpu)') as HTMLInputElement).value).toBe('4');
    await user.clear(within(edit).getByLabelText('GPUs (requests.nvidia.com/gpu)'));
    await user.type(within(edit).getByLabelText('GPUs (requests.nvidia.com/gpu)'), '8');
    await user.click(within(edit).getByRole('button', { name: 'Save' }));
    expect(await within(edit).findByText('spec.namespaces[0]: kube-system is reserved')).toBeTruthy();
    const put = JSON.parse(calls.find((c) => c.method === 'PUT')!.body!);
    expect(put.resourceQuota.hard).toEqual({ 'requests.nvidia.com/gpu': '8', 'requests.memory': '64Gi', 'count/jobs.batch': '10' });
    expect(put.clusterName).toBe('gpu');
  });

  it('deletes a project only after its name is typed', async () => {
    const user = userEvent.setup();
    const calls = renderApp('/admin/projects', (c) => {
      if (c.url.startsWith('/v1/projects?')) return json(200, { items: [{ name: 'ml', cluster: 'dev' }] });
      if (c.method === 'DELETE') return new Response(null, { status: 204 });
      return undefined;
    });
    await user.click(await screen.findByRole('button', { name: 'Delete ml' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete ml?' });
    await user.type(within(dialog).getByLabelText('Type ml to confirm'), 'ml');
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === '/v1/projects/ml')).toBe(true));
  });

  it('leaves out an empty quota and empty defaults', () => {
    expect(projectFrom({ name: 'p', clusterName: 'dev', resourceQuota: { hard: { pods: '10' } } }, { pods: '' }, {})).toEqual({ name: 'p', clusterName: 'dev' });
  });
});
