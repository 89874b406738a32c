import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogBuffer } from '../../lib/k8s/logs';
import { LineSplitter } from '../../lib/k8s/watch';
import { mockFetch } from '../../test/fetch';
import { PodLogs } from './Logs';

afterEach(() => vi.unstubAllGlobals());

/** A log stream that sends chunks, then stays open like kubectl logs -f. */
function openLog(chunks: string[]) {
  const enc = new TextEncoder();
  return new Response(
    new ReadableStream({
      start(ctl) {
        for (const c of chunks) ctl.enqueue(enc.encode(c));
      },
    }),
    { status: 200, headers: { 'Content-Type': 'text/plain' } },
  );
}

describe('PodLogs', () => {
  it('follows the first container, switches container and previous, and offers the whole log as a download', async () => {
    const user = userEvent.setup();
    const calls = mockFetch((c) => {
      const u = new URL(c.url, 'http://x');
      const who = `${u.searchParams.get('container')}${u.searchParams.get('previous') ? ' (previous)' : ''}`;
      return openLog([`hello from ${who}\nsecond `, 'line\n']);
    });
    render(<PodLogs cluster="dev" namespace="ml" pod="train-0" containers={['main', 'sidecar']} />);
    const view = screen.getByLabelText('Log of main');
    await waitFor(() => expect(view.textContent).toBe('hello from main\nsecond line'));
    expect(screen.getByRole('status').textContent).toBe('Following the log live.');
    expect(calls[0]!.url).toBe('/k8s/clusters/dev/api/v1/namespaces/ml/pods/train-0/log?container=main&follow=true&tailLines=500');

    await user.selectOptions(screen.getByLabelText('Container'), 'sidecar');
    await waitFor(() => expect(screen.getByLabelText('Log of sidecar').textContent).toBe('hello from sidecar\nsecond line'));

    await user.click(screen.getByLabelText('Previous container'));
    await waitFor(() => expect(screen.getByLabelText('Log of sidecar').textContent).toBe('hello from sidecar (previous)\nsecond line'));
    expect(calls.at(-1)!.url).toContain('previous=true');
    expect(calls.at(-1)!.url).not.toContain('follow=true');
    expect((screen.getByLabelText('Follow') as HTMLInputElement).disabled).toBe(true);

    const download = screen.getByRole('link', { name: 'Download' });
    expect(download.getAttribute('href')).toBe('/k8s/clusters/dev/api/v1/namespaces/ml/pods/train-0/log?container=sidecar&previous=true');
    expect(download.getAttribute('download')).toBe('train-0-sidecar-previous.log');
  });

  it('says why the log cannot be read and tries again on request', async () => {
    const user = userEvent.setup();
    let n = 0;
    mockFetch(() =>
      n++ === 0
        ? new Response(JSON.stringify({ kind: 'Status', code: 400, reason: 'BadRequest', message: 'container "main" in pod "p" is waiting to start' }), { status: 400, headers: { 'Content-Type': 'application/json' } })
        : openLog(['up\n']),
    );
    render(<PodLogs cluster="dev" namespace="ml" pod="p" containers={['main']} />);
    expect(await screen.findByText('container "main" in pod "p" is waiting to start')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(screen.getByLabelText('Log of main').textContent).toBe('up'));
  });
});

describe('log lines', () => {
  it('keep blank lines and a last line without newline', () => {
    const s = new LineSplitter({ keepEmpty: true });
    const enc = new TextEncoder();
    expect(s.push(enc.encode('a\n\nb\r\nc'))).toEqual(['a', '', 'b']);
    expect(s.flush()).toBe('c');
  });
  it('are bounded, counting what was dropped', () => {
    const b = new LogBuffer(3);
    b.push(['1', '2']);
    b.push(['3', '4', '5']);
    expect(b.all).toEqual(['3', '4', '5']);
    expect(b.dropped).toBe(2);
  });
});
