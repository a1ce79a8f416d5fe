// nginx in front of each side of `pnpm bench:peers`, on free loopback ports with one throw-away
// certificate, one worker each: this project's own configuration (nginx/render.sh), and the seed
// tutorial's ssl.conf with its TLS settings brought to ours (seedNginxConf below).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { processTree } from './processes.js'

const root = new URL('../..', import.meta.url).pathname

/** Why nginx cannot run here (nginx or openssl missing), or null. */
export function nginxMissing (): string | null {
  const missing = ['nginx', 'openssl'].filter((bin) => {
    try { execFileSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }); return false } catch { return true }
  })
  return missing.length === 0 ? null : `${missing.join(' and ')} not installed (apt-get install nginx openssl)`
}

/**
 * A throw-away ECDSA P-256 certificate for 127.0.0.1 in `dir` (cert.pem, key.pem), as bench:ws makes
 * (its handshakes cost a fraction of RSA 2048's): both sides get the same one.
 */
export function makeCert (dir: string): { cert: string, key: string } {
  mkdirSync(dir, { recursive: true })
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] })
  return { cert, key }
}

export interface OurNginxOptions { httpPort: number, httpsPort: number, gatewayPort: number, realtimePort: number, cert: string, key: string }

/**
 * Our configuration as nginx/render.sh writes it, one worker, access log off (as the seed's), with the
 * per-address limits on logins and WebSocket upgrades raised: every request of the bench comes from one
 * address, which those limits are there to slow down.
 */
export function renderOurNginx (dir: string, o: OurNginxOptions): string {
  execFileSync(join(root, 'nginx/render.sh'), [dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      NGINX_LISTEN_ADDRESS: '127.0.0.1',
      NGINX_HTTP_PORT: String(o.httpPort),
      NGINX_HTTPS_PORT: String(o.httpsPort),
      GATEWAY_UPSTREAM: `127.0.0.1:${o.gatewayPort}`,
      REALTIME_WS_UPSTREAM: `127.0.0.1:${o.realtimePort}`,
      TLS_CERT: o.cert,
      TLS_KEY: o.key,
      NGINX_WORKER_PROCESSES: '1',
      NGINX_WORKER_CONNECTIONS: '20000',
      NGINX_ACCESS_LOG: 'off',
      NGINX_ERROR_LOG_LEVEL: 'error',
      NGINX_LOGIN_RATE: '1000000r/s',
      NGINX_LOGIN_BURST: '1000000',
      NGINX_LOGIN_CONN: '60000',
      NGINX_WS_RATE: '1000000r/s',
      NGINX_WS_BURST: '1000000',
      NGINX_WS_CONN: '60000'
    }
  })
  return join(dir, 'nginx.conf')
}

export interface SeedNginxOptions { httpsPort: number, seedPort: number, webotPort: number, cert: string, key: string }

/**
 * The seed tutorial's ssl.conf (its WebSocket version: the `$connection_upgrade` map, Upgrade and
 * Connection passed on, `location / { proxy_pass http://127.0.0.1:8765; }`), modernized as a team would
 * run it today: `listen … ssl` (nginx dropped `ssl on`), TLS 1.2/1.3 with our ciphers, session cache and
 * record size (nginx/weapp.conf.template), and `proxy_http_version 1.1`, without which nginx cannot pass
 * a WebSocket upgrade on. Like the tutorial's it keeps no idle connections to the upstream (its map sends
 * `Connection: close` on every plain request). node-webot's callback gets the message URL's location.
 */
export function seedNginxConf (dir: string, o: SeedNginxOptions): string {
  mkdirSync(dir, { recursive: true })
  const conf = `# The seed tutorial's ssl.conf, modernized (bench/lib/peers-nginx.ts)
worker_processes 1;
worker_rlimit_nofile 40000;
pid "${dir}/nginx.pid";
error_log stderr error;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path "${dir}/client_body";
    proxy_temp_path "${dir}/proxy";
    fastcgi_temp_path "${dir}/fastcgi";
    uwsgi_temp_path "${dir}/uwsgi";
    scgi_temp_path "${dir}/scgi";

    # WebSocket 配置
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    server {
        listen 127.0.0.1:${o.httpsPort} ssl;
        server_name 127.0.0.1;
        ssl_certificate "${o.cert}";
        ssl_certificate_key "${o.key}";
        # TLS as nginx/weapp.conf.template has it (the tutorial's: TLSv1 TLSv1.1 TLSv1.2, 5m sessions).
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
        ssl_prefer_server_ciphers off;
        ssl_session_cache shared:seed_tls:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;
        ssl_buffer_size 4k;

        # WebSocket 配置
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;

        location / {
            proxy_pass http://127.0.0.1:${o.seedPort};
        }
        # node-webot's message URL (not in the tutorial, which has no push callback).
        location /wechat/ {
            proxy_pass http://127.0.0.1:${o.webotPort};
        }
    }
}
`
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, conf)
  return file
}

/** nginx in the foreground (master + its worker), stopped gracefully. */
export class NginxProcess {
  child: ChildProcess | null = null
  constructor (readonly name: string, readonly conf: string, readonly port: number) {}

  get origin (): string { return `https://127.0.0.1:${this.port}` }

  /** The master and its workers (their CPU and memory count for the side). */
  pids (): number[] {
    const master = this.child?.pid
    return master === undefined ? [] : processTree(master)
  }

  async start (): Promise<void> {
    const child = this.child = spawn('nginx', ['-c', this.conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line !== '' && !line.includes('setrlimit(RLIMIT_NOFILE')) console.error(`${this.name}: ${line}`)
    })
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}`)
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(this.port, '127.0.0.1', () => { s.destroy(); resolve(true) })
        s.once('error', () => { resolve(false) })
      })
      if (up && this.pids().length > 1) return
      await sleep(50)
    }
    throw new Error(`${this.name} did not start listening`)
  }

  async stop (): Promise<void> {
    const child = this.child
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGQUIT')
    await Promise.race([exited, sleep(3000).then(() => { child.kill('SIGKILL') })])
  }
}
