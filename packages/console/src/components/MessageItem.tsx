import type { ConsoleMessage } from '@weapp/common'
import { Component } from 'preact'
import { deliveryState, mediaUrl, messageBody } from '../messages.js'
import { explainWechatError } from '../wechat-errors.js'

interface Props { message: ConsoleMessage, localError?: string }

/**
 * One message, re-rendered only when it changed: the state keeps an unchanged message the same object, and a
 * busy conversation re-renders its view on every event (and every second, the meter).
 */
export class MessageItem extends Component<Props> {
  override shouldComponentUpdate (next: Props): boolean {
    return next.message !== this.props.message || next.localError !== this.props.localError
  }

  render () {
    return <MessageBody {...this.props} />
  }
}

function MessageBody ({ message, localError }: Props) {
  const body = messageBody(message)
  const out = message.direction === 'out'
  const state = out ? deliveryState(message) : undefined
  const failure = state === 'failed' ? (localError ?? explainWechatError(message.errcode, message.errorCode ?? (message.outcome === 'unknown' ? 'unknown outcome: WeChat may have delivered it' : undefined))) : null
  return (
    <li class={`msg msg-${message.direction}${state !== undefined ? ` msg-${state}` : ''}`} data-testid='msg' data-direction={message.direction} data-state={state}>
      {body.kind === 'text' && <p class='text' data-testid='msg-text'>{body.text}</p>}
      {body.kind === 'image' && (body.mediaId !== null
        ? <img data-testid='msg-image' src={mediaUrl(body.mediaId)} alt='Image' loading='lazy' />
        : <p class='text' data-testid='msg-image'>[image]</p>)}
      {body.kind === 'card' && (
        <figure class='card' data-testid='msg-card'>
          {body.thumbMediaId !== null && <img src={mediaUrl(body.thumbMediaId)} alt='Card thumbnail' loading='lazy' />}
          <figcaption><strong>{body.title}</strong><code>{body.pagepath}</code></figcaption>
        </figure>
      )}
      {body.kind === 'entry' && <p class='event' data-testid='msg-event'>Entered the chat{body.sessionFrom !== '' ? ` from “${body.sessionFrom}”` : ''}</p>}
      {body.kind === 'other' && <p class='event'>{body.label}</p>}
      <footer>
        <time dateTime={message.createdAt}>{new Date(message.createdAt).toLocaleTimeString()}</time>
        {out && <span data-testid='msg-sender'>{message.sentByName ?? message.sentBy ?? ''}</span>}
        {state !== undefined && <span class='state'>{state}</span>}
      </footer>
      {failure !== null && <p class='error' data-testid='msg-error'>{failure}</p>}
    </li>
  )
}
