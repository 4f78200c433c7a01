export { createOriginClient } from './origin-client.js'
export type {
  OriginClient, OriginClientInit, RemoteInfo, Validator, FetchRangeOptions
} from './types.js'
