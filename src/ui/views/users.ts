/**
 * Users and their grants, read-only (users are added and granted with `mombroker users`, as
 * in MOM-py). Admin only: GET /v1/users answers 403 to anyone else, and the page shows that.
 */
import type { UserListing } from '../api';
import { badge, breadcrumb, link, section, table, type ViewContext, type ViewHandle } from '../components';
import { fill, h } from '../dom';
import { formatTimestamp } from '../format';

export function usersView(ctx: ViewContext): ViewHandle {
  const list = h('div');
  const root = h(
    'div',
    { class: 'view users' },
    breadcrumb(link({ name: 'overview' }, 'Overview'), h('span', null, 'Users')),
    h('div', { class: 'view-head' }, h('h1', null, 'Users and grants')),
    section(
      'Users',
      h('p', { class: 'hint' }, 'Read-only. Add users, change passwords and grant with the command line: ', h('code', null, 'mombroker users add NAME'), ', ', h('code', null, 'mombroker users grant NAME --exchange PATTERN --allow publish,consume,configure'), '.'),
      list,
    ),
  );

  async function refresh(): Promise<void> {
    const answer = await ctx.api.get<{ users: UserListing[] }>('/v1/users');
    fill(
      list,
      table(
        [
          { title: 'User', field: 'username', cell: (u) => h('strong', null, u.username) },
          { title: 'Role', cell: (u) => (u.admin ? badge('admin', 'info') : 'user') },
          {
            title: 'Grants',
            field: 'grants',
            cell: (u) =>
              u.admin
                ? h('span', { class: 'muted' }, 'everything')
                : u.grants.length === 0
                  ? h('span', { class: 'muted' }, 'none')
                  : h('ul', { class: 'grants' }, ...u.grants.map((g) => h('li', null, h('code', null, g.exchange), ' ', g.actions.join(', ')))),
          },
          { title: 'Created', cell: (u) => formatTimestamp(u.created_at) },
        ],
        answer.users,
        { empty: 'No users.', key: (u) => u.username },
      ),
    );
  }

  return { title: 'Users', root, refresh };
}
