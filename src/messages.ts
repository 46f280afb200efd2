/**
 * Human sentences for the failures a login can meet. The server's own message is a fallback only
 * (and the detail of an unreachable server): these say what to do next, in the user's language.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { storeErrorCode } from './rest';

/** The sentence to show for a failed login, validation or import. */
export function loginErrorMessage(
  error: unknown,
  trans: TranslationBundle
): string {
  const code = storeErrorCode(error);
  if (code === null) {
    return trans.__('Something went wrong while talking to the server.');
  }
  switch (code) {
    case 'bad_key':
      return trans.__(
        'CARTO rejected this API key. Copy it again from your CARTO dashboard (Settings › API keys).'
      );
    case 'unknown_user':
      return trans.__(
        'CARTO has no such user on this server. Check the username or the base URL.'
      );
    case 'not_https':
      return trans.__(
        'The base URL must start with https:// (http:// is only allowed when an administrator enables it).'
      );
    case 'bad_url':
      return trans.__(
        'This base URL is not valid. Use a form like https://carto.example.com/user/alice/.'
      );
    case 'unreachable':
      // The server says which failure it was (DNS, refused, TLS); its messages never hold a key.
      return trans.__(
        'The CARTO server could not be reached: %1 Check the address and the network.',
        Private.sentence((error as Error).message)
      );
    case 'timeout':
      return trans.__(
        'The CARTO server did not answer in time. Try again in a moment.'
      );
    case 'not_carto':
      return trans.__(
        'The server at this address did not answer like CARTO. Check the base URL.'
      );
    case 'server_error':
      return trans.__(
        'The CARTO server had an internal error. Try again later.'
      );
    case 'network':
      return trans.__(
        'The Jupyter server could not be reached. Check that it is still running.'
      );
    default:
      // The server's messages never contain a key (docs/contracts.md §2).
      return (error as Error).message;
  }
}

namespace Private {
  /** `text` as one sentence ending with a period (the server's messages usually do). */
  export function sentence(text: string): string {
    const trimmed = text.trim();
    return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
  }
}
