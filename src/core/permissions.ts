/**
 * Who may do what (DESIGN §7-8): per user, per exchange pattern, the actions publish, consume
 * and configure; `admin` may do everything. Patterns are an exchange name or a glob where
 * `*` matches any run of characters (`logs`, `logs.*`, `*`).
 */
export const ACTIONS = ['publish', 'consume', 'configure'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Grant {
  exchange: string;
  actions: Action[];
}

export interface Principal {
  userId: number;
  username: string;
  admin: boolean;
  grants: Grant[];
}

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value);
}

export function exchangePatternMatches(pattern: string, exchange: string): boolean {
  if (!pattern.includes('*')) return pattern === exchange;
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`).test(exchange);
}

export function isAllowed(principal: Principal, action: Action, exchange: string): boolean {
  if (principal.admin) return true;
  return principal.grants.some((grant) => grant.actions.includes(action) && exchangePatternMatches(grant.exchange, exchange));
}
