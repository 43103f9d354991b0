// The slot function lives with the Redis face (partitioned queues use it too); tests import it from here.
export { hashedPart, keySlot } from '../../src/redis/slot.ts';
