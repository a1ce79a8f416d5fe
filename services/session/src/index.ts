export { default as sessionApp, sessionServerOptions, SERVICE_NAME, BODY_LIMIT, type SessionAppOptions } from './app.js'
export { SessionEnv, loadSessionConfig, type SessionConfig } from './config.js'
export { credentialHash, generateCredential, type Credential } from './sessions/credentials.js'
export * from './errors.js'
