import { describe, expect, it } from 'vitest';
import { commonPrefix, completeLine, execLine, LineEditor, quote, terminalURL } from './terminal';

describe('terminalURL', () => {
  it('carries cluster, namespace and the CSRF token, over wss on https', () => {
    const u = new URL(terminalURL({ protocol: 'https:', host: 'bokujo.example:8443' }, 'dev', 'ml-a', 'tok/en+='));
    expect(u.protocol).toBe('wss:');
    expect(u.host).toBe('bokujo.example:8443');
    expect(u.pathname).toBe('/v1/terminal');
    expect(u.searchParams.get('cluster')).toBe('dev');
    expect(u.searchParams.get('namespace')).toBe('ml-a');
    expect(u.searchParams.get('csrf')).toBe('tok/en+=');
  });
  it('leaves out an empty namespace', () => {
    expect(new URL(terminalURL({ protocol: 'https:', host: 'h' }, 'dev', '', 'x')).searchParams.has('namespace')).toBe(false);
  });
});

describe('execLine', () => {
  it('builds kubectl exec -it with the chosen container and shell', () => {
    expect(execLine('ml-a', 'web-0', 'main', '/bin/bash')).toBe('kubectl exec -it -n ml-a web-0 -c main -- /bin/bash');
  });
  it('quotes what the server would otherwise split', () => {
    expect(quote("it's")).toBe(`'it'\\''s'`);
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
  });
});

describe('LineEditor', () => {
  it('types, edits at the cursor and submits', () => {
    const e = new LineEditor();
    e.feed('kubectl get pds');
    e.feed('\x1b[D\x1b[D');
    e.feed('o');
    expect(e.line).toBe('kubectl get pods');
    e.feed('\x7f');
    expect(e.line).toBe('kubectl get pds');
    expect(e.feed('\x05\r')).toEqual([{ kind: 'redraw' }, { kind: 'submit', line: 'kubectl get pds' }]);
    expect(e.line).toBe('');
  });
  it('recalls history with Up and Down, keeping the draft', () => {
    const e = new LineEditor(['kubectl version']);
    e.feed('kubectl get pods\r');
    e.feed('kub');
    e.feed('\x1b[A');
    expect(e.line).toBe('kubectl get pods');
    e.feed('\x1b[A');
    expect(e.line).toBe('kubectl version');
    e.feed('\x1b[B\x1b[B');
    expect(e.line).toBe('kub');
  });
  it('does not remember blank lines or repeats', () => {
    const e = new LineEditor();
    e.feed('a\r\r   \ra\r');
    expect(e.entries).toEqual(['a']);
  });
  it('asks for completion of the text before the cursor', () => {
    const e = new LineEditor();
    expect(e.feed('kubectl ge\t')).toEqual([{ kind: 'redraw' }, { kind: 'complete', line: 'kubectl ge' }]);
  });
  it('drops the line on Ctrl-C and kills words and lines', () => {
    const e = new LineEditor();
    e.feed('kubectl get pods');
    e.feed('\x17');
    expect(e.line).toBe('kubectl get ');
    e.feed('\x15');
    expect(e.line).toBe('');
    e.feed('x');
    expect(e.feed('\x03')).toEqual([{ kind: 'cancel' }]);
    expect(e.line).toBe('');
  });
  it('treats a CRLF as one Enter', () => {
    const e = new LineEditor();
    expect(e.feed('a\r\n').filter((a) => a.kind === 'submit')).toHaveLength(1);
  });
});

describe('completion', () => {
  it('completes a single match with a space', () => {
    expect(completeLine('kubectl ge', ['get'])).toEqual({ insert: 't ', list: false });
  });
  it('extends to the common prefix, and lists when it cannot', () => {
    expect(completeLine('kubectl get po', ['pods', 'podtemplates'])).toEqual({ insert: 'd', list: false });
    expect(completeLine('kubectl get pod', ['pods', 'podtemplates'])).toEqual({ insert: '', list: true });
    expect(commonPrefix(['web-1', 'web-2'])).toBe('web-');
  });
  it('ignores items that do not extend the word', () => {
    expect(completeLine('kubectl get x', ['pods'])).toEqual({ insert: '', list: false });
  });
});
