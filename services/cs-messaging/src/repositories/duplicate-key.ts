/**
 * insertOutbound of a key already in the log, thrown the same way by both stores (MongoDB's 11000 is
 * turned into it): the send path tells "another attempt of this send recorded it first" from a failed write.
 */
export class MessageKeyExistsError extends Error {
  readonly key: string

  constructor (key: string) {
    super(`message ${key} exists already`)
    this.name = 'MessageKeyExistsError'
    this.key = key
  }
}
