import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the nbmlops REST API: its HTTP status and the nbmlops message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string,
    readonly body: any = null
  ) {
    super(message);
  }

  /** The gate table of a refused promotion (HTTP 409 ``GateFailed``), else null. */
  get gates(): IGateRow[] | null {
    return this.body && Array.isArray(this.body.gates) ? this.body.gates : null;
  }
}

const settings = ServerConnection.makeSettings();

/** The URL of an API path (``runs``, ``models/iris`` …) on this Jupyter server. */
export function apiUrl(path: string): string {
  return URLExt.join(settings.baseUrl, 'nbmlops', 'api', path);
}

/**
 * Call the REST API of the nbmlops server extension.
 *
 * ``ServerConnection.makeRequest`` sends the token or login cookie and, on POST, the XSRF
 * header, so the server's ``@authenticated`` handlers accept the request.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {}
): Promise<T> {
  const response = await ServerConnection.makeRequest(
    apiUrl(path),
    init,
    settings
  );
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && data.message
        ? data.message
        : `${response.status} ${response.statusText}`;
    throw new ApiError(
      response.status,
      (data && data.error) || 'HTTPError',
      message,
      data
    );
  }
  return data as T;
}

/** POST a JSON body. */
export function postAPI<T>(path: string, body: unknown): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

/** DELETE with a JSON body (the reason kept in the model history). */
export function deleteAPI<T>(path: string, body: unknown): Promise<T> {
  return requestAPI<T>(path, { method: 'DELETE', body: JSON.stringify(body) });
}

/** One row of a gate table: the gate, the two sides compared, and whether it passed. */
export interface IGateRow {
  gate: string;
  value: number | null;
  threshold: number | null;
  passed: boolean;
  detail: string | null;
}

export interface IRunRow {
  run_id: string;
  experiment: string;
  name: string | null;
  status: string;
  start_time: string;
  duration_s: number;
  [column: string]: unknown;
}

export interface IRunPage {
  runs: IRunRow[];
  total: number;
  offset: number;
  limit: number;
  columns: string[];
}

export interface IPoint {
  step: number;
  value: number | null;
}

export interface IRunDetail {
  run_id: string;
  name: string | null;
  experiment: string;
  status: string;
  start_time: string;
  end_time: string | null;
  duration_s: number;
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
  history: Record<string, IPoint[]>;
  code: string | null;
  error: string | null;
  artifacts: { name: string; size: number; media_type: string | null }[];
  cell: string | null;
}

export interface IModelRow {
  name: string;
  versions: number;
  latest_version: number | null;
  production_version: number | null;
  aliases: string;
  description: string | null;
}

export interface IVersionRow {
  version: number;
  stage: string | null;
  aliases: string[];
  run_id: string | null;
  model_class: string;
  created_at: string;
  user: string | null;
  description: string | null;
  metrics: Record<string, number | null>;
}

export interface IModelDetail {
  name: string;
  versions: IVersionRow[];
  production_version: number | null;
  /** The version a rollback would put back in production; null: nothing to roll back to. */
  rollback_to: number | null;
  /** The gates of the model's last gated promotion, offered again by the promote dialog. */
  last_gates: string[];
  history: {
    at: string;
    version: number;
    action: string;
    from_stage: string | null;
    to_stage: string | null;
    user: string | null;
    reason: string | null;
    gates: string[] | null;
  }[];
}

export interface IReportRow {
  report_id: string;
  name: string | null;
  created_at: string;
  dataset_drift: boolean;
  drifted: string;
  drifted_columns: string;
  model: string | null;
}

/** The message to show for an error thrown by the API or the browser. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** What promoting a model needs, per stage (``nbmlops.set_policy``). */
export interface IStagePolicy {
  approvals: number;
  separate_approver: boolean;
  gates: string[];
}

export interface IPolicy {
  name: string;
  policy: Record<string, IStagePolicy>;
}

/** A promotion request waiting for (or decided by) approvals. */
export interface IRequest {
  id: number;
  name: string;
  version: number;
  to_stage: string;
  status: string;
  approvals_needed: number;
  separate_approver: boolean;
  approvals: string[];
  decisions: { user: string | null; decision: string; at: string; reason: string | null }[];
  requested_by: string | null;
  requested_at: string;
  reason: string | null;
  champion_version: number | null;
  gates: IGateRow[] | null;
  outcome: string | null;
}

/** One arm of a rollout: who answers which share of the traffic. */
export interface IArm {
  arm: string;
  version: number | null;
  share: number;
}

export interface IRollout {
  id: number;
  name: string;
  champion: number | null;
  candidate: number;
  mode: string;
  steps: number[];
  step: number;
  share: number;
  arms: IArm[];
  status: string;
  key: string | null;
  guard_rules: string[];
  /** Guard values of an evaluation now (active) or when it ended; null: none evaluated. */
  guards: IGateRow[] | null;
  requests: number | null;
  evaluated_at: string | null;
  evaluation_problem: string | null;
  updated_at: string;
  reason: string | null;
}

/** A model server seen in the store and what each served name answers with now. */
export interface IServer {
  id: string;
  status: 'live' | 'gone';
  url: string | null;
  host: string;
  pid: number;
  started_at: string;
  last_seen: string;
  models: {
    name: string;
    ref: string;
    version: number | null;
    rollout?: { id: number; mode: string; candidate: number; share: number };
    problem?: string;
  }[];
}
