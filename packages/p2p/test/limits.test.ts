import { describe, expect, it } from 'vitest'
import { FairSlots } from '../src/limits.js'

describe('FairSlots', () => {
  it('caps slots per peer and in all, and lets waiting peers take turns', async () => {
    const slots = new FairSlots(3, 2)
    const order: string[] = []
    const take = async (peer: string): Promise<void> => { await slots.acquire(peer); order.push(peer) }
    await take('a')
    await take('a')
    const waiting = [take('a'), take('a'), take('b'), take('b'), take('c')]
    await new Promise(resolve => setImmediate(resolve))
    // 'a' is at its cap; 'b' gets the third slot at once.
    expect(order).toEqual(['a', 'a', 'b'])
    expect(slots.used).toBe(3)
    slots.release('a') // a slot frees: 'a' waited first, then 'b', then 'c' - turns, not FIFO over everyone
    slots.release('b')
    slots.release('a')
    await new Promise(resolve => setImmediate(resolve))
    expect(order.slice(3)).toEqual(['a', 'b', 'c'])
    slots.release('a')
    await Promise.race([Promise.all(waiting), new Promise(resolve => setTimeout(resolve, 50))])
    expect(order).toHaveLength(7)
  })

  it('drops a waiter whose signal aborts', async () => {
    const slots = new FairSlots(1, 1)
    await slots.acquire('a')
    const controller = new AbortController()
    const waiting = slots.acquire('b', controller.signal)
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' })
    slots.release('a')
    await slots.acquire('c')
    expect(slots.used).toBe(1)
  })
})
