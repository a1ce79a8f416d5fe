// The alert for a new inbound message while the tab is hidden: a short tone (Web Audio, no audio file to
// fetch) and a browser notification. Browsers allow both only after a user gesture: `armAlerts` runs on the
// first click or key press, asks the notification permission once and unlocks the audio context.

let audio: AudioContext | null = null
let asked = false

export function armAlerts (): void {
  if (audio === null && typeof AudioContext !== 'undefined') {
    try {
      audio = new AudioContext()
    } catch {}
  }
  void audio?.resume().catch(() => {})
  if (!asked && typeof Notification !== 'undefined' && Notification.permission === 'default') {
    asked = true
    void Notification.requestPermission().catch(() => {})
  }
}

function beep (): void {
  if (audio === null || audio.state !== 'running') return
  const now = audio.currentTime
  const osc = audio.createOscillator()
  const gain = audio.createGain()
  osc.type = 'sine'
  osc.frequency.setValueAtTime(880, now)
  osc.frequency.setValueAtTime(660, now + 0.09)
  gain.gain.setValueAtTime(0.0001, now)
  gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02)
  gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.25)
  osc.connect(gain).connect(audio.destination)
  osc.start(now)
  osc.stop(now + 0.26)
}

/** Alerts the agent about a message from `openid` when the tab is hidden; silent when notifications are denied. */
export function alertInbound (openid: string, preview: string, onClick: () => void): void {
  if (document.visibilityState !== 'hidden') return
  beep()
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return
  try {
    const notification = new Notification('New message', { body: preview.slice(0, 120), tag: `weapp-console-${openid}` })
    notification.onclick = () => {
      window.focus()
      onClick()
      notification.close()
    }
  } catch {}
}
