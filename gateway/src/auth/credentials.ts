// Client credentials are read by @weapp/common (session-auth/), shared with realtime-ws's direct upgrades.
export {
  CREDENTIAL_SHAPES, MALFORMED, bearerCredential, bearerToken, consoleCookieCredential, credentialHash, extractCredential, isMalformed,
  wafer1Credential, wafer2Credential, waferQueryCredentials,
  type CachedCredential, type ConsoleCookieCredential, type Credential, type CredentialKind, type Malformed
} from '@weapp/common'
