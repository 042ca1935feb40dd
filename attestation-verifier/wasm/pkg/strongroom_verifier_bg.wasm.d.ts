/* tslint:disable */
/* eslint-disable */
export const memory: WebAssembly.Memory;
export const verifierVersion: () => [number, number];
export const verifyAttestation: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number) => any;
export const verifyCheckpoint: (a: number, b: number, c: number, d: number) => any;
export const verifyResult: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number) => any;
export const __wbindgen_exn_store: (a: number) => void;
export const __externref_table_alloc: () => number;
export const __wbindgen_externrefs: WebAssembly.Table;
export const __wbindgen_free: (a: number, b: number, c: number) => void;
export const __wbindgen_malloc: (a: number, b: number) => number;
export const __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
export const __wbindgen_start: () => void;
