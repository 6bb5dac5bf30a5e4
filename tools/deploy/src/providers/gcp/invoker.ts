/**
 * Who may invoke each GCP function at the platform level: roles/run.invoker for the functions'
 * service account on the function's Cloud Run service (a 2nd gen Cloud Function runs on one of the
 * same name). Cloud Scheduler, Eventarc and the functions calling each other all use that account;
 * the function then checks the token's audience and principal itself (gcpFunctionEnv).
 */
import type { FunctionName } from '../../config.ts';
import { parentOf, serviceId } from './resources.ts';
import type { GcpDeploySettings } from './settings.ts';

export const INVOKER_ROLE = 'roles/run.invoker';

export interface InvokerBinding {
  resource: string;
  role: typeof INVOKER_ROLE;
  member: string;
}

export function invokerBinding(fn: FunctionName, s: GcpDeploySettings): InvokerBinding {
  return { resource: `${parentOf(s)}/services/${serviceId(fn)}`, role: INVOKER_ROLE, member: `serviceAccount:${s.gcp.serviceAccount}` };
}

interface Policy {
  bindings?: { role?: string | null; members?: string[] | null }[] | null;
  etag?: Uint8Array | string | null;
  version?: number | null;
}

/** The subset of the Cloud Run v2 ServicesClient used here (IAM on a service), so tests can pass a fake. */
export interface IamApi {
  getIamPolicy(req: { resource: string }): Promise<[Policy, ...unknown[]]>;
  setIamPolicy(req: { resource: string; policy: Policy }): Promise<[Policy, ...unknown[]]>;
}

/** Adds the binding to the service's policy unless it is there; the read policy's etag makes the write a compare-and-swap. */
export async function grantInvoker(api: IamApi, binding: InvokerBinding): Promise<'added' | 'present'> {
  const [policy] = await api.getIamPolicy({ resource: binding.resource });
  const bindings = policy.bindings ?? [];
  const role = bindings.find((b) => b.role === binding.role);
  if (role?.members?.includes(binding.member)) return 'present';
  const updated = role
    ? bindings.map((b) => (b === role ? { ...b, members: [...(b.members ?? []), binding.member] } : b))
    : [...bindings, { role: binding.role, members: [binding.member] }];
  await api.setIamPolicy({ resource: binding.resource, policy: { ...policy, bindings: updated } });
  return 'added';
}
