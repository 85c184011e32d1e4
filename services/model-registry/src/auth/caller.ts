import { AccessRole } from '@understudy/contracts';
import type { Principal } from '@understudy/grpc';

/** The roles of a principals file, each including the ones before it. */
export const roleNames = ['reader', 'writer', 'approver', 'admin'] as const;
export type RoleName = (typeof roleNames)[number];

const roleOf: Readonly<Record<RoleName, AccessRole>> = {
  reader: AccessRole.READER,
  writer: AccessRole.WRITER,
  approver: AccessRole.APPROVER,
  admin: AccessRole.ADMIN,
};

/** How a role is written in principals files and errors. */
export function roleName(role: AccessRole): string {
  return roleNames.find((name) => roleOf[name] === role) ?? 'unspecified';
}

/** `*` in a principal's tenants: it acts for every tenant. */
export const allTenants = '*';

/**
 * A caller the registry knows, as its principals file describes it: its subject (the actor of
 * its changes in the audit log), the highest of its roles, and the tenants it acts for.
 */
export class RegistryCaller implements Principal {
  readonly role: AccessRole;
  /** Set for a caller of exactly one tenant: requests that name none are for it. */
  readonly tenantId?: string;

  constructor(
    readonly subject: string,
    roles: readonly RoleName[],
    /** Tenant ids, or `*` alone for every tenant. */
    readonly tenants: readonly string[],
  ) {
    this.role = roles
      .map((name) => roleOf[name])
      .reduce((highest, role) => (role > highest ? role : highest), AccessRole.UNSPECIFIED);
    const [only] = tenants;
    if (tenants.length === 1 && only !== undefined && only !== allTenants) this.tenantId = only;
  }

  get actsForAllTenants(): boolean {
    return this.tenants.includes(allTenants);
  }

  /** Whether its roles include `required`; a method that requires none is for nobody. */
  holds(required: AccessRole): boolean {
    return required !== AccessRole.UNSPECIFIED && this.role >= required;
  }

  actsFor(tenantId: string): boolean {
    return this.actsForAllTenants || this.tenants.includes(tenantId);
  }
}
