/* tslint:disable */
/* eslint-disable */

/** One step of a result's chain of proof. */
export interface Step {
    id: "bundle" | "root" | "attestation" | "pcrs" | "signing_key" | "result" | "log" | "witnesses";
    label: string;
    status: "passed" | "failed" | "not_checked";
}
/** Fields of every report: `ok`, and on refusal the step, a stable code and a reason. */
export interface Refused {
    ok: false;
    step: string;
    code: string;
    reason: string;
}
export interface ResultVerified {
    ok: true;
    id: string;
    root: "aws" | "dev";
    dev: boolean;
    payload: Record<string, unknown>;
    pcrs: Record<string, string>;
    attestation_time_ms: number;
    leaf_not_after: number;
    key_id: string;
    signing_key: string;
    leaf_index: number;
    tree_size: number;
    tree_time: string;
    tlog_proof: string;
    publish_consent: string;
    /** The witnessed log, when a tlog-policy was given. */
    witnessed: { origin: string; tree_size: number; witnesses: string[] } | null;
    steps: Step[];
}
export type ResultReport = ResultVerified | (Refused & { root: "aws" | "dev" | null; steps: Step[] });
export interface AttestationVerified {
    ok: true;
    root: "aws" | "dev";
    dev: boolean;
    module_id: string;
    timestamp_ms: number;
    pcrs: Record<string, string>;
    public_key: string | null;
    user_data: string | null;
    nonce: string | null;
    leaf_not_after: number;
}
export type AttestationReport = AttestationVerified | Refused;
export interface CheckpointVerified {
    ok: true;
    origin: string;
    size: number;
    root: string;
    witnesses: string[];
}
export type CheckpointReport = CheckpointVerified | Refused;



/**
 * Version of this verifier build (the workspace version).
 */
export function verifierVersion(): string;

/**
 * Verifies an NSM attestation document (raw CBOR bytes) at `nowMs` under
 * `pcrsJson`, requiring `nonce` when given. Never throws.
 */
export function verifyAttestation(document: Uint8Array | number[], pcrsJson: string, nowMs: number, nonce?: Uint8Array | number[] | null, devRootPem?: string | null): AttestationReport;

/**
 * Verifies a C2SP checkpoint (signed note text) under a tlog-policy text
 * (log key, witnesses, quorum). Never throws.
 */
export function verifyCheckpoint(checkpoint: string, policy: string): CheckpointReport;

/**
 * Verifies a result bundle (JSON text) under `pcrsJson` (the release's
 * pcrs.json text). `nowMs` is the caller's clock (`Date.now()`); `atMs`,
 * when given, is the time the certificate chain must be valid at (default:
 * the attestation's own timestamp); `devRootPem` is accepted only for
 * documents that do not chain to the AWS root, and the report then says
 * `root: "dev"`; `tlogPolicy`, when given, is a C2SP tlog-policy (the
 * witnesses and quorum to trust; the log's key comes from the
 * attestation) under which the bundle's tlog-proof must verify. Never
 * throws.
 */
export function verifyResult(bundleJson: string, pcrsJson: string, nowMs: number, atMs?: number | null, devRootPem?: string | null, tlogPolicy?: string | null): ResultReport;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly verifierVersion: () => [number, number];
    readonly verifyAttestation: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number) => any;
    readonly verifyCheckpoint: (a: number, b: number, c: number, d: number) => any;
    readonly verifyResult: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number) => any;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
