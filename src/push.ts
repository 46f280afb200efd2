/**
 * What a kernel is pushed: the model says what (`PushContent`), the bridge sends it as a
 * `set_credentials` message of the right version (`docs/contracts.md` §1, §4).
 */
import {
  CARTO3_PROTOCOL_VERSION,
  GrantState,
  PROTOCOL_VERSION,
  PushedAccount,
  PushedCarto3Account,
  SetCarto3CredentialsMessage,
  SetCredentialsMessage
} from './protocol';

/** A `set_credentials` push: version 1 for API keys (or none), 2 for a CARTO 3 login. */
export type OutgoingMessage =
  SetCredentialsMessage | SetCarto3CredentialsMessage;

/** What a kernel should receive, as the model tells it (`docs/contracts.md` §1, §4). */
export type PushContent =
  | { version?: 1; state: GrantState; account: PushedAccount | null }
  | {
      version: 2;
      state: SetCarto3CredentialsMessage['state'];
      account: PushedCarto3Account | null;
    };

/**
 * The message for a push: a CARTO 3 login (or its `login_required`) is version 2, so kernels with
 * an older package ignore it and fall back, and everything else stays version 1.
 */
export function setCredentialsMessage(
  content: PushContent,
  sessionPath: string,
  kernelId: string
): OutgoingMessage {
  const fields = {
    type: 'set_credentials' as const,
    session_path: sessionPath,
    kernel_id: kernelId
  };
  return content.version === CARTO3_PROTOCOL_VERSION
    ? {
        version: CARTO3_PROTOCOL_VERSION,
        ...fields,
        state: content.state,
        account: content.account
      }
    : {
        version: PROTOCOL_VERSION,
        ...fields,
        state: content.state,
        account: content.account
      };
}
