import { SimControl, buildSimulator, type SimulatorOptions } from '@weapp/wechat-sim'
import { listenLocal } from './listen.js'
import type { Teardown } from './teardown.js'

export interface RunningSimulator {
  app: Awaited<ReturnType<typeof buildSimulator>>
  /** Its base URL: WECHAT_API_BASE of the app under test. */
  url: string
  /** Its /sim/* control API (login codes, users' actions, stats, faults). */
  control: SimControl
}

/** The project's WeChat simulator on a free local port (reached over HTTP, as WeChat would be), closed when the test ends. */
export async function startSimulator (t: Teardown, options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const app = await buildSimulator(options)
  t.teardown(() => app.close())
  const url = await listenLocal(app)
  return { app, url, control: new SimControl(url) }
}
