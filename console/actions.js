// What a person can do to a key, wherever they ask (a row's menu, the key's
// page): each action calls the API, says what happened in a toast, and tells
// the views through a `keychange` event on the document:
//   {change: 'added' | 'updated' | 'removed', record, focus?}

import * as api from './api.js';
import { confirmDialog, deleteDialog, editDialog, revokeDialog, rotateDialog } from './dialogs.js';
import { createKeyDialog } from './create.js';
import { describeFailure } from './errors.js';
import { openHistory } from './audit.js';
import { permission } from './capabilities.js';
import { notify } from './toast.js';
import { session } from './session.js';
import { showSecret } from './secret.js';
import { hasLimits, limitsDialog, resetUsageDialog } from './limits.js';

function changed(change, record, extra = {}) {
  document.dispatchEvent(new CustomEvent('keychange', { detail: { change, record, ...extra } }));
}

/**
 * The items of a key's action menu: what its status allows, each disabled
 * with the reason when the signed-in key may not; destructive ones last.
 */
export function keyMenuItems(record, { details = true } = {}) {
  const item = (action, label, onSelect, danger = false) => {
    const { allowed, short, reason } = permission(action, record);
    return { label, onSelect, danger, disabled: allowed ? null : short, reason };
  };
  const items = [];
  if (details) {
    items.push({ label: 'Details', onSelect: () => { window.location.hash = `#key/${record.id}`; } });
    items.push(item('update', 'Edit…', () => edit(record)));
  }
  if (record.status === 'active') items.push(item('suspend', 'Suspend', () => suspend(record)));
  if (record.status === 'suspended') items.push(item('reactivate', 'Reactivate', () => reactivate(record)));
  if (record.status === 'active' && !record.expired && !record.rotated_to) {
    items.push(item('rotate', 'Rotate…', () => rotate(record)));
  }
  if (record.status !== 'revoked') items.push(item('set_limits', 'Limits…', () => setLimits(record)));
  if (hasLimits(record)) items.push(item('reset_usage', 'Reset usage…', () => resetUsage(record)));
  items.push({ label: 'History', onSelect: () => openHistory(record) });
  items.push('separator');
  if (record.status !== 'revoked') items.push(item('revoke', 'Revoke…', () => revoke(record), true));
  items.push(item('delete', 'Delete…', () => remove(record), true));
  return items;
}

/** When the signed-in key acted on itself in a way that ends it, sign out. */
function endsSession(record, action, next = 'Sign in with another key.') {
  if (!session.isMe(record.id)) return false;
  session.end(`You ${action} the key you were signed in with. ${next}`, { tone: 'info' });
  return true;
}

async function failed(error, action, record) {
  if (!(error instanceof api.ApiError)) throw error;
  const message = await describeFailure(error, action, record.name);
  if (message) notify(message, { error: true });
}

export async function createKey() {
  const created = await createKeyDialog();
  if (!created) return;
  const { key, ...record } = created; // the record goes on without its key
  await showSecret(created, { title: 'Copy your new key', subject: `“${record.name}” was created.` });
  changed('added', record);
  notify(`Created “${record.name}”.`);
}

/** What losing the organization's last active full-access key means. */
const LAST_FULL_ACCESS =
  'It is your organization’s last active full-access key: while it is suspended, no key can manage every other key, and only someone with access to the store (keygate bootstrap) can make one.';

export async function edit(record) {
  const updated = await editDialog(record);
  if (!updated) return;
  changed('updated', updated);
  notify(`Saved “${updated.name}”.`);
}

async function setLimits(record) {
  const updated = await limitsDialog(record);
  if (!updated) return;
  changed('updated', updated);
  notify(hasLimits(updated) ? `Saved the limits of “${updated.name}”.` : `Removed the limits of “${updated.name}”: it is unlimited.`);
}

async function resetUsage(record) {
  try {
    const usage = await resetUsageDialog(record);
    if (!usage) return;
    // The reset answers with the usage; the key (its updated time) is read back.
    const updated = await api.getKey(record.id).catch(() => record);
    changed('updated', updated, { usage });
    notify(`Reset the usage of “${record.name}”: its counts are back to zero.`);
  } catch (error) {
    await failed(error, 'reset_usage', record);
  }
}

async function suspend(record) {
  const last = record.last_active_full_access === true;
  if (session.isMe(record.id)) {
    const sure = await confirmDialog({
      title: 'Suspend your own key?',
      message: `You are signed in with “${record.name}”. Suspending it stops it at once and signs you out; only another key can reactivate it.${last ? ` ${LAST_FULL_ACCESS}` : ''}`,
      confirmLabel: 'Suspend and sign out',
    });
    if (!sure) return;
  } else if (last) {
    const sure = await confirmDialog({
      title: 'Suspend the last full-access key?',
      message: `“${record.name}” stops working at once. ${LAST_FULL_ACCESS}`,
      confirmLabel: 'Suspend it anyway',
    });
    if (!sure) return;
  }
  try {
    const updated = await api.suspendKey(record.id);
    if (endsSession(record, 'suspended')) return;
    changed('updated', updated);
    notify(`Suspended “${record.name}”: it is denied until reactivated.`);
  } catch (error) {
    await failed(error, 'suspend', record);
  }
}

async function reactivate(record) {
  try {
    const updated = await api.reactivateKey(record.id);
    changed('updated', updated);
    notify(`Reactivated “${record.name}”.`);
  } catch (error) {
    await failed(error, 'reactivate', record);
  }
}

async function rotate(record) {
  const rotated = await rotateDialog(record);
  if (!rotated) return;
  const { successor, graceSeconds } = rotated;
  const { key, ...successorRecord } = successor; // the record goes on without its key
  await showSecret(successor, {
    title: 'Copy the new key',
    subject: `The successor of “${record.name}”.`,
    lostOnClose: graceSeconds === 0 ? `“${record.name}” was revoked by this rotation, so without the new key neither works.` : '',
  });
  if (graceSeconds === 0 && endsSession(record, 'rotated, and so revoked,', 'Sign in with the new key.')) return;
  // Rotation answers with the successor; the old key's new expiry (or its
  // revocation) is read back.
  const old = await api.getKey(record.id).catch(() => null);
  if (old) changed('updated', old);
  changed('added', successorRecord, { focus: true });
  notify(`Rotated “${record.name}”: the new key is ${successorRecord.hint}.`);
}

async function revoke(record) {
  const updated = await revokeDialog(record);
  if (!updated) return;
  if (endsSession(record, 'revoked')) return;
  changed('updated', updated);
  notify(`Revoked “${record.name}”. This cannot be undone.`);
}

async function remove(record) {
  const deleted = await deleteDialog(record);
  if (!deleted) return;
  if (endsSession(record, 'deleted')) return;
  changed('removed', record);
  notify(`Deleted “${record.name}”.`);
}
