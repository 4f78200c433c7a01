export { openLevelStore, SCHEMA_VERSION } from './level-store.js'
export type { Store, LevelStoreInit, PieceUpdate } from './level-store.js'
export type { JobRecord, FileRecord, PieceRecord, CacheRecord } from './records.js'
