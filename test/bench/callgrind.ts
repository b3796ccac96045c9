/**
 * @module Reading callgrind's output for `npm run bench:instructions`: the self cost of every
 * function in a dump, with V8's JIT code (which callgrind can only name by address) named
 * through the map node writes under `--perf-basic-prof`. Written by hand: callgrind_annotate
 * prints the same totals but knows nothing of the perf map, and no npm package reads either.
 */

/** Self instructions per function, keyed by name (JIT code named through the perf map). */
export type FunctionCosts = Map<string, number>;

/** One JIT code object from `/tmp/perf-<pid>.map`: `start size name`, both numbers hex. */
export interface PerfMapEntry {
  start: number;
  end: number;
  name: string;
}

/**
 * Parses a perf map into disjoint entries sorted by start address. A code object moved or
 * freed by the GC leaves its old line behind, and new code is later placed over that range, in
 * whole or in part: a later line wins over every earlier one it overlaps, which keeps only the
 * earlier line's uncovered ends. (Stop 20 kept only exact repeats apart; a large validator
 * compiled at start-up, since freed, then named whatever came to live inside its old range.)
 *
 * @example
 * const entries = parsePerfMap('7f00 20 JS:*handle file.js:3:1\n');
 * lookupPerfMap(entries, 0x7f10); // 'JS:*handle file.js:3:1'
 */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const entries: PerfMapEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (match === null) continue;
    const start = Number.parseInt(match[1]!, 16);
    const end = start + Number.parseInt(match[2]!, 16);
    if (end > start) place(entries, { start, end, name: match[3]! });
  }
  return entries;
}

/** Puts `entry` into the sorted, disjoint `entries`, cutting away what it overlaps. */
function place(entries: PerfMapEntry[], entry: PerfMapEntry): void {
  // The first entry ending after the new one starts.
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (entries[mid]!.end <= entry.start) low = mid + 1;
    else high = mid;
  }
  let last = low;
  while (last < entries.length && entries[last]!.start < entry.end) last++;
  const replacement: PerfMapEntry[] = [];
  const first = entries[low];
  if (first !== undefined && low < last && first.start < entry.start) replacement.push({ ...first, end: entry.start });
  replacement.push(entry);
  const tail = entries[last - 1];
  if (tail !== undefined && low < last && tail.end > entry.end) replacement.push({ ...tail, start: entry.end });
  entries.splice(low, last - low, ...replacement);
}

/** The name of the code object holding `address`, or undefined. */
export function lookupPerfMap(entries: readonly PerfMapEntry[], address: number): string | undefined {
  let low = 0;
  let high = entries.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const entry = entries[mid]!;
    if (address < entry.start) high = mid - 1;
    else if (address >= entry.end) low = mid + 1;
    else return entry.name;
  }
  return undefined;
}

/**
 * Self cost per function of a callgrind dump with one event (Ir). A cost line right after a
 * `calls=` line is the call's inclusive cost and belongs to the callee, so it is not added to
 * the caller. Names are compressed as `(id) name` on first use and `(id)` after. A function
 * known only by address keeps it when it lies in anonymous memory (`ob=???`, JIT code for
 * `nameJitCode`) and is named `library+0x…` otherwise.
 *
 * @example
 * parseCallgrind('events: Ir\nfn=(1) main\n0 5\ncfn=(2) leaf\ncalls=1 0\n0 7\nfn=(2)\n0 7\n');
 * // Map { 'main' => 5, 'leaf' => 7 }
 */
export function parseCallgrind(text: string): FunctionCosts {
  const names = new Map<string, string>();
  const objects = new Map<string, string>();
  const costs: FunctionCosts = new Map();
  let object = '???';
  let current: string | undefined;
  let skipNext = false;
  const resolve = (table: Map<string, string>, spec: string): string => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (match === null) return spec;
    if (match[2] !== undefined) table.set(match[1]!, match[2]);
    return table.get(match[1]!) ?? spec;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('ob=')) {
      object = resolve(objects, line.slice(3));
    } else if (line.startsWith('cob=')) {
      resolve(objects, line.slice(4));
    } else if (line.startsWith('fn=')) {
      const name = resolve(names, line.slice(3));
      // An address in a stripped library is an offset into it; only `???` (anonymous memory) is JIT code.
      current = object !== '???' && /^0x[0-9a-f]+$/i.test(name) ? `${object.slice(object.lastIndexOf('/') + 1)}+${name}` : name;
      skipNext = false;
    } else if (line.startsWith('cfn=')) {
      resolve(names, line.slice(4)); // defines the name for later `fn=(id)` lines
    } else if (line.startsWith('calls=')) {
      skipNext = true;
    } else if (/^([+-]?\d|\*|0x)/.test(line)) {
      if (skipNext) {
        skipNext = false;
        continue;
      }
      if (current === undefined) continue;
      const fields = line.trim().split(/\s+/);
      const cost = Number(fields[fields.length - 1]);
      if (fields.length >= 2 && Number.isFinite(cost)) costs.set(current, (costs.get(current) ?? 0) + cost);
    }
  }
  return costs;
}

/**
 * Renames the functions callgrind knew only by address (`0x…`) after the JIT code holding
 * them, summing those that fall in one code object or one function's tiers; addresses outside
 * the map are grouped as `(unmapped JIT code)`.
 */
export function nameJitCode(costs: FunctionCosts, entries: readonly PerfMapEntry[]): FunctionCosts {
  const out: FunctionCosts = new Map();
  for (const [name, cost] of costs) {
    let key = name;
    // V8's tier marks (`*` TurboFan, `+` Maglev, `^` Sparkplug, `~` bytecode) are dropped: one function, one row.
    if (/^0x[0-9a-f]+$/i.test(name)) key = lookupPerfMap(entries, Number.parseInt(name, 16))?.replace(/^JS:[*+^~]/, 'JS:') ?? '(unmapped JIT code)';
    out.set(key, (out.get(key) ?? 0) + cost);
  }
  return out;
}
