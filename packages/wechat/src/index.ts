export * from './errors.js'
export * from './signatures.js'
export * from './open-data.js'
export * from './msg-crypt.js'
