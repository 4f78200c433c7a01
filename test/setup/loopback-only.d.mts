export declare const MARKER: string
export declare class OffMachineError extends Error {}
export declare function attempts (): string[]
