/**
 * How an account is named and pictured in the sidebar: the CARTO avatar when CARTO gave one,
 * otherwise initials, so every account is recognisable without relying on color.
 */
import { ICartoCredentials } from './tokens';

/** The name CARTO knows the user by, else the account's own label. */
export function displayName(account: ICartoCredentials.IAccount): string {
  return account.userInfo?.username || account.username || account.label;
}

/** Up to two letters for the avatar placeholder. */
export function initials(name: string): string {
  const words = name.split(/[^\p{L}\p{N}]+/u).filter(word => word.length > 0);
  const letters =
    words.length > 1
      ? words[0][0] + words[1][0]
      : (words[0] ?? '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A decorative avatar: the name is always written next to it. */
export function createAvatar(account: ICartoCredentials.IAccount): HTMLElement {
  const placeholder = document.createElement('span');
  placeholder.className =
    'jp-CartoCredentials-avatar jp-CartoCredentials-initials';
  placeholder.setAttribute('aria-hidden', 'true');
  placeholder.textContent = initials(displayName(account));
  const url = account.userInfo?.avatarUrl;
  if (!url || !/^https?:\/\//i.test(url)) {
    return placeholder;
  }
  const img = document.createElement('img');
  img.className = 'jp-CartoCredentials-avatar';
  img.src = url;
  img.alt = '';
  img.referrerPolicy = 'no-referrer';
  // An avatar that cannot load (offline, moved) shows the initials, not a broken image.
  img.addEventListener('error', () => img.replaceWith(placeholder), {
    once: true
  });
  return img;
}

/** An account's label and server as two spans, as every list in the panel shows them. */
export function nameAndServer(
  label: string,
  baseUrl: string
): [HTMLElement, HTMLElement] {
  const name = document.createElement('span');
  name.className = 'jp-CartoCredentials-accountName';
  name.textContent = label;
  const server = document.createElement('span');
  server.className = 'jp-CartoCredentials-accountServer';
  server.textContent = baseUrl;
  return [name, server];
}
