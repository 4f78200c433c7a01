import type { ActivitySample, ActivitySnapshot, JobActivity } from './snapshot.js'

/**
 * The page's script. It runs in the browser, not in Node: the server sends this function's source (`PAGE_SCRIPT`),
 * so it must use nothing from outside its own body. Written here, it is type-checked and linted with the rest.
 * It only reads (an EventSource on /events) and writes the DOM with textContent, never HTML from data.
 */
function activityPage (): void {
  const SVG = 'http://www.w3.org/2000/svg'
  /** The chart's longest window, in milliseconds; it starts at a minute and grows with the history to this. */
  const WINDOW = 5 * 60_000
  const MIN_WINDOW = 60_000
  const W = 900
  const H = 240
  const PAD = { left: 64, right: 8, top: 8, bottom: 22 }
  let samples: ActivitySample[] = []
  /** Each listed job's own samples since the page opened, for its row's chart of the last minute. */
  const jobSamples = new Map<string, ActivitySample[]>()

  const $ = (id: string): HTMLElement => document.getElementById(id)!
  const bytes = (n: number): string => {
    if (n < 0) return '?'
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let i = 0
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
    return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]!}`
  }
  const rate = (n: number): string => `${bytes(n)}/s`
  const el = (tag: string, text?: string, cls?: string): HTMLElement => {
    const e = document.createElement(tag)
    if (text !== undefined) e.textContent = text
    if (cls !== undefined) e.className = cls
    return e
  }
  const svg = (tag: string, attrs: Record<string, string | number>): SVGElement => {
    const e = document.createElementNS(SVG, tag)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    return e
  }
  const setFigure = (id: string, value: number, text: string): void => {
    const e = $(id)
    e.dataset.value = String(value)
    e.textContent = text
  }

  /**
   * Bytes per second at each sample, over the 2 s before it: pieces arrive a MiB at a time, so the rate between
   * two samples a fifth of a second apart jumps between nothing and a lot.
   */
  function rates (list: ActivitySample[]): Array<{ time: number, peers: number, origin: number, upload: number }> {
    const out = []
    let j = 0
    for (let i = 1; i < list.length; i++) {
      const b = list[i]!
      while (j < i - 1 && list[j + 1]!.time <= b.time - 2000) j++
      const a = list[j]!
      const dt = (b.time - a.time) / 1000
      if (dt <= 0) continue
      out.push({
        time: b.time,
        peers: Math.max(0, b.bytesFromPeers - a.bytesFromPeers) / dt,
        origin: Math.max(0, b.bytesFromOrigin - a.bytesFromOrigin) / dt,
        upload: Math.max(0, b.bytesUploaded - a.bytesUploaded) / dt
      })
    }
    return out
  }

  function drawChart (now: number): void {
    const chart = $('chart')
    chart.replaceChildren()
    const span = Math.min(WINDOW, Math.max(MIN_WINDOW, now - (samples[0]?.time ?? now)))
    const points = rates(samples.filter(s => s.time >= now - span - 5000))
    let top = 1024
    for (const p of points) top = Math.max(top, p.peers + p.origin, p.upload)
    // A round top (1, 2 or 5 times a power of ten, in the unit the labels use) reads better than the raw maximum.
    const unit = Math.pow(1024, Math.floor(Math.log(top) / Math.log(1024)))
    const step = Math.pow(10, Math.floor(Math.log10(top / unit)))
    top = unit * ([1, 2, 4, 5, 10].map(m => m * step).find(v => v * unit >= top) ?? top / unit)
    const x = (t: number): number => PAD.left + (W - PAD.left - PAD.right) * Math.min(1, Math.max(0, 1 - (now - t) / span))
    const y = (v: number): number => H - PAD.bottom - (H - PAD.top - PAD.bottom) * (v / top)
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4
      chart.append(svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }))
      const label = svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' })
      label.textContent = rate(v)
      chart.append(label)
    }
    const tick = [10_000, 30_000, 60_000].find(t => span / t <= 6) ?? 60_000
    for (let ago = 0; ago <= span; ago += tick) {
      const label = svg('text', { x: x(now - ago), y: H - 6, 'text-anchor': ago === 0 ? 'end' : 'middle' })
      label.textContent = ago === 0 ? 'now' : ago % 60_000 === 0 ? `-${ago / 60_000} min` : `-${ago / 1000} s`
      chart.append(label)
    }
    if (points.length === 0) return
    // Stacked: the origin at the bottom, peers on top of it; each sample holds its rate since the one before.
    const area = (lower: (p: typeof points[number]) => number, upper: (p: typeof points[number]) => number): string => {
      const upperPath = points.map(p => `${x(p.time).toFixed(1)},${y(upper(p)).toFixed(1)}`)
      const lowerPath = points.slice().reverse().map(p => `${x(p.time).toFixed(1)},${y(lower(p)).toFixed(1)}`)
      return `M${upperPath.join('L')}L${lowerPath.join('L')}Z`
    }
    chart.append(svg('path', { class: 'origin', d: area(() => 0, p => p.origin) }))
    chart.append(svg('path', { class: 'peers', d: area(p => p.origin, p => p.origin + p.peers) }))
    chart.append(svg('polyline', { class: 'upload', points: points.map(p => `${x(p.time).toFixed(1)},${y(p.upload).toFixed(1)}`).join(' ') }))
    const last = points[points.length - 1]!
    $('rate-peers').textContent = rate(last.peers)
    $('rate-origin').textContent = rate(last.origin)
    $('rate-uploaded').textContent = rate(last.upload)
  }

  function jobBar (j: JobActivity): SVGElement {
    const bar = svg('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none' })
    const whole = Math.max(j.bytesTotal, j.bytesFromPeers + j.bytesFromOrigin, 1)
    const wPeers = (100 * j.bytesFromPeers) / whole
    const wOrigin = (100 * j.bytesFromOrigin) / whole
    bar.append(svg('rect', { class: 'rest', x: 0, y: 0, width: 100, height: 10 }))
    bar.append(svg('rect', { class: 'peers', x: 0, y: 0, width: wPeers, height: 10 }))
    bar.append(svg('rect', { class: 'origin', x: wPeers, y: 0, width: wOrigin, height: 10 }))
    return bar
  }

  /** A job's rate over the last minute: origin below, peers above, scaled to the job's own peak. */
  function jobSpark (id: string, now: number): SVGElement {
    const spark = svg('svg', { viewBox: '0 0 120 20', preserveAspectRatio: 'none', class: 'spark' })
    const points = rates(jobSamples.get(id) ?? [])
    if (points.length === 0) return spark
    const peak = Math.max(1, ...points.map(p => p.peers + p.origin))
    const x = (t: number): number => 120 * Math.max(0, 1 - (now - t) / MIN_WINDOW)
    const y = (v: number): number => 20 - 19 * (v / peak)
    const line = (f: (p: typeof points[number]) => number): string => points.map(p => `${x(p.time).toFixed(1)},${y(f(p)).toFixed(1)}`).join('L')
    const back = (f: (p: typeof points[number]) => number): string => points.slice().reverse().map(p => `${x(p.time).toFixed(1)},${y(f(p)).toFixed(1)}`).join('L')
    spark.append(svg('path', { class: 'origin', d: `M${line(p => p.origin)}L${back(() => 0)}Z` }))
    spark.append(svg('path', { class: 'peers', d: `M${line(p => p.origin + p.peers)}L${back(p => p.origin)}Z` }))
    return spark
  }

  function rows (id: string, cells: string[][], classes: string[] = []): void {
    const body = $(id).querySelector('tbody')!
    body.replaceChildren(...cells.map(r => {
      const tr = el('tr')
      r.forEach((c, i) => tr.append(el('td', c, classes[i])))
      return tr
    }))
  }

  function render (s: ActivitySnapshot): void {
    const t = s.totals
    $('node').textContent = `${s.node.peerId ?? 'no peer id'} · mode ${s.node.mode}`
    setFigure('total-peers', t.bytesFromPeers, bytes(t.bytesFromPeers))
    setFigure('total-origin', t.bytesFromOrigin, bytes(t.bytesFromOrigin))
    setFigure('total-uploaded', t.bytesUploaded, bytes(t.bytesUploaded))
    const received = t.bytesFromPeers + t.bytesFromOrigin
    $('peer-share').textContent = received === 0 ? '–' : `${((100 * t.bytesFromPeers) / received).toFixed(1)} %`
    setFigure('peer-count', s.peerCount, String(s.peerCount))
    $('bans').textContent = s.banCount === 0 ? 'none banned' : `${s.banCount} banned now`
    setFigure('cache-bytes', s.cache.bytes, bytes(s.cache.bytes))
    setFigure('cache-items', s.cache.items, `${s.cache.items} item${s.cache.items === 1 ? '' : 's'}, ${bytes(s.cache.bytesServed)} served`)
    setFigure('job-count', s.jobCount, String(s.jobCount))
    $('job-states').textContent = Object.entries(s.jobsByState).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
    setFigure('pieces-rejected', t.piecesRejected, String(t.piecesRejected))
    $('peers-banned').textContent = `${t.peersBanned} peer${t.peersBanned === 1 ? '' : 's'} banned since start`

    const jobs = $('jobs').querySelector('tbody')!
    jobs.replaceChildren(...s.jobs.map(j => {
      const tr = el('tr')
      tr.dataset.jobId = j.jobId
      const name = el('td', j.displayName)
      name.title = j.jobId
      const state = el('span', j.errorCode == null ? j.state : `${j.state} (${j.errorCode})`, 'state')
      state.dataset.state = j.state
      const stateCell = el('td')
      stateCell.append(state)
      const bar = el('td', undefined, 'bar')
      bar.append(jobBar(j))
      const spark = el('td', undefined, 'spark')
      spark.append(jobSpark(j.jobId, s.time))
      const peers = el('td', bytes(j.bytesFromPeers), 'num from-peers')
      peers.dataset.value = String(j.bytesFromPeers)
      const origin = el('td', bytes(j.bytesFromOrigin), 'num from-origin')
      origin.dataset.value = String(j.bytesFromOrigin)
      tr.append(name, stateCell, bar, spark, peers, origin, el('td', bytes(j.bytesUploaded), 'num'))
      return tr
    }))
    $('jobs-more').textContent = s.jobCount > s.jobs.length ? `and ${s.jobCount - s.jobs.length} more` : (s.jobCount === 0 ? 'no jobs' : '')
    rows('peers', s.peers.map(p => [p.peerId, p.source, p.addrs[0] ?? '']), ['mono', '', 'mono'])
    rows('cache', s.cache.list.map(c => [c.url.replace(/[?#].*$/, '').split('/').pop() || c.url, bytes(c.size), bytes(c.bytesServed)]), ['', 'num', 'num'])
  }

  const status = $('status')
  function onSnapshot (e: Event): void {
    const s = JSON.parse((e as MessageEvent<string>).data) as ActivitySnapshot
    samples.push({ time: s.time, bytesFromPeers: s.totals.bytesFromPeers, bytesFromOrigin: s.totals.bytesFromOrigin, bytesUploaded: s.totals.bytesUploaded })
    while (samples.length > 0 && samples[0]!.time < s.time - WINDOW - 10_000) samples.shift()
    const listed = new Set(s.jobs.map(j => j.jobId))
    for (const id of jobSamples.keys()) if (!listed.has(id)) jobSamples.delete(id)
    for (const j of s.jobs) {
      const list = jobSamples.get(j.jobId) ?? []
      list.push({ time: s.time, bytesFromPeers: j.bytesFromPeers, bytesFromOrigin: j.bytesFromOrigin, bytesUploaded: j.bytesUploaded })
      while (list.length > 0 && list[0]!.time < s.time - MIN_WINDOW - 5000) list.shift()
      jobSamples.set(j.jobId, list)
    }
    render(s)
    drawChart(s.time)
    document.body.dataset.updated = String(s.time)
  }
  function connect (): void {
    const source = new EventSource('/events')
    source.onopen = () => { status.dataset.state = 'live'; status.textContent = 'live' }
    source.onerror = () => {
      status.dataset.state = 'lost'
      status.textContent = 'reconnecting…'
      // EventSource retries a dropped stream itself, but not an answer such as 503 (too many pages open).
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000)
    }
    source.addEventListener('history', e => {
      samples = JSON.parse((e as MessageEvent<string>).data) as ActivitySample[]
    })
    source.addEventListener('snapshot', onSnapshot)
  }
  connect()
}

/** The script the page loads from /activity.js. */
export const PAGE_SCRIPT = `'use strict';\n(${activityPage.toString()})();\n`
