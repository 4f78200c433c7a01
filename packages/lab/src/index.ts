export { startOrigin } from './origin-server.js'
export { randomBytesSeeded, writeRandomFile } from './random-file.js'
export type { Origin, OriginFault, OriginFile, OriginInit, OriginRequestLog } from './types.js'
export { freePort } from './ports.js'
