import { Dialog } from '@jupyterlab/apputils';
import { framePromise } from '@jupyterlab/testing';
import { TranslationBundle } from '@jupyterlab/translation';

import { askGrant } from '../src/grantDialog';

/** A French bundle: the answer must not depend on the buttons' words. */
const french = {
  __: (text: string, ...args: string[]) =>
    args.reduce(
      (out, arg, i) => out.split(`%${i + 1}`).join(arg),
      ({ Deny: 'Refuser', Allow: 'Autoriser' } as Record<string, string>)[
        text
      ] ?? text
    )
} as unknown as TranslationBundle;

async function answer(act: (dialog: Dialog<unknown>) => void) {
  const decision = askGrant('n.ipynb', 'alice', french);
  await framePromise();
  const dialog = Dialog.tracker.currentWidget!;
  act(dialog);
  return decision;
}

function click(dialog: Dialog<unknown>, label: string): void {
  const button = Array.from(
    dialog.node.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button')
  ).find(b => b.textContent === label)!;
  button.click();
}

describe('askGrant', () => {
  it('answers deny for the Deny button, whatever its label says', async () => {
    expect(await answer(d => click(d, 'Refuser'))).toBe('deny');
  });

  it('answers allow for the Allow button', async () => {
    expect(await answer(d => click(d, 'Autoriser'))).toBe('allow');
  });

  it("says the answer is the notebook's, for whichever account it uses", async () => {
    expect(
      await answer(d => {
        const body = d.node.querySelector('.jp-Dialog-body')!.textContent;
        expect(body).toContain('n.ipynb');
        expect(body).toContain('now those of the account "alice"');
        expect(body).toContain('whichever account this notebook uses');
        d.reject();
      })
    ).toBeNull();
  });

  it('decides nothing when the dialog is closed', async () => {
    expect(await answer(d => d.reject())).toBeNull();
  });
});
