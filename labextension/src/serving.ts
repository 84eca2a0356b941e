/**
 * The Serving and Approvals views of the sidebar: rollouts (arms, traffic shares, guard
 * values, Abort), the servers seen (versions served), and pending promotion requests with
 * their gate table (Approve, Reject). Every change asks for a reason and a confirmation.
 */

import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';

import { checkList, clip, emptyState, fmt, h, section, shortWhen, when } from './dom';
import { ReasonForm } from './forms';
import { IArm, IRequest, IRollout, IServer, messageOf, postAPI, requestAPI } from './request';

/** What a view needs from the panel: reloading itself and its status line. */
export interface IViewHost {
  refresh(): Promise<void>;
  setStatus(text: string, error?: boolean): void;
}

/** Ended rollouts listed under the active ones (why each ended: an aborting guard …). */
const ENDED = 3;

// -- serving ----------------------------------------------------------------------------------

export async function servingView(host: IViewHost): Promise<HTMLElement> {
  const [active, all, servers] = await Promise.all([
    requestAPI<IRollout[]>('rollouts'),
    requestAPI<IRollout[]>('rollouts?status=all'),
    requestAPI<IServer[]>('servers')
  ]);
  const ended = all.filter(r => r.status !== 'running' && r.status !== 'paused').slice(0, ENDED);
  return h(
    'div',
    { class: 'nbmlops-serving' },
    section(
      'Rollouts',
      active.length
        ? h('div', { class: 'nbmlops-cards' }, ...active.map(r => rolloutCard(r, host)))
        : emptyState(
            'No rollout running.',
            'Start one from a notebook: ',
            h('code', {}, 'nbmlops.rollout("churn", candidate=2, mode="canary")'),
            '.'
          )
    ),
    section(
      'Servers',
      servers.length
        ? h('div', { class: 'nbmlops-cards' }, ...servers.map(serverCard))
        : emptyState(
            'No model server seen.',
            'Serve a model with ',
            h('code', {}, 'nbmlops.serve("churn")'),
            ' or ',
            h('code', {}, 'nbmlops serve churn'),
            '.'
          )
    ),
    ended.length
      ? section(
          'Ended',
          h('div', { class: 'nbmlops-cards' }, ...ended.map(r => rolloutCard(r, host)))
        )
      : null
  );
}

function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `nbmlops-badge nbmlops-status-${status.toLowerCase()}`, title: status },
    status
  );
}

function armRow(arm: IArm, mode: string): HTMLElement {
  const share = arm.arm === 'shadow' ? 'copy' : `${fmt(arm.share)}%`;
  return h(
    'div',
    { class: 'nbmlops-arm', 'data-arm': arm.arm },
    h('span', { class: 'nbmlops-clip nbmlops-arm-name' }, arm.arm),
    h('span', { class: 'nbmlops-arm-version' }, arm.version === null ? '–' : `v${arm.version}`),
    h(
      'span',
      { class: 'nbmlops-arm-bar', title: `${arm.arm}: ${share}` },
      h('span', {
        class: `nbmlops-arm-fill nbmlops-arm-${arm.arm}`,
        style: `width: ${Math.max(0, Math.min(100, arm.share))}%`
      })
    ),
    h(
      'span',
      { class: 'nbmlops-num nbmlops-arm-share', title: mode === 'shadow' ? 'scores a copy of every request; only the champion answers' : share },
      share
    )
  );
}

function rolloutCard(r: IRollout, host: IViewHost): HTMLElement {
  const active = r.status === 'running' || r.status === 'paused';
  const step = r.mode === 'shadow' ? 'shadow' : `step ${r.step + 1}/${r.steps.length}`;
  const guards = r.guards;
  let guardView: HTMLElement;
  if (r.evaluation_problem) {
    guardView = h('p', { class: 'nbmlops-failure-title' }, r.evaluation_problem);
  } else if (guards && guards.length) {
    guardView = checkList(guards, 'nbmlops-guards');
  } else {
    guardView = h(
      'p',
      { class: 'nbmlops-empty' },
      r.guard_rules.length ? 'guards not evaluated' : 'no guards'
    );
  }
  const failing = guards ? guards.filter(g => !g.passed).length : 0;
  return h(
    'div',
    { class: 'nbmlops-card-box nbmlops-rollout', 'data-rollout': String(r.id) },
    h(
      'div',
      { class: 'nbmlops-card-head' },
      clip(`${r.name} v${r.candidate}`, 'nbmlops-card-title'),
      h('span', { class: 'nbmlops-badge nbmlops-alias' }, r.mode),
      statusBadge(r.status)
    ),
    h(
      'div',
      { class: 'nbmlops-meta' },
      clip(`#${r.id}`),
      clip(`vs v${r.champion ?? '–'}`),
      clip(step),
      r.requests === null ? null : clip(`${r.requests} req`, '', 'span')
    ),
    h('div', { class: 'nbmlops-arms' }, ...r.arms.map(a => armRow(a, r.mode))),
    // An ended rollout shows the guard table stored when it ended; a user's abort has none.
    active || guards
      ? h(
          'div',
          { class: 'nbmlops-subhead' },
          h('span', {}, 'Guards'),
          guards && guards.length
            ? h(
                'span',
                {
                  class: 'nbmlops-dim',
                  title: r.evaluated_at ? `evaluated ${when(r.evaluated_at)}` : ''
                },
                failing ? `${failing} failing` : 'all hold'
              )
            : null
        )
      : null,
    active || guards ? guardView : null,
    r.reason ? h('p', { class: 'nbmlops-dim nbmlops-rollout-reason', title: r.reason }, r.reason) : null,
    active
      ? h(
          'div',
          { class: 'nbmlops-actions' },
          h(
            'button',
            {
              class: 'nbmlops-abort jp-mod-styled jp-mod-warn',
              title: `Abort rollout ${r.id}: every server back on v${r.champion ?? '–'} now`,
              onclick: () => void abortRollout(r, host)
            },
            'Abort…'
          )
        )
      : null
  );
}

async function abortRollout(r: IRollout, host: IViewHost): Promise<void> {
  const result = await showDialog({
    title: `Abort rollout ${r.id}`,
    body: new ReasonForm(
      `Abort the ${r.mode} of ${r.name} v${r.candidate}? Every server sends all traffic back ` +
        `to v${r.champion ?? '–'} within its poll interval. This cannot be resumed.`
    ),
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Abort rollout' })]
  });
  if (!result.button.accept || !result.value) {
    return;
  }
  try {
    const done = await postAPI<IRollout>(`rollouts/${r.id}/abort`, {
      reason: result.value.reason
    });
    await host.refresh();
    host.setStatus(`Rollout ${done.id} aborted: ${done.name} is back on v${done.champion ?? '–'}.`);
  } catch (error) {
    await host.refresh();
    await showErrorMessage('nbmlops', messageOf(error));
  }
}

function serverCard(s: IServer): HTMLElement {
  return h(
    'div',
    { class: 'nbmlops-card-box nbmlops-server', 'data-server': s.id },
    h(
      'div',
      { class: 'nbmlops-card-head' },
      clip(s.url || s.id, 'nbmlops-card-title nbmlops-server-url'),
      h(
        'span',
        {
          class: `nbmlops-badge nbmlops-server-${s.status}`,
          title:
            s.status === 'live'
              ? `last seen ${when(s.last_seen)}`
              : `not seen since ${when(s.last_seen)}: stopped without saying so`
        },
        s.status
      )
    ),
    h(
      'div',
      { class: 'nbmlops-meta' },
      clip(s.host),
      clip(`pid ${s.pid}`),
      clip(`since ${shortWhen(s.started_at)}`)
    ),
    ...s.models.map(m =>
      h(
        'div',
        { class: 'nbmlops-served', 'data-model': m.name, title: m.problem || m.ref },
        clip(m.name, 'nbmlops-served-name'),
        h(
          'span',
          { class: 'nbmlops-served-what' },
          m.version === null ? 'loading' : `v${m.version}`,
          m.rollout
            ? h(
                'span',
                { class: 'nbmlops-dim' },
                m.rollout.mode === 'shadow'
                  ? ` + shadow v${m.rollout.candidate}`
                  : ` + v${m.rollout.candidate} ${fmt(m.rollout.share)}%`
              )
            : null,
          m.problem ? h('span', { class: 'nbmlops-badge nbmlops-status-failed' }, '!') : null
        )
      )
    )
  );
}

// -- approvals --------------------------------------------------------------------------------

export async function approvalsView(host: IViewHost): Promise<HTMLElement> {
  const requests = await requestAPI<IRequest[]>('requests');
  if (requests.length === 0) {
    return emptyState(
      'No request waits for approval.',
      'Under a policy (',
      h('code', {}, 'nbmlops.set_policy("churn", production={"approvals": 1})'),
      '), a promotion opens a request here instead of moving the model.'
    );
  }
  return h(
    'div',
    { class: 'nbmlops-approvals nbmlops-cards' },
    ...requests.map(r => requestCard(r, host))
  );
}

function requestCard(r: IRequest, host: IViewHost): HTMLElement {
  const gates = r.gates || [];
  const failing = gates.filter(g => !g.passed).length;
  return h(
    'div',
    { class: 'nbmlops-card-box nbmlops-request', 'data-request': String(r.id) },
    h(
      'div',
      { class: 'nbmlops-card-head' },
      clip(`${r.name} v${r.version} → ${r.to_stage}`, 'nbmlops-card-title'),
      statusBadge(r.status)
    ),
    h(
      'div',
      { class: 'nbmlops-meta' },
      clip(`#${r.id}`),
      clip(`by ${r.requested_by ?? '?'}`),
      h('span', { class: 'nbmlops-clip', title: when(r.requested_at) }, shortWhen(r.requested_at)),
      clip(r.champion_version === null ? 'no champion' : `champion v${r.champion_version}`)
    ),
    r.reason ? h('p', { class: 'nbmlops-dim nbmlops-request-reason', title: r.reason }, `“${r.reason}”`) : null,
    h(
      'div',
      { class: 'nbmlops-subhead' },
      h('span', {}, `Approvals ${r.approvals.length} of ${r.approvals_needed}`),
      r.separate_approver
        ? h('span', { class: 'nbmlops-dim', title: 'the requester cannot approve' }, 'four eyes')
        : null
    ),
    r.approvals.length
      ? h('p', { class: 'nbmlops-dim nbmlops-clip' }, `approved by ${r.approvals.join(', ')}`)
      : null,
    h(
      'div',
      { class: 'nbmlops-subhead' },
      h('span', {}, 'Gates'),
      gates.length
        ? h('span', { class: 'nbmlops-dim' }, failing ? `${failing} failing` : 'all pass')
        : null
    ),
    gates.length ? checkList(gates, 'nbmlops-request-gates') : h('p', { class: 'nbmlops-empty' }, 'no gates'),
    h(
      'div',
      { class: 'nbmlops-actions' },
      h(
        'button',
        {
          class: 'nbmlops-approve jp-mod-styled jp-mod-accept',
          title: `Approve: the last required approval promotes v${r.version} (gates checked again)`,
          onclick: () => void decide(r, 'approve', host)
        },
        'Approve…'
      ),
      h(
        'button',
        {
          class: 'nbmlops-reject jp-mod-styled jp-mod-warn',
          title: 'Reject: the request closes, nothing moves',
          onclick: () => void decide(r, 'reject', host)
        },
        'Reject…'
      )
    )
  );
}

async function decide(r: IRequest, decision: 'approve' | 'reject', host: IViewHost): Promise<void> {
  const verb = decision === 'approve' ? 'Approve' : 'Reject';
  const result = await showDialog({
    title: `${verb} request ${r.id}`,
    body: new ReasonForm(
      decision === 'approve'
        ? `Approve moving ${r.name} v${r.version} to ${r.to_stage}? With the last required ` +
            'approval it moves at once, after its gates are checked again against the champion.'
        : `Reject moving ${r.name} v${r.version} to ${r.to_stage}? The request closes; nothing moves.`
    ),
    buttons: [
      Dialog.cancelButton(),
      decision === 'approve'
        ? Dialog.okButton({ label: 'Approve' })
        : Dialog.warnButton({ label: 'Reject' })
    ]
  });
  if (!result.button.accept || !result.value) {
    return;
  }
  try {
    const done = await postAPI<IRequest>(`requests/${r.id}/${decision}`, {
      reason: result.value.reason || null
    });
    await host.refresh();
    host.setStatus(decided(done));
  } catch (error) {
    await host.refresh();
    await showErrorMessage('nbmlops', messageOf(error));
  }
}

/** What a decision did, in one sentence. */
function decided(r: IRequest): string {
  const what = `${r.name} v${r.version} → ${r.to_stage}`;
  if (r.status === 'approved') {
    return `Request ${r.id} approved: ${r.name} v${r.version} is now ${r.to_stage}.`;
  }
  if (r.status === 'pending') {
    const left = r.approvals_needed - r.approvals.length;
    return `Request ${r.id} (${what}) approved by you; ${left} more approval${left === 1 ? '' : 's'} needed.`;
  }
  return `Request ${r.id} (${what}) is ${r.status}` + (r.outcome ? `: ${r.outcome}` : '.');
}
