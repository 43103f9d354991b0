// Export files in Redis, and how many bytes of them each principal holds. An attempt writes its file in chunks
// (APPEND to a key of its own, so a retry never mixes with a stalled earlier attempt) and moves it into place
// when complete; downloads read it back in bounded ranges. A principal's unexpired files, and its exports still
// running (at the most they may store), are counted against a cap in one Lua call per request.
import { BINARY_REPLIES, luaScriptFile, withTimeout, type Redis } from '../redis/index.ts';
import { exportKeys } from './keys.ts';

const lua = new URL('./lua/', import.meta.url);
const reserveExport = luaScriptFile(lua, 'reserveExport-2.lua');
const storeExport = luaScriptFile(lua, 'storeExport-4.lua');
const releaseExport = luaScriptFile(lua, 'releaseExport-2.lua');

/** Bytes per Redis read of a download: each read is short, and a download holds about one at a time. */
export const DOWNLOAD_CHUNK_BYTES = 64 * 1024;

/** Who an export counts against: the principal, and the reservation its bytes are counted under. */
export interface ExportOwner {
  principal: string;
  reservation: string;
}

export type Reservation =
  /** `fresh`: reserved by this call (false: the reservation already counted, e.g. a replayed request). */
  | { granted: true; fresh: boolean }
  | { granted: false; heldBytes: number; retryAfterS: number };

export interface ExportStore {
  /** Appends a chunk to the file attempt `attempt` writes; the part expires `partKeepMs` after its last chunk. */
  append(jobId: string, attempt: number, chunk: string, partKeepMs: number): Promise<void>;
  /** Moves the attempt's file into place until `expiresAt` and counts it for its owner; returns its size. */
  store(jobId: string, attempt: number, owner: ExportOwner | undefined, expiresAt: number): Promise<number>;
  /** Counts `bytes` for `owner` until `until` (epoch ms), unless the principal's total would pass `capBytes`. */
  reserve(owner: ExportOwner, bytes: number, until: number, capBytes: number): Promise<Reservation>;
  release(owner: ExportOwner): Promise<void>;
  /** The stored file's size, or null when there is none (never stored, or expired). */
  size(jobId: string): Promise<number | null>;
  /** The file's `size` bytes, a chunk at a time; throws if the file vanishes (expires) before its end. */
  read(jobId: string, size: number): AsyncGenerator<Buffer>;
}

const UNOWNED: ExportOwner = { principal: '', reservation: '' };

/** Every call is bounded by `timeoutMs`: a hung Redis fails a call, never holds it. */
export function createExportStore(redis: Redis, prefix: string, timeoutMs: number): ExportStore {
  const keys = exportKeys(prefix);
  const bounded = <T>(pending: Promise<T>) => withTimeout(pending, timeoutMs);
  const ownerKeys = (owner: ExportOwner) => [keys.held(owner.principal), keys.heldBytes(owner.principal)];
  return {
    async append(jobId, attempt, chunk, partKeepMs) {
      const part = keys.part(jobId, attempt);
      await bounded(redis.multi().append(part, chunk).pExpire(part, partKeepMs).exec());
    },
    async store(jobId, attempt, owner, expiresAt) {
      // An export nobody owns counts for nobody; the script leaves the (unused) keys alone.
      const held = ownerKeys(owner ?? UNOWNED);
      return Number(await bounded(storeExport.run(redis, [keys.part(jobId, attempt), keys.file(jobId), ...held], [owner?.reservation ?? '', expiresAt])));
    },
    async reserve(owner, bytes, until, capBytes) {
      const now = Date.now();
      const [outcome, held, first] = (await bounded(reserveExport.run(redis, ownerKeys(owner), [now, capBytes, bytes, owner.reservation, until]))) as number[];
      if (outcome !== 0) return { granted: true, fresh: outcome === 1 };
      return { granted: false, heldBytes: held, retryAfterS: Math.max(1, Math.ceil((first - now) / 1000)) };
    },
    async release(owner) {
      await bounded(releaseExport.run(redis, ownerKeys(owner), [owner.reservation]));
    },
    async size(jobId) {
      const file = keys.file(jobId);
      const [exists, size] = await bounded(Promise.all([redis.exists(file), redis.strLen(file)]));
      return exists === 1 ? size : null;
    },
    async *read(jobId, size) {
      const file = keys.file(jobId);
      for (let at = 0; at < size; at += DOWNLOAD_CHUNK_BYTES) {
        const end = Math.min(at + DOWNLOAD_CHUNK_BYTES, size);
        // Buffers, not strings: a chunk boundary may fall inside a multi-byte character.
        const chunk = (await bounded(redis.sendCommand(['GETRANGE', file, String(at), String(end - 1)], BINARY_REPLIES))) as Buffer;
        if (chunk.length !== end - at) throw new Error(`export file ${jobId} ended at ${at + chunk.length} of ${size} bytes (expired?)`);
        yield chunk;
      }
    },
  };
}
