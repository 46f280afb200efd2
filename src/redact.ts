/**
 * Masks known API keys in notebook outputs. The output models themselves are rewritten, so the
 * key disappears from the display and from the saved `.ipynb` alike.
 */
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import type {
  IObservableList,
  IObservableString
} from '@jupyterlab/observables';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICartoCredentialsManager } from './manager';
import { maskKey, MIN_KEY_LENGTH, PUBLIC_API_KEY } from './rules';

export { maskKey, MIN_KEY_LENGTH };

/** A replacer for the given keys, or `null` when none qualifies. */
function matcher(keys: readonly string[]): RegExp | null {
  const usable = [...new Set(keys)]
    .filter(key => key.length >= MIN_KEY_LENGTH && key !== PUBLIC_API_KEY)
    // Longest first: a key that contains another key is masked whole.
    .sort((a, b) => b.length - a.length)
    .map(key => key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return usable.length ? new RegExp(usable.join('|'), 'g') : null;
}

/** Binary payloads are base64: a key cannot appear there as text. */
function isBinaryMime(mime: string): boolean {
  return mime.startsWith('image/') && mime !== 'image/svg+xml';
}

function maskValue(value: unknown, pattern: RegExp, mime = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(pattern, maskKey);
  }
  if (Array.isArray(value)) {
    let changed = false;
    const result = value.map(item => {
      const masked = maskValue(item, pattern, mime);
      changed ||= masked !== item;
      return masked;
    });
    return changed ? result : value;
  }
  if (typeof value === 'object' && value !== null) {
    let changed = false;
    const result: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) {
      const masked =
        mime === 'bundle' && isBinaryMime(name)
          ? item
          : maskValue(item, pattern, mime === 'bundle' ? name : mime);
      changed ||= masked !== item;
      result[name] = masked;
    }
    return changed ? result : value;
  }
  return value;
}

/**
 * `value` with every key replaced by `maskKey(key)`, through strings, arrays and objects. Returns
 * `value` itself (same reference) when nothing was masked.
 */
export function maskKeys<T>(value: T, keys: readonly string[]): T {
  const pattern = matcher(keys);
  return pattern ? (maskValue(value, pattern) as T) : value;
}

/** A masked copy of an output, or `null` when it shows no key. */
export function maskOutput(
  output: nbformat.IOutput,
  keys: readonly string[]
): nbformat.IOutput | null {
  const pattern = matcher(keys);
  if (!pattern) {
    return null;
  }
  let changed = false;
  const result: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(output)) {
    // `data` is a MIME bundle; `metadata` and the rest are masked as plain JSON.
    const masked = maskValue(value, pattern, field === 'data' ? 'bundle' : '');
    changed ||= masked !== value;
    result[field] = masked;
  }
  return changed ? (result as nbformat.IOutput) : null;
}

/** The part of a notebook model the redactor needs. */
export interface INotebookCellsLike {
  readonly cells: Iterable<ICellModel> & {
    readonly changed: ISignal<
      unknown,
      IObservableList.IChangedArgs<ICellModel>
    >;
  };
}

/**
 * Watches output areas and masks keys as soon as an output appears or grows (streams), and again
 * whenever new keys become known or masking is switched on.
 */
export class OutputRedactor implements IDisposable {
  constructor(private readonly _model: ICartoCredentialsManager) {
    // New keys can come with new accounts, code-set credentials, a notebook's choice or settings.
    _model.accountsChanged.connect(this.scanAll, this);
    _model.notebookAccountChanged.connect(this.scanAll, this);
    _model.codeCredentialsChanged.connect(this.scanAll, this);
    _model.settingsChanged.connect(this.scanAll, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Mask the outputs of every code cell of a notebook, present and future. */
  watchNotebook(notebook: INotebookCellsLike): void {
    for (const cell of notebook.cells) {
      this._watchCell(cell);
    }
    notebook.cells.changed.connect(this._onCellsChanged, this);
  }

  /** Mask one output area, now and on every change. */
  watchOutputs(outputs: IOutputAreaModel): void {
    if (this._watched.has(outputs) || outputs.isDisposed) {
      return;
    }
    this._watched.add(outputs);
    outputs.changed.connect(this._schedule, this);
    outputs.stateChanged.connect(this._schedule, this);
    this._schedule(outputs);
  }

  /** Mask every watched output now; returns how many outputs changed. */
  scanAll(): number {
    let count = 0;
    for (const outputs of [...this._watched]) {
      count += this._scan(outputs);
    }
    return count;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.accountsChanged.disconnect(this.scanAll, this);
    this._model.notebookAccountChanged.disconnect(this.scanAll, this);
    this._model.codeCredentialsChanged.disconnect(this.scanAll, this);
    this._model.settingsChanged.disconnect(this.scanAll, this);
    for (const outputs of this._watched) {
      outputs.changed.disconnect(this._schedule, this);
      outputs.stateChanged.disconnect(this._schedule, this);
    }
    this._watched.clear();
    Signal.disconnectReceiver(this);
  }

  private _watchCell(cell: ICellModel): void {
    if (cell.type === 'code') {
      this.watchOutputs((cell as ICodeCellModel).outputs);
    }
  }

  private _onCellsChanged(
    _: unknown,
    change: IObservableList.IChangedArgs<ICellModel>
  ): void {
    for (const cell of change.newValues) {
      this._watchCell(cell);
    }
  }

  /**
   * Deferred to a microtask: the output area widget must first see the change that added the
   * output, and the masked copy still replaces it before the browser paints.
   */
  private _schedule(outputs: IOutputAreaModel): void {
    if (this._pending.has(outputs)) {
      return;
    }
    this._pending.add(outputs);
    queueMicrotask(() => {
      this._pending.delete(outputs);
      this._scan(outputs);
    });
  }

  private _scan(outputs: IOutputAreaModel): number {
    if (outputs.isDisposed || this._isDisposed) {
      this._watched.delete(outputs);
      return 0;
    }
    if (!this._model.settings.redactOutputs) {
      return 0;
    }
    const keys = this._model.knownKeys();
    let count = 0;
    for (let index = 0; index < outputs.length; index++) {
      const masked = maskOutput(outputs.get(index).toJSON(), keys);
      if (masked) {
        outputs.set(index, masked);
        count++;
      }
      this._watchStream(outputs, index);
    }
    return count;
  }

  /** Streams grow in place, without a change of the output list: follow their text too. */
  private _watchStream(outputs: IOutputAreaModel, index: number): void {
    const text = outputs.get(index).streamText;
    if (text && !this._streams.has(text)) {
      this._streams.set(text, outputs);
      text.changed.connect(this._onStreamText, this);
    }
  }

  private _onStreamText(text: IObservableString): void {
    const outputs = this._streams.get(text);
    if (outputs) {
      this._schedule(outputs);
    }
  }

  private readonly _watched = new Set<IOutputAreaModel>();
  private readonly _pending = new Set<IOutputAreaModel>();
  private readonly _streams = new WeakMap<
    IObservableString,
    IOutputAreaModel
  >();
  private _isDisposed = false;
}
