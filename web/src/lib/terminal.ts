// The web terminal's client side: the WebSocket protocol of /v1/terminal,
// the line editor that runs at the prompt (history, cursor, completion),
// and the commands the UI types for the user (pod shells). kubectl itself
// runs on the server, as the user; this only edits lines and shows bytes.

/** Message is a JSON text frame; command output arrives as binary frames. */
export interface TerminalMessage {
  type: 'run' | 'input' | 'resize' | 'complete' | 'context' | 'ready' | 'refused' | 'exit' | 'completions' | 'error';
  line?: string;
  data?: string;
  cols?: number;
  rows?: number;
  cluster?: string;
  namespace?: string;
  clusters?: string[];
  user?: string;
  rule?: string;
  message?: string;
  code?: number;
  items?: string[];
  id?: number;
}

/** terminalURL is the WebSocket address of a session in cluster/namespace. */
export function terminalURL(location: { protocol: string; host: string }, cluster: string, namespace: string, csrf: string): string {
  const q = new URLSearchParams({ cluster });
  if (namespace) q.set('namespace', namespace);
  // Browsers cannot set headers on a WebSocket: the CSRF token rides in
  // the query, the session cookie is sent by the browser.
  q.set('csrf', csrf);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/terminal?${q.toString()}`;
}

/** quote renders a word so the server's splitter reads it back unchanged. */
export function quote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Shells offered for a pod shell. */
export const shells = ['/bin/sh', '/bin/bash'] as const;
export type Shell = (typeof shells)[number];

/** execLine is the command a pod's "Exec" button runs. */
export function execLine(namespace: string, pod: string, container: string, shell: Shell): string {
  return ['kubectl', 'exec', '-it', '-n', namespace, pod, '-c', container, '--', shell].map(quote).join(' ');
}

/** commonPrefix is the longest prefix every item shares. */
export function commonPrefix(items: readonly string[]): string {
  let p = items[0] ?? '';
  for (const s of items.slice(1)) {
    let i = 0;
    while (i < p.length && i < s.length && p[i] === s[i]) i++;
    p = p.slice(0, i);
  }
  return p;
}

/** What the editor asks its owner to do after a key. */
export type EditorAction =
  | { kind: 'redraw' }
  | { kind: 'submit'; line: string }
  | { kind: 'complete'; line: string }
  | { kind: 'cancel' }
  | { kind: 'clear' }
  | { kind: 'none' };

const maxHistory = 200;

/**
 * LineEditor edits the line at the prompt: printable input, Backspace,
 * Delete, arrows, Home/End, Ctrl-A/E/U/K/W, history with Up/Down, Tab for
 * completion, Ctrl-C to drop the line, Ctrl-L to clear the screen. Input
 * comes as xterm's onData strings (keys or pasted text).
 */
export class LineEditor {
  line = '';
  cursor = 0;
  private history: string[] = [];
  private historyIndex = 0;
  private draft = '';

  constructor(history: readonly string[] = []) {
    this.history = history.slice(-maxHistory);
    this.historyIndex = this.history.length;
  }

  get entries(): readonly string[] {
    return this.history;
  }

  /** feed applies input and returns what the owner must do, in order. */
  feed(data: string): EditorAction[] {
    const out: EditorAction[] = [];
    let i = 0;
    while (i < data.length) {
      const rest = data.slice(i);
      const seq = /^\x1b(\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(rest);
      if (seq) {
        i += seq[0].length;
        out.push(this.escape(seq[0]));
        continue;
      }
      const ch = data.charAt(i++);
      switch (ch) {
        case '\r':
        case '\n': {
          if (ch === '\n' && data[i - 2] === '\r') break;
          const line = this.line;
          this.remember(line);
          this.line = '';
          this.cursor = 0;
          out.push({ kind: 'submit', line });
          break;
        }
        case '\x7f':
        case '\b':
          if (this.cursor > 0) {
            this.line = this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor);
            this.cursor--;
          }
          out.push({ kind: 'redraw' });
          break;
        case '\t':
          out.push({ kind: 'complete', line: this.line.slice(0, this.cursor) });
          break;
        case '\x03':
          this.line = '';
          this.cursor = 0;
          this.historyIndex = this.history.length;
          out.push({ kind: 'cancel' });
          break;
        case '\x0c':
          out.push({ kind: 'clear' });
          break;
        case '\x01':
          this.cursor = 0;
          out.push({ kind: 'redraw' });
          break;
        case '\x05':
          this.cursor = this.line.length;
          out.push({ kind: 'redraw' });
          break;
        case '\x15':
          this.line = this.line.slice(this.cursor);
          this.cursor = 0;
          out.push({ kind: 'redraw' });
          break;
        case '\x0b':
          this.line = this.line.slice(0, this.cursor);
          out.push({ kind: 'redraw' });
          break;
        case '\x17': {
          const before = this.line.slice(0, this.cursor).replace(/\S+\s*$/, '');
          this.line = before + this.line.slice(this.cursor);
          this.cursor = before.length;
          out.push({ kind: 'redraw' });
          break;
        }
        default:
          if (ch >= ' ' || ch === '\u00a0') {
            this.insert(ch);
            out.push({ kind: 'redraw' });
          }
      }
    }
    return collapse(out);
  }

  /** insert types text at the cursor. */
  insert(text: string): void {
    this.line = this.line.slice(0, this.cursor) + text + this.line.slice(this.cursor);
    this.cursor += text.length;
  }

  /** setLine replaces the line (a command typed for the user). */
  setLine(line: string): void {
    this.line = line;
    this.cursor = line.length;
  }

  private remember(line: string): void {
    if (line.trim() !== '' && this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      if (this.history.length > maxHistory) this.history.shift();
    }
    this.historyIndex = this.history.length;
    this.draft = '';
  }

  private escape(seq: string): EditorAction {
    const key = seq.slice(-1);
    const code = seq.slice(2, -1);
    switch (key) {
      case 'A':
        if (this.historyIndex > 0) {
          if (this.historyIndex === this.history.length) this.draft = this.line;
          this.historyIndex--;
          this.setLine(this.history[this.historyIndex] ?? '');
        }
        return { kind: 'redraw' };
      case 'B':
        if (this.historyIndex < this.history.length) {
          this.historyIndex++;
          this.setLine(this.historyIndex === this.history.length ? this.draft : (this.history[this.historyIndex] ?? ''));
        }
        return { kind: 'redraw' };
      case 'C':
        this.cursor = Math.min(this.line.length, this.cursor + 1);
        return { kind: 'redraw' };
      case 'D':
        this.cursor = Math.max(0, this.cursor - 1);
        return { kind: 'redraw' };
      case 'H':
        this.cursor = 0;
        return { kind: 'redraw' };
      case 'F':
        this.cursor = this.line.length;
        return { kind: 'redraw' };
      case '~':
        if (code === '3' && this.cursor < this.line.length) {
          this.line = this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1);
        } else if (code === '1' || code === '7') {
          this.cursor = 0;
        } else if (code === '4' || code === '8') {
          this.cursor = this.line.length;
        }
        return { kind: 'redraw' };
      default:
        return { kind: 'none' };
    }
  }
}

/** collapse merges runs of redraws (a paste redraws once). */
function collapse(actions: EditorAction[]): EditorAction[] {
  const out: EditorAction[] = [];
  for (const a of actions) {
    if (a.kind === 'none') continue;
    if (a.kind === 'redraw' && out[out.length - 1]?.kind === 'redraw') continue;
    out.push(a);
  }
  return out;
}

/**
 * completeLine applies completions to the line before the cursor: one
 * item completes the word (and a space), several extend it to their
 * common prefix. It returns the text to insert and whether to list the
 * items.
 */
export function completeLine(before: string, items: readonly string[]): { insert: string; list: boolean } {
  const word = /(\S*)$/.exec(before)?.[1] ?? '';
  const matching = items.filter((i) => i.startsWith(word));
  if (matching.length === 0) return { insert: '', list: false };
  if (matching.length === 1) return { insert: (matching[0] ?? '').slice(word.length) + ' ', list: false };
  const prefix = commonPrefix(matching);
  return { insert: prefix.slice(word.length), list: prefix.length === word.length };
}

/**
 * installStyleShim lets xterm.js run under bokujo's strict CSP
 * (style-src 'self', no 'unsafe-inline'). xterm writes its computed
 * dimensions and theme into <style> elements it creates, which that policy
 * blocks. While a terminal is shown, document.createElement('style')
 * returns an inert <template> whose text goes into a constructed
 * stylesheet adopted by the document instead: CSSOM, which the policy
 * allows, and no inline style is ever added. It returns the uninstaller.
 */
export function installStyleShim(doc: Document = document): () => void {
  const original = doc.createElement;
  const owned = new Set<CSSStyleSheet>();
  const adopt = () => {
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets.filter((s) => !owned.has(s)), ...owned];
  };
  const shim = function (this: Document, tagName: string, options?: ElementCreationOptions): HTMLElement {
    if (tagName.toLowerCase() !== 'style') return original.call(this, tagName, options);
    const el = original.call(this, 'template', options);
    const sheet = new CSSStyleSheet();
    let text = '';
    Object.defineProperty(el, 'textContent', {
      get: () => text,
      set: (v: string | null) => {
        text = v ?? '';
        sheet.replaceSync(text);
      },
    });
    const remove = el.remove.bind(el);
    el.remove = () => {
      owned.delete(sheet);
      adopt();
      remove();
    };
    owned.add(sheet);
    adopt();
    return el;
  } as Document['createElement'];
  doc.createElement = shim;
  return () => {
    if (doc.createElement === shim) doc.createElement = original;
  };
}
