import type { Conversation } from '@weapp/common'
import { Component } from 'preact'
import { inboxHref } from '../router.js'
import { type ListFilter, type ListStatus, type ListView, unreadFor } from '../state.js'

interface Props {
  me: string
  filter: ListFilter
  items: Conversation[]
  next: string | null
  openid: string | null
  loading: boolean
  error: string | null
  onFilter: (filter: ListFilter) => void
  onMore: () => void
}

function time (iso: string): string {
  const d = new Date(iso)
  const sameDay = d.toDateString() === new Date().toDateString()
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString()
}

export function ConversationList ({ me, filter, items, next, openid, loading, error, onFilter, onMore }: Props) {
  return (
    <section class='list' aria-label='Conversations'>
      <div class='filters'>
        <label>Show
          <select data-testid='conv-filter-view' value={filter.view} onChange={(e) => { onFilter({ ...filter, view: e.currentTarget.value as ListView }) }}>
            <option value='all'>All</option>
            <option value='mine'>Mine</option>
            <option value='unassigned'>Unassigned</option>
          </select>
        </label>
        <label>Status
          <select data-testid='conv-filter-status' value={filter.status} onChange={(e) => { onFilter({ ...filter, status: e.currentTarget.value as ListStatus }) }}>
            <option value='open'>Open</option>
            <option value='resolved'>Resolved</option>
          </select>
        </label>
      </div>
      {error !== null && <p class='error' role='alert'>{error}</p>}
      <ul data-testid='conv-list'>
        {items.map((c) => <ConversationItem key={c.openid} conversation={c} me={me} active={c.openid === openid} />)}
      </ul>
      {items.length === 0 && !loading && <p class='empty'>No conversations.</p>}
      {next !== null && <button type='button' data-testid='conv-more' disabled={loading} onClick={onMore}>Load more</button>}
    </section>
  )
}

interface ItemProps { conversation: Conversation, me: string, active: boolean }

/** One conversation of the list, re-rendered only when it changed (an event changes one conversation object). */
class ConversationItem extends Component<ItemProps> {
  override shouldComponentUpdate (next: ItemProps): boolean {
    return next.conversation !== this.props.conversation || next.active !== this.props.active || next.me !== this.props.me
  }

  render () {
    const { conversation: c, me, active } = this.props
    const unread = unreadFor(c, me)
    return (
      <li data-testid='conv-item' data-openid={c.openid} class={active ? 'active' : undefined}>
        <a href={inboxHref(c.openid)} aria-current={active ? 'true' : undefined}>
          <span class='row'>
            <span class='openid' title={c.openid}>{c.openid}</span>
            <time dateTime={c.lastAt}>{time(c.lastAt)}</time>
          </span>
          <span class='row'>
            <span class='preview' data-testid='conv-preview'>{c.last.direction === 'out' ? '↩ ' : ''}{c.last.preview}</span>
            {unread > 0 && <span class='badge' data-testid='conv-unread' aria-label={`${unread} unread`}>{unread}</span>}
          </span>
          <span class='assignee' data-testid='conv-assignee'>{c.assignee === null ? 'unassigned' : c.assignee.displayName}{c.handover !== 'none' ? ` · hand-over ${c.handover}` : ''}</span>
        </a>
      </li>
    )
  }
}
